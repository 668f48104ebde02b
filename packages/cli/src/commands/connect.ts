import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadDeployment } from '@dibs/chain';
import {
  type ChainSettings,
  createLogger,
  type RunningServices,
  readRuntimeInfo,
  resolveService,
  ServiceCatalog,
  type ServiceDirectory,
  type ServiceView,
  startDaemon,
} from '@dibs/node';
import { openStore } from '@dibs/store';
import { Command } from 'commander';
import type { ConnectListener } from '@dibs/api-types';
import { type ApiClient, runningApi } from '../api-client.ts';
import {
  type CommandContext,
  commandContext,
  connectChain,
  readIdentityFile,
  unlockWallet,
} from '../context.ts';
import { p2pSettings } from '../config.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import { initialize } from './init.ts';
import { contractsFromEnv } from './node.ts';

/** How often foreground commands print their byte counters and check the node is still there. */
const PROGRESS_INTERVAL_MS = 5_000;
/** Contract names a node joining an external chain needs (as `dibs node start`). */
const CONTRACT_KEYS = ['token', 'registry', 'services', 'accessGrants', 'organizations'] as const;
/** The only host the running node's API opens listeners on. */
const API_LISTEN_HOST = '127.0.0.1';

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

/** `host:port` of a local listener; the host defaults to 127.0.0.1, port 0 picks a free one. */
export function parseLocalListen(text: string, option: string): { host: string; port: number } {
  const t = /^\d+$/.test(text) ? `:${text}` : text;
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(t) ?? /^([A-Za-z0-9.-]*):(\d{1,5})$/.exec(t);
  const port = Number(m?.[2]);
  if (!m || port > 65535) {
    throw new CliError(
      'BAD_LISTEN',
      `${option} "${text.slice(0, 80)}" is not host:port`,
      `give e.g. ${option} 127.0.0.1:8080 (port 0 picks a free one)`,
    );
  }
  return { host: m[1] || API_LISTEN_HOST, port };
}

/**
 * The service `ref` (an id, a name, or `<name>.dibs`) as the chain knows it, read with this data
 * dir's chain settings and deployment: the way `dibs service show` resolves it.
 */
export async function resolveServiceRef(ctx: CommandContext, ref: string): Promise<ServiceView> {
  const chain = await connectChain(ctx);
  try {
    const self = readIdentityFile(ctx).address as `0x${string}`;
    return await resolveService(
      { registry: chain.registry, catalog: new ServiceCatalog(chain.store), self },
      ref,
    );
  } finally {
    chain.close();
  }
}

/**
 * Chain settings for a node this command starts itself: on an external chain the contracts come
 * from the config, DIBS_CONTRACTS or an earlier run's database, never from a fresh deployment.
 */
function localChainSettings(ctx: CommandContext): ChainSettings {
  const chain = ctx.config.chain;
  if (chain.mode !== 'rpc') return chain;
  const contracts = { ...chain.contracts, ...contractsFromEnv(process.env.DIBS_CONTRACTS) };
  const missing = CONTRACT_KEYS.filter((k) => contracts[k] === undefined);
  if (missing.length > 0 && !hasRecordedDeployment(ctx.paths.database, chain.chainId)) {
    throw new CliError(
      'NO_CONTRACTS',
      `the DIBS contract addresses on ${chain.rpcUrl} are not known (missing ${missing.join(', ')})`,
      'set DIBS_CONTRACTS (or chain.contracts in the config) to the "contracts" object of `dibs up --json` on a node of that network',
    );
  }
  return { ...chain, contracts };
}

function hasRecordedDeployment(databasePath: string, chainId: number): boolean {
  if (!existsSync(databasePath)) return false;
  const store = openStore(databasePath);
  try {
    return loadDeployment(store, chainId) !== undefined;
  } finally {
    store.close();
  }
}

/**
 * The error of a command that needs the running node of a data dir where none runs: says so, and
 * how to start one (a devnet node's data dir gets the devnet's command).
 */
export function noRunningNode(ctx: CommandContext, command: string): CliError {
  const devnet = existsSync(join(dirname(ctx.paths.root), 'devnet.json'));
  const start = devnet
    ? `start the devnet with \`dibs devnet up\``
    : `start it with \`dibs${ctx.globals.dataDir ? ` --data-dir ${ctx.globals.dataDir}` : ''} up\` (or \`npm start\`) in another terminal`;
  return new CliError(
    'NOT_RUNNING',
    `no DIBS node is running for ${ctx.paths.root}`,
    `${start}, then run \`${command}\` again; or pass --start-node to run a node inside this command`,
  );
}

