import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createWalletClient, http, zeroAddress } from 'viem';
import { anvil } from 'viem/chains';
import {
  accessGrantsAbi,
  ContractsError,
  type DeployedContracts,
  deployContracts,
  organizationsAbi,
  registryAbi,
  tokenAbi,
} from '../src/index.ts';
import { type Anvil, read, startAnvil } from './anvil-fixture.ts';

let chain: Anvil;
let deployed: DeployedContracts;

before(async () => {
  chain = await startAnvil();
  deployed = await deployContracts({
    walletClient: chain.localWallet(0),
    publicClient: chain.publicClient,
    owner: chain.accounts[1]!,
  });
});
after(() => chain?.stop());

test('deployContracts deploys every contract with code and wires Organizations into AccessGrants', async () => {
  for (const name of ['token', 'registry', 'organizations', 'accessGrants'] as const) {
    const code = await chain.publicClient.getCode({ address: deployed[name] });
    assert.ok(code && code.length > 2, `${name} has no code`);
  }
  assert.equal(deployed.services, deployed.accessGrants);
  const orgs = await read<string>(chain, {
    address: deployed.accessGrants,
    abi: accessGrantsAbi,
    functionName: 'organizations',
  });
  assert.equal(orgs.toLowerCase(), deployed.organizations.toLowerCase());
  assert.equal(
    await read<bigint>(chain, {
      address: deployed.organizations,
      abi: organizationsAbi,
      functionName: 'organizationCount',
    }),
    0n,
  );
});

test('the owner parameter owns Token and Registry, not the deployer', async () => {
  const tokenOwner = await read<string>(chain, {
    address: deployed.token,
    abi: tokenAbi,
    functionName: 'owner',
  });
  const registryOwner = await read<string>(chain, {
    address: deployed.registry,
    abi: registryAbi,
    functionName: 'owner',
  });
  assert.equal(tokenOwner, chain.accounts[1]);
  assert.equal(registryOwner, chain.accounts[1]);
  assert.equal(
    await read<string>(chain, { address: deployed.token, abi: tokenAbi, functionName: 'symbol' }),
    'DIBS',
  );
  assert.equal(
    await read<number>(chain, { address: deployed.token, abi: tokenAbi, functionName: 'decimals' }),
    18,
  );
});

test('deployedAtBlock is the block of the first deployment', async () => {
  const latest = await chain.publicClient.getBlockNumber();
  assert.ok(deployed.deployedAtBlock >= 1n && deployed.deployedAtBlock <= latest);
  const before = deployed.deployedAtBlock - 1n;
  const codeBefore = await chain.publicClient.getCode({ address: deployed.token, blockNumber: before });
  assert.equal(codeBefore, undefined);
});

test('a second deployment yields a fresh, independent suite', async () => {
  const again = await deployContracts({
    walletClient: chain.localWallet(2),
    publicClient: chain.publicClient,
  });
  assert.notEqual(again.token, deployed.token);
  assert.ok(again.deployedAtBlock > deployed.deployedAtBlock);
  const owner = await read<string>(chain, {
    address: again.registry,
    abi: registryAbi,
    functionName: 'owner',
  });
  assert.equal(owner, chain.accounts[2]);
});

test('deployContracts without an account fails with NO_ACCOUNT', async () => {
  const walletClient = createWalletClient({ chain: anvil, transport: http(chain.url) });
  await assert.rejects(
    deployContracts({ walletClient, publicClient: chain.publicClient }),
    (err: unknown) => err instanceof ContractsError && err.code === 'NO_ACCOUNT',
  );
  assert.notEqual(deployed.token, zeroAddress);
});
