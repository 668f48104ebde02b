import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChainSettings, createLogger, readRuntimeInfo, startDaemon } from '@dibs/node';
import { type LogFormat, type ObserveError, parseLogFormat } from '@dibs/observe';
import { DEFAULT_AUDIT_RETENTION_DAYS } from '@dibs/store';
import { Command } from 'commander';
import { type CommandContext, commandContext, unlockWallet } from '../context.ts';
import { CliError } from '../errors.ts';
import { applyNodeFlags, type NodeFlags, p2pSettings } from '../config.ts';
import { table } from '../output.ts';
import { initialize } from './init.ts';
import { type RunningLoginProvider, startLoginProvider } from './login.ts';

export function upCommand(): Command {
  const cmd = new Command('up')
    .description(
      'run a DIBS node: the embedded chain (or --rpc-url), contracts, identity registration, the p2p network',
    )
    .option('--no-register', 'do not register the identity on chain')
    .option('--no-p2p', 'run only the chain part: no network grant, no libp2p host')
    .option('--exit-after-start', 'stop again once everything is up (for scripts and tests)')
    .option(
      '--light',
      'light node: admit only on chain state proven against checkpoints signed by trusted full nodes (needs node.light.checkpoint and node.light.signers; env DIBS_LIGHT=1)',
    )
    .option(
      '--login [host:port]',
      'also run the "Sign in with DIBS" OpenID Connect provider (default DIBS_LOGIN_LISTEN or 127.0.0.1:7780; as `dibs login serve`)',
    )
    .option(
      '--login-issuer <url>',
      'public issuer URL of that provider behind a TLS proxy (or DIBS_LOGIN_ISSUER)',
    );
  return withNodeOptions(cmd).action(
    async (
      opts: NodeCommandOptions & {
        p2p: boolean;
        light?: boolean;
        login?: string | boolean;
        loginIssuer?: string;
      },
      c: Command,
    ) => {
      const ctx = nodeContext(c, opts);
      if (opts.light) ctx.config.node.light = { ...ctx.config.node.light, enabled: true };
      await runNode(ctx, {
        ...opts,
        apiPort: parseApiPort(opts.apiPort, process.env, ctx.paths.config),
        logFormat: logFormatOf(opts.logFormat),
        login: opts.login
          ? { listen: typeof opts.login === 'string' ? opts.login : undefined, issuer: opts.loginIssuer }
          : undefined,
      });
    },
  );
}

/** Options of every command that runs a node. */
export interface NodeCommandOptions extends NodeFlags {
  register: boolean;
  exitAfterStart?: boolean;
  apiPort?: string;
  api: boolean;
  logFormat?: string;
  auditRetention?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds the node options (roles, addresses, relays, chain host, API port) to a command that runs a node. */
export function withNodeOptions(cmd: Command): Command {
  return cmd
    .option('--roles <roles>', 'node roles: bootstrap,relay,service-host or none (or DIBS_ROLES, node.roles)')
    .option('--listen <multiaddr>', 'listen on this address; repeat for more (node.listen)', collect)
    .option(
      '--announce <multiaddr>',
      'announce this address instead (public IP, port forward); repeatable',
      collect,
    )
    .option(
      '--relay <multiaddr>',
      'hold a reservation on this relay (.../p2p/<id>); repeatable (node.relays)',
      collect,
    )
    .option('--relay-count <n>', 'relay reservations to hold when not reachable directly (default 2)')
    .option(
      '--reachability <mode>',
      'auto | public | private: private keeps relay reservations from the chain (node.reachability)',
    )
    .option('--bootstrap <multiaddr>', "bootstrap node to dial besides the chain's list; repeatable", collect)
    .option(
      '--org <id>',
      "also join this organization's network; repeatable (or DIBS_ORGS=1,2, node.orgs)",
      collect,
    )
    .option('--chain-host <ip>', 'embedded chain: listen on this address, e.g. 0.0.0.0 (or DIBS_CHAIN_HOST)')
    .option('--api-port <port>', 'port of the management API and web UI on 127.0.0.1 (0 = any free port)')
    .option('--no-api', 'do not serve the management API and web UI')
    .option(
      '--audit-retention <days>',
      `days the audit trail keeps its records (default ${DEFAULT_AUDIT_RETENTION_DAYS}; or DIBS_AUDIT_RETENTION_DAYS, audit.retentionDays)`,
    )
    .option(
      '--log-format <format>',
      'log lines on the terminal: pretty (readable) or json (or DIBS_LOG_FORMAT)',
    );
}

/** The command context with the node flags applied over the config. */
export function nodeContext(cmd: Command, flags: NodeFlags): CommandContext {
  const ctx = commandContext(cmd);
  return { ...ctx, config: applyNodeFlags(ctx.config, flags) };
}

/** The terminal log format: `--log-format`, else DIBS_LOG_FORMAT, else pretty. */
export function logFormatOf(flag: string | undefined, env = process.env): LogFormat | undefined {
  try {
    return parseLogFormat(flag ?? (env.DIBS_LOG_FORMAT || undefined));
  } catch (err) {
    const e = err as ObserveError;
    throw new CliError('BAD_LOG_FORMAT', e.message, `${e.hint} for --log-format or DIBS_LOG_FORMAT`);
  }
}

/**
 * The API port: `--api-port`, else DIBS_API_PORT, else `api.port` in the config file; undefined
 * lets the OS pick.
 */
export function parseApiPort(
  flag: string | undefined,
  env = process.env,
  configPath?: string,
): number | undefined {
  const text = flag ?? env.DIBS_API_PORT ?? (configPath ? configApiPort(configPath) : undefined);
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65535) {
    throw new CliError(
      'BAD_API_PORT',
      `API port "${text.slice(0, 20)}" is not a port number`,
      'give 0..65535 to --api-port (0 lets the system choose)',
    );
  }
  return port;
}