/**
 * Runs `fn` on a node started in this process for the data dir (none may run there yet; a fresh
 * data dir gets an identity first), then keeps it running until Ctrl-C and stops it.
 */
export async function withLocalNode(
  ctx: CommandContext,
  fn: (services: RunningServices, dir: ServiceDirectory) => Promise<() => void>,
): Promise<void> {
  if (readRuntimeInfo(ctx.paths.runtime)) {
    throw new CliError(
      'NODE_WITHOUT_API',
      `a DIBS node already runs for ${ctx.paths.root}, but it announces no management API`,
      'stop it and run this command alone (it starts the node itself), or restart the node so it serves its API',
    );
  }
  const chain = localChainSettings(ctx);
  if (!existsSync(ctx.paths.keystore)) {
    ctx.out.progress(`no identity in ${ctx.paths.root} yet: creating one`);
    await initialize(ctx);
  }
  const wallet = await unlockWallet(ctx);
  const log = createLogger({ file: join(ctx.paths.logDir, 'node.log'), console: null, component: 'node' });
  ctx.out.progress('starting the node…');
  const daemon = await startDaemon({
    dataDir: ctx.paths.root,
    databasePath: ctx.paths.database,
    runtimePath: ctx.paths.runtime,
    chain,
    wallet,
    log,
    p2p: p2pSettings(ctx.config),
  });
  // From here on Ctrl-C stops the node cleanly, also while `fn` still sets up.
  const stop = untilStopSignal();
  try {
    const services = daemon.network?.services;
    if (!services)
      throw new CliError('NO_NETWORK', 'the node started without its p2p network', 'check the log');
    const dir: ServiceDirectory = {
      registry: daemon.chain.registry,
      catalog: services.catalog,
      self: wallet.address as `0x${string}`,
    };
    const progress = await fn(services, dir);
    const timer = ctx.out.json ? undefined : setInterval(progress, PROGRESS_INTERVAL_MS);
    await stop;
    clearInterval(timer);
    ctx.out.progress('stopping…');
  } finally {
    await daemon.stop();
  }
}

/** A connect listener of the running node, as GET /api/v1/sessions lists it. */
export type ConnectListenerOut = ConnectListener;

/** The sessions and connect listeners of the running node. */
export async function sessionsOf(api: ApiClient) {
  return api.call(api.client.GET('/api/v1/sessions'));
}

/** One progress line of a connect listener: tunnels open now, bytes since it opened. */
export function listenerLine(v: {
  open: number;
  bytesIn: number;
  bytesOut: number;
  lastError?: string | null;
}) {
  return `${v.open} open · ${v.bytesOut} B out · ${v.bytesIn} B in${v.lastError ? ` · last error: ${v.lastError}` : ''}`;
}

/**
 * The progress line of what this command holds in the running node: its connect listener's
 * counters, or (a proxy) the outbound tunnels open now summed up.
 */
async function heldSummary(api: ApiClient, what: { connectionId?: string }): Promise<string> {
  const { sessions, connections } = await sessionsOf(api);
  const listener = connections?.find((c) => c.id === what.connectionId);
  if (listener) return listenerLine(listener);
  const mine = sessions.filter((s) => s.direction === 'outbound');
  const inB = mine.reduce((a, s) => a + s.bytesIn, 0);
  const outB = mine.reduce((a, s) => a + s.bytesOut, 0);
  return `${mine.length} open · ${outB} B out · ${inB} B in`;
}

/**
 * Keeps a listener the running node opened for this command until `stopSignal` (Ctrl-C), then
 * closes it there.
 * Ends with NODE_STOPPED when the node goes away meanwhile (its listeners went with it).
 */
