import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type RunningServices, readRuntimeInfo, startDaemon } from '@dibs/node';
import { Command } from 'commander';
import { runningApi } from '../api-client.ts';
import { type CommandContext, commandContext, unlockWallet } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';

/** How often foreground commands print their byte counters. */
const PROGRESS_INTERVAL_MS = 5_000;

/** Resolves on the first SIGINT or SIGTERM. */
export function untilStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * Runs `fn` on a node started in this process for the data dir (when none runs there), then keeps
 * it running until Ctrl-C and stops it.
 */
export async function withLocalNode(
  ctx: CommandContext,
  fn: (services: RunningServices) => Promise<() => void>,
): Promise<void> {
  if (readRuntimeInfo(ctx.paths.runtime)) {
    throw new CliError(
      'NODE_WITHOUT_API',
      `a DIBS node already runs for ${ctx.paths.root}, but it announces no management API`,
      'stop it and run this command alone (it starts the node itself), or restart the node so it serves its API',
    );
  }
  if (!existsSync(ctx.paths.keystore)) {
    throw new CliError(
      'NOT_INITIALIZED',
      `no DIBS identity in ${ctx.paths.root}`,
      'create one with `dibs init`',
    );
  }
  const wallet = await unlockWallet(ctx);
  const log = createLogger({ file: join(ctx.paths.logDir, 'node.log'), console: null, component: 'node' });
  ctx.out.progress('starting the node…');
  const daemon = await startDaemon({
    dataDir: ctx.paths.root,
    databasePath: ctx.paths.database,
    runtimePath: ctx.paths.runtime,
    chain: ctx.config.chain,
    wallet,
    log,
    p2p: { listen: ctx.config.node.listen, bootstrap: ctx.config.node.bootstrap },
  });
  try {
    const services = daemon.network?.services;
    if (!services)
      throw new CliError('NO_NETWORK', 'the node started without its p2p network', 'check the log');
    const progress = await fn(services);
    const timer = ctx.out.json ? undefined : setInterval(progress, PROGRESS_INTERVAL_MS);
    await untilStopSignal();
    clearInterval(timer);
    ctx.out.progress('stopping…');
  } finally {
    await daemon.stop();
  }
}

/** `dibs connect <service>`: a local port forwarded to a service through DIBS. */
export function connectCommand(): Command {
  return new Command('connect')
    .description('forward a local port to a service through DIBS (requests access first when needed)')
    .argument('<service>', 'service id')
    .option('--listen <addr>', 'local address to listen on', '127.0.0.1:0')
    .action(async (ref: string, opts: { listen: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (!/^[1-9]\d{0,20}$/.test(ref)) {
        throw new CliError(
          'BAD_ARGUMENT',
          `service "${ref}" is not an id`,
          'see `dibs service list` for ids',
        );
      }
      const api = runningApi(ctx.paths.runtime);
      if (api) {
        const port = Number(opts.listen.split(':').at(-1));
        const c = await api.post<{ id: string; localAddress: string }>('/api/v1/connections', {
          serviceId: ref,
          localPort: port,
        });
        ctx.out.result(c, () =>
          table([
            ['connection', c.id],
            ['listening', c.localAddress],
            ['served by', `the running node (${api.url}); stop with DELETE /api/v1/connections/${c.id}`],
          ]),
        );
        return;
      }
      await withLocalNode(ctx, async (services) => {
        const c = await services.connect({ serviceId: BigInt(ref), listen: opts.listen });
        ctx.out.result(c, () =>
          table([
            ['service', `${c.serviceId} ${c.serviceName}`],
            ['listening', c.localAddress],
            ['', 'Press Ctrl-C to stop.'],
          ]),
        );
        return () => {
          const v = services.connections().find((x) => x.id === c.id);
          if (v) {
            ctx.out.progress(
              `${v.tunnels} open · ${v.bytesOut} B out · ${v.bytesIn} B in${v.lastError ? ` · last error: ${v.lastError}` : ''}`,
            );
          }
        };
      });
    });
}