/** Longest audit retention accepted, days (ten years). */
export const MAX_AUDIT_RETENTION_DAYS = 3650;

/**
 * Days the audit trail keeps: `--audit-retention`, else DIBS_AUDIT_RETENTION_DAYS, else
 * `audit.retentionDays` in the config file; undefined keeps the default.
 */
export function parseAuditRetention(
  flag: string | undefined,
  env = process.env,
  configPath?: string,
): number | undefined {
  let text = flag ?? env.DIBS_AUDIT_RETENTION_DAYS;
  let where = flag !== undefined ? '--audit-retention' : 'DIBS_AUDIT_RETENTION_DAYS';
  if ((text === undefined || text === '') && configPath) {
    const days = configSection(configPath, 'audit')?.retentionDays;
    if (days === undefined) return undefined;
    if (typeof days !== 'number')
      throw new CliError(
        'CORRUPT_CONFIG',
        `config file ${configPath}: "audit.retentionDays" must be a number`,
        `edit ${configPath}`,
      );
    text = String(days);
    where = `config file ${configPath}: audit.retentionDays`;
  }
  if (text === undefined || text === '') return undefined;
  const days = Number(text);
  if (!/^\d{1,4}(\.\d+)?$/.test(text) || !(days > 0) || days > MAX_AUDIT_RETENTION_DAYS) {
    throw new CliError(
      'BAD_AUDIT_RETENTION',
      `${where}: "${text.slice(0, 20)}" is not a number of days from 1 to ${MAX_AUDIT_RETENTION_DAYS}`,
      'give the days audit records are kept, e.g. --audit-retention 30',
    );
  }
  return days;
}

/** A top-level section of the config file other than chain and node, as parsed JSON. */
function configSection(path: string, name: 'api' | 'audit'): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const section = (raw as Record<string, unknown> | null)?.[name];
  return typeof section === 'object' && section !== null ? (section as Record<string, unknown>) : undefined;
}

/** `api.port` of the config file, as text (the config loader keeps only the chain and node parts). */
function configApiPort(path: string): string | undefined {
  const port = configSection(path, 'api')?.port;
  if (port === undefined) return undefined;
  if (typeof port !== 'number') {
    throw new CliError('CORRUPT_CONFIG', `config file ${path}: "api.port" must be a number`, `edit ${path}`);
  }
  return String(port);
}

/** What {@link runNode} does besides the configured defaults. */
export interface RunNodeOptions {
  register: boolean;
  p2p: boolean;
  exitAfterStart?: boolean | undefined;
  /** Chain settings to use instead of the config's (e.g. with contracts from DIBS_CONTRACTS). */
  chain?: ChainSettings | undefined;
  /** Port of the management API (default: any free port); `api: false` turns it off. */
  apiPort?: number | undefined;
  api?: boolean | undefined;
  /** Terminal log format (default pretty). */
  logFormat?: LogFormat | undefined;
  /** Also run the login provider (a `dibs login serve` in the node's process). */
  login?: { listen?: string | undefined; issuer?: string | undefined } | undefined;
  /** `--audit-retention` as given; the environment and the config file are read when it is absent. */
  auditRetention?: string | undefined;
}

