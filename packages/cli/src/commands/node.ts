import { readRuntimeInfo } from '@dibs/node';
import { Command } from 'commander';
import { commandContext } from '../context.ts';
import { applyJoinBundle, keepContracts } from './join.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import {
  logFormatOf,
  type NodeCommandOptions,
  nodeContext,
  parseApiPort,
  runNode,
  withNodeOptions,
} from './up.ts';

/** Contract names a joining node needs; `networkServiceId` is optional (found on chain when absent). */
const CONTRACT_KEYS = ['token', 'registry', 'services', 'accessGrants', 'organizations'] as const;
/** Longest DIBS_CONTRACTS value read (a handful of addresses). */
const MAX_CONTRACTS_ENV_BYTES = 4096;

/** `dibs node start|status`: the p2p node against an existing chain, and what the running node sees. */
export function nodeCommands(): Command {
  const node = new Command('node').description('the DIBS p2p node');
  const start = node
    .command('start')
    .description(
      'join an existing DIBS network: its chain (--rpc-url) and contracts (chain.contracts or DIBS_CONTRACTS), or a join bundle (--join)',
    )
    .option('--no-register', 'do not register the identity on chain')
    .option('--exit-after-start', 'stop again once everything is up (for scripts and tests)')
    .option('--join <bundle>', 'first set this data dir up from the join bundle `dibs up` printed')
    .option('--force', 'with --join: replace a config that names another network');
  withNodeOptions(start)
    .addHelpText(
      'after',
      '\nDIBS_CONTRACTS is a JSON object {"token","registry","services","accessGrants","organizations"[,"networkServiceId"]}\n(the "contracts" object `dibs up --json` prints). A fresh data dir gets an identity first.',
    )
    .action(async (opts: NodeCommandOptions & { join?: string; force?: boolean }, cmd: Command) => {
      let ctx = nodeContext(cmd, opts);
      if (opts.join !== undefined) ctx = applyJoinBundle(ctx, opts.join, opts.force === true, opts);
      if (ctx.config.chain.mode !== 'rpc') {
        throw new CliError(
          'NEEDS_RPC_URL',
          '`dibs node start` joins an existing chain, and none is given',
          'pass --rpc-url URL (or set DIBS_RPC_URL / chain.rpcUrl); `dibs up` runs a chain of its own',
        );
      }
      const contracts = { ...ctx.config.chain.contracts, ...contractsFromEnv(process.env.DIBS_CONTRACTS) };
      const missing = CONTRACT_KEYS.filter((k) => contracts[k] === undefined);
      if (missing.length > 0) {
        throw new CliError(
          'NO_CONTRACTS',
          `the DIBS contract addresses of the network to join are not known (missing ${missing.join(', ')})`,
          'set chain.contracts in the config or DIBS_CONTRACTS to the "contracts" object of `dibs up --json` on a node of that network',
        );
      }
      keepContracts(ctx, contracts);
      await runNode(ctx, {
        register: opts.register,
        p2p: true,
        exitAfterStart: opts.exitAfterStart,
        chain: { ...ctx.config.chain, contracts },
        api: opts.api,
        apiPort: parseApiPort(opts.apiPort, process.env, ctx.paths.config),
        auditRetention: opts.auditRetention,
        logFormat: logFormatOf(opts.logFormat),
      });
    });
  node
    .command('status')
    .description('the running node: PeerId, listen addresses, peers with admission state and RTT')
    .action((_opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const info = readRuntimeInfo(ctx.paths.runtime);
      if (!info) {
        throw new CliError(
          'NOT_RUNNING',
          `no DIBS node runs for ${ctx.paths.root}`,
          'start one with `dibs up` or `dibs node start`',
        );
      }
      const p2p = info.p2p;
      const result = {
        running: true,
        pid: info.pid,
        address: info.address,
        chainId: info.chainId,
        network: p2p ?? null,
      };
      ctx.out.result(result, () => {
        if (!p2p) return `node ${info.address} (pid ${info.pid}) runs without the p2p network`;
        return [
          table([
            ['address', info.address],
            ['PeerId', p2p.peerId],
            ['admitted', p2p.admitted],
            ['roles', p2p.roles],
            ...(p2p.leftNetwork ? ([['left network', p2p.leftNetwork]] as Array<[string, unknown]>) : []),
            ...p2p.multiaddrs.map((a, n) => [n === 0 ? 'listening' : '', a] as [string, unknown]),
            ['updated', p2p.updatedAt],
          ]),
          '',
          p2p.peers.length === 0
            ? 'no peers'
            : table(
                p2p.peers.map(
                  (p) =>
                    [
                      p.peerId,
                      `${p.admitted ? 'admitted' : 'not admitted'}${p.admittedBy ? ', admits us' : ''}${p.rttMs !== undefined ? ` · ${p.rttMs.toFixed(1)} ms` : ''}`,
                    ] as [string, unknown],
                ),
              ),
        ].join('\n');
      });
    });
  return node;
}

/** Parses DIBS_CONTRACTS (a JSON object of addresses, optionally with networkServiceId). */
export function contractsFromEnv(text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  const bad = (why: string) =>
    new CliError(
      'BAD_CONTRACTS_ENV',
      `DIBS_CONTRACTS ${why}`,
      'set it to the "contracts" JSON object `dibs up --json` prints',
    );
  if (text.length > MAX_CONTRACTS_ENV_BYTES) throw bad(`is over ${MAX_CONTRACTS_ENV_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('is not a JSON object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === 'networkServiceId') {
      const id = typeof v === 'number' ? String(v) : v;
      if (typeof id !== 'string' || !/^[1-9][0-9]{0,76}$/.test(id)) throw bad('has a bad networkServiceId');
      out[k] = id;
    } else if ((CONTRACT_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw bad(`has a bad address for ${k}`);
      out[k] = v;
    } else {
      throw bad(`has an unknown key "${k}"`);
    }
  }
  return out;
}