export async function holdUntilStopped(
  ctx: CommandContext,
  api: ApiClient,
  what: { close: () => Promise<unknown>; connectionId?: string },
  stopSignal: Promise<void>,
): Promise<void> {
  const stop = stopSignal.then(() => 'signal' as const);
  let lost: unknown;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<'tick'>((resolve) => {
      timer = setTimeout(() => resolve('tick'), PROGRESS_INTERVAL_MS);
    });
    const next = await Promise.race([stop, tick]);
    clearTimeout(timer);
    if (next === 'signal') break;
    try {
      const line = await heldSummary(api, what);
      ctx.out.progress(line);
    } catch (err) {
      lost = err;
      break;
    }
  }
  if (lost !== undefined) {
    throw new CliError(
      'NODE_STOPPED',
      `the node serving this listener stopped answering: ${(lost as Error).message}`,
      'start the node again (`dibs up` or `dibs node start`) and rerun this command',
    );
  }
  ctx.out.progress('closing…');
  try {
    await what.close();
  } catch (err) {
    // Already gone (closed from the UI, or the node restarted): nothing left to close.
    const code = (err as { code?: string }).code;
    if (code !== 'UNKNOWN_CONNECTION' && code !== 'UNKNOWN_PROXY' && code !== 'API_UNREACHABLE') throw err;
  }
}

/** What `dibs connect --json` prints. */
export interface ConnectResult {
  id: string;
  serviceId: string;
  serviceName: string;
  localAddress: string;
  /** `node`: the running node holds the listener; `process`: a node started by this command. */
  servedBy: 'node' | 'process';
}

/** The options of `dibs connect`. */
interface ConnectOptions {
  listen: string;
  detach?: boolean;
  startNode?: boolean;
}

/** `dibs connect <service>`: a local port forwarded to a service through DIBS. */
export function connectCommand(): Command {
  return new Command('connect')
    .description('forward a local port to a service through DIBS (requests access first when needed)')
    .argument('<service>', 'service id or name')
    .option('--listen <addr>', 'local address to listen on (port 0 picks a free one)', '127.0.0.1:0')
    .option('--detach', 'leave the listener in the running node and return at once')
    .option('--start-node', 'when no node runs for the data dir, run one inside this command until Ctrl-C')
    .addHelpText(
      'after',
      '\nThe listener lives in the node running for the data dir (until Ctrl-C, or for good with --detach);\nwith --start-node and no node running, this command runs a node of its own and stops it on Ctrl-C.',
    )
    .action(async (ref: string, opts: ConnectOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      const listen = parseLocalListen(opts.listen, '--listen');
      const print = (r: ConnectResult, stopHint: string) =>
        ctx.out.result(r, () =>
          table([
            ['service', `${r.serviceId} ${r.serviceName}`],
            ['listening', r.localAddress],
            ['', stopHint],
          ]),
        );
      const api = runningApi(ctx.paths.runtime);
      if (api) {
        if (listen.host !== API_LISTEN_HOST && listen.host !== 'localhost') {
          throw new CliError(
            'BAD_LISTEN',
            `the running node opens listeners on ${API_LISTEN_HOST} only, not ${listen.host}`,
            `use --listen ${API_LISTEN_HOST}:${listen.port}`,
          );
        }
        const service = await resolveServiceRef(ctx, ref);
        // Registered before the listener exists, so a Ctrl-C at any point still closes it.
        const stop = opts.detach ? undefined : untilStopSignal();
        const c = await api.call(
          api.client.POST('/api/v1/connections', {
            body: { serviceId: service.id.toString(), localPort: listen.port },
          }),
        );
        const path = `/api/v1/connections/${c.id}`;
        print(
          {
            id: c.id,
            serviceId: c.serviceId,
            serviceName: service.name,
            localAddress: c.localAddress,
            servedBy: 'node',
          },
          opts.detach
            ? `held by the running node (${api.url}); close it with DELETE ${path}`
            : 'held by the running node · Press Ctrl-C to close it.',
        );
        const close = () =>
          api.call(api.client.DELETE('/api/v1/connections/{id}', { params: { path: { id: c.id } } }));
        if (stop) await holdUntilStopped(ctx, api, { close, connectionId: c.id }, stop);
        return;
      }
      if (opts.detach) {
        throw new CliError(
          'NOT_RUNNING',
          `--detach needs a running node for ${ctx.paths.root}`,
          'start one with `dibs up` or `dibs node start`, or drop --detach',
        );
      }
      if (!opts.startNode && !readRuntimeInfo(ctx.paths.runtime))
        throw noRunningNode(ctx, `dibs connect ${ref}`);
      await withLocalNode(ctx, async (services, dir) => {
        const service = await resolveService(dir, ref);
        const c = await services.connect({
          serviceId: service.id,
          listen: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`,
        });
        print(
          {
            id: c.id,
            serviceId: c.serviceId.toString(),
            serviceName: c.serviceName,
            localAddress: c.localAddress,
            servedBy: 'process',
          },
          'Press Ctrl-C to stop.',
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