/** Starts the node daemon for `dibs up` and `dibs node start`, prints its info, runs until a stop signal. */
export async function runNode(ctx: CommandContext, opts: RunNodeOptions): Promise<void> {
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
  const retentionDays = parseAuditRetention(opts.auditRetention, process.env, ctx.paths.config);
  const wallet = await unlockWallet(ctx);
  const log = createLogger({
    file: join(ctx.paths.logDir, 'node.log'),
    console: ctx.out.json ? null : process.stderr,
    component: 'node',
    ...(opts.logFormat ? { format: opts.logFormat } : {}),
  });
  const chain = opts.chain ?? ctx.config.chain;
  ctx.out.progress(
    chain.mode === 'embedded' ? 'starting the embedded chain (anvil)…' : `connecting to ${chain.rpcUrl}…`,
  );
  const daemon = await startDaemon({
    dataDir: ctx.paths.root,
    databasePath: ctx.paths.database,
    runtimePath: ctx.paths.runtime,
    chain,
    wallet,
    log,
    registerIdentity: opts.register,
    ...(retentionDays !== undefined ? { audit: { retentionDays } } : {}),
    p2p: opts.p2p ? p2pSettings(ctx.config) : false,
    api:
      opts.api === false
        ? false
        : { port: opts.apiPort ?? parseApiPort(undefined, process.env, ctx.paths.config) },
  });
  let login: RunningLoginProvider | undefined;
  try {
    if (opts.login) login = await startLoginProvider(ctx, wallet, opts.login, '--login');
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const i = withoutTokenUnlessTerminal(daemon.info);
  const net = i.network;
  ctx.out.result({ status: 'running', ...i, ...(login ? { login: login.info } : {}) }, () =>
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
        ...(net
          ? ([
              ['network', `service ${net.networkServiceId} · grant ${net.grantId} · roles ${net.roles}`],
              ...(net.relays.target > 0
                ? ([
                    ['relays', `${net.relays.held.length} of ${net.relays.target} reservations held`],
                  ] as Array<[string, unknown]>)
                : []),
              ['peers', `${net.admitted} admitted`],
              ...net.multiaddrs.map((a, n) => [n === 0 ? 'listening' : '', a] as [string, unknown]),
              ...net.orgs.map(
                (o) =>
                  [
                    `org ${o.orgId}`,
                    `${o.name} · /${o.label} · service ${o.networkServiceId} · ${o.multiaddrs[0] ?? 'not listening'}`,
                  ] as [string, unknown],
              ),
            ] as Array<[string, unknown]>)
          : []),
        ...(i.api
          ? ([
              ['web UI', i.api.uiUrl],
              ['API', `${i.api.url} (token in ${join(i.dataDir, 'api-token')})`],
            ] as Array<[string, unknown]>)
          : []),
        ...(login ? ([['login', login.info.discovery]] as Array<[string, unknown]>) : []),
        ['data', i.dataDir],
      ]),
      ...(i.joinBundle
        ? [
            '',
            'Join this network from another machine with:',
            `  dibs join ${i.joinBundle}`,
            ...(i.chain.embedded && /\/\/(127\.|\[::1\]|localhost)/.test(i.chain.rpcUrl)
              ? [
                  '  (the chain listens on this machine only: start with --chain-host 0.0.0.0 to let others join)',
                ]
              : []),
          ]
        : []),
      opts.exitAfterStart ? '' : 'Press Ctrl-C to stop.',
    ].join('\n'),
  );
  if (opts.exitAfterStart) {
    await login?.stop();
    await daemon.stop();
    log.flush?.();
    return;
  }
  await waitForStopSignal();
  ctx.out.progress('stopping…');
  await login?.stop();
  await daemon.stop();
  log.flush?.();
}

/**
 * The start result as printed: the UI address carries the API token in its fragment only when
 * stdout is a terminal. Redirected output is a log (devnet logs, service managers, CI), and the
 * token stays in its 0600 file, whose path the result names.
 */
function withoutTokenUnlessTerminal<
  T extends { dataDir: string; api?: { url: string; uiUrl: string } | undefined },
>(info: T): T {
  if (!info.api || process.stdout.isTTY) return info;
  return {
    ...info,
    api: { url: info.api.url, uiUrl: `${info.api.url}/`, tokenFile: join(info.dataDir, 'api-token') },
  };
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
