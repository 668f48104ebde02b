import type { HeldGrant } from '@dibs/node';
import { AccessClient } from '@dibs/node';
import { Command } from 'commander';
import { type CommandContext, commandContext, connectChain, unlockWallet } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';

function parseId(text: string, what: string): bigint {
  if (!/^\d{1,78}$/.test(text)) {
    throw new CliError('BAD_ARGUMENT', `${what} "${text}" is not a number`, `pass the numeric ${what}`);
  }
  return BigInt(text);
}

function describeGrant(g: HeldGrant): Array<[string, unknown]> {
  const expires = new Date(Number(g.expiresAt) * 1000);
  return [
    ['grant', g.grantId],
    ['service', `${g.serviceId} ${g.serviceName} (${g.serviceType})`],
    ['host', g.host],
    ['expires', `${expires.toISOString()}${expires.getTime() < Date.now() ? ' (expired)' : ''}`],
    ['revoked', g.revoked],
    ['ticket', g.hasTicket ? 'held' : 'built when connecting'],
  ];
}

/** Runs `fn` with an access client acting as the unlocked wallet, then closes the chain connection. */
async function withAccessClient<T>(
  ctx: CommandContext,
  fn: (client: AccessClient) => Promise<T>,
): Promise<T> {
  const wallet = await unlockWallet(ctx);
  const chain = await connectChain(ctx, wallet);
  try {
    return await fn(
      new AccessClient({
        store: chain.store,
        registry: chain.registry,
        wallet,
        chainId: chain.clients.chainId,
      }),
    );
  } finally {
    chain.close();
  }
}

export function accessCommands(): Command {
  const access = new Command('access').description(
    'grants and tickets: request access to a service, list, revoke',
  );
  access
    .command('request')
    .description('request a grant for a service on chain (paying its price) and build its ticket')
    .argument('<service>', 'service id')
    .action(async (serviceText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const serviceId = parseId(serviceText, 'service id');
      await withAccessClient(ctx, async (client) => {
        ctx.out.progress(`requesting access to service ${serviceId}…`);
        const grant = await client.request(serviceId);
        ctx.out.result(grant, () => `access granted\n${table(describeGrant(grant))}`);
      });
    });
  access
    .command('list')
    .description('the grants this node holds')
    .option('--refresh', 'check each grant on chain for revocation first')
    .action(async (opts: { refresh?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const chain = await connectChain(ctx);
      try {
        const client = new AccessClient({
          store: chain.store,
          registry: chain.registry,
          chainId: chain.clients.chainId,
        });
        if (opts.refresh) for (const g of client.list()) await client.refresh(g.grantId);
        const grants = client.list();
        ctx.out.result({ grants }, () =>
          grants.length === 0
            ? 'no grants yet — request one with: dibs access request <service>'
            : grants.map((g) => table(describeGrant(g))).join('\n\n'),
        );
      } finally {
        chain.close();
      }
    });
  access
    .command('revoke')
    .description('revoke a grant on chain (as the service owner, or giving up your own)')
    .argument('<grant>', 'grant id')
    .action(async (grantText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const grantId = parseId(grantText, 'grant id');
      await withAccessClient(ctx, async (client) => {
        ctx.out.progress(`revoking grant ${grantId}…`);
        const { transactionHash } = await client.revoke(grantId);
        ctx.out.result({ grantId, revoked: true, transactionHash }, () =>
          table([
            ['grant', grantId],
            ['revoked', true],
            ['transaction', transactionHash],
          ]),
        );
      });
    });
  return access;
}
