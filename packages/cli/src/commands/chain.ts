import { deploymentContracts } from '@dibs/chain';
import { Command } from 'commander';
import { commandContext, connectChain } from '../context.ts';
import { table } from '../output.ts';

export function chainCommands(): Command {
  const chain = new Command('chain').description('the EVM chain DIBS runs on');
  chain
    .command('status')
    .description('RPC URL, chain id, head block and the DIBS contract addresses')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const access = await connectChain(ctx);
      try {
        const block = await access.clients.publicClient.getBlock();
        const d = access.deployment;
        const result = {
          rpcUrl: access.clients.rpcUrl,
          chainId: access.clients.chainId,
          embedded: access.embedded,
          headBlock: block.number,
          headTime: new Date(Number(block.timestamp) * 1000).toISOString(),
          contracts: deploymentContracts(d),
          networkServiceId: d.networkServiceId,
          deployedAtBlock: d.deployedAtBlock,
        };
        ctx.out.result(result, () =>
          table([
            ['RPC', result.rpcUrl],
            ['chain id', result.chainId],
            ['kind', result.embedded ? 'embedded anvil' : 'external'],
            ['head block', `${result.headBlock} (${result.headTime})`],
            ...Object.entries(result.contracts)
              .filter(([k]) => k !== 'networkServiceId')
              .map(([k, v]) => [k, v] as [string, unknown]),
            ['network service', result.networkServiceId],
          ]),
        );
      } finally {
        access.close();
      }
    });
  return chain;
}
