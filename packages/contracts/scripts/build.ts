console.log('contracts: build placeholder until Solidity sources land');
