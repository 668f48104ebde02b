import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, readRuntimeInfo, startDaemon } from '@dibs/node';
import { Command } from 'commander';
import { commandContext, unlockWallet } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import { initialize } from './init.ts';

export function upCommand(): Command {
  return new Command('up')
    .description('run a DIBS node: the embedded chain (or --rpc-url), contracts, identity registration')
    .option('--no-register', 'do not register the identity on chain')
    .option('--exit-after-start', 'stop again once everything is up (for scripts and tests)')
    .action(async (opts: { register: boolean; exitAfterStart?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const running = readRuntimeInfo(ctx.paths.runtime);
      if (running) {
        throw new CliError(
          'ALREADY_RUNNING',
          `a DIBS node (pid ${running.pid}) already runs for ${ctx.paths.root}`,
          'stop it first (Ctrl-C in its terminal, or kill that pid), or use another --data-dir',
        );
      }
      if (!existsSync(ctx.paths.keystore)) {
        ctx.out.progress(`no identity in ${ctx.paths.root} yet: creating one`);
        await initialize(ctx);
      }
      const wallet = await unlockWallet(ctx);
      const log = createLogger({
        file: join(ctx.paths.logDir, 'node.log'),
        console: ctx.out.json ? null : process.stderr,
        component: 'node',
      });
      ctx.out.progress(
        ctx.config.chain.mode === 'embedded'
          ? 'starting the embedded chain (anvil)…'
          : `connecting to ${ctx.config.chain.rpcUrl}…`,
      );
      const daemon = await startDaemon({
        dataDir: ctx.paths.root,
        databasePath: ctx.paths.database,
        runtimePath: ctx.paths.runtime,
        chain: ctx.config.chain,
        wallet,
        log,
        registerIdentity: opts.register,
      });
      const i = daemon.info;
      ctx.out.result({ status: 'running', ...i }, () =>
        [
          'DIBS node is up',
          table([
            ['address', i.address],
            ['DID', i.did],
            ['PeerId', i.peerId],
            ['chain', `${i.chain.embedded ? 'embedded anvil' : 'external'} · chain id ${i.chain.chainId}`],
            ['RPC', i.chain.rpcUrl],
            ...(i.chain.anvilPid ? ([['anvil pid', i.chain.anvilPid]] as Array<[string, unknown]>) : []),
            ['contracts', `${i.chain.deployment} (block ${i.chain.deployedAtBlock})`],
            ...Object.entries(i.chain.contracts).map(([k, v]) => [`  ${k}`, v] as [string, unknown]),
            ['identity', `${i.identity.registered ? 'registered' : 'not registered'} (${i.identity.action})`],
            ['data', i.dataDir],
          ]),
          opts.exitAfterStart ? '' : 'Press Ctrl-C to stop.',
        ].join('\n'),
      );
      if (opts.exitAfterStart) {
        await daemon.stop();
        return;
      }
      await waitForStopSignal();
      ctx.out.progress('stopping…');
      await daemon.stop();
    });
}

/** Resolves on the first SIGINT or SIGTERM. */
function waitForStopSignal(): Promise<void> {
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
