import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './fs.ts';
import { checkpointFromJson, checkpointToJson } from '@dibs/light';
import type { P2pSettings } from '@dibs/node';
import { CliError } from './errors.ts';

/** The node's configuration, as stored in `<data dir>/config.json`. */
export interface DibsConfig {
  version: 1;
  chain: {
    /** 'embedded' runs anvil from the data directory; 'rpc' uses `rpcUrl`. */
    mode: 'embedded' | 'rpc';
    rpcUrl?: string;
    /** More RPC URLs of the same chain, tried in order when `rpcUrl` does not answer. */
    rpcUrls?: string[];
    /** Embedded chain: the address it listens on (default 127.0.0.1; 0.0.0.0 = every interface). */
    host?: string;
    /** Embedded chain: a fixed port (default: the port of the last run, kept in the data dir). */
    port?: number;
    chainId: number;
    /**
     * Contract addresses on an external chain (the embedded chain records its own), and the
     * network service id (`networkServiceId`, decimal) as `dibs up --json` prints them.
     */
    contracts?: Record<string, string>;
  };
  node: {
    listen: string[];
    bootstrap: string[];
    /** Role names: bootstrap, relay, service-host. */
    roles?: RoleName[];
    /** Addresses to announce instead of the listen addresses (public address, port forward). */
    announce?: string[];
    /** Relays to hold reservations on (multiaddrs ending in /p2p/<relay id>). */
    relays?: string[];
    /** Relay reservations held at once when not reachable directly (default 2). */
    relayCount?: number;
    /** 'private': keep relay reservations from the chain's relay list; 'auto': only with relays given. */
    reachability?: Reachability;
    /**
     * Longest busy-polling window after a small tunnel read, in µs (0 = off); unset = the built-in
     * default. Lower round-trip latency for interactive traffic at some CPU: see docs/tunnel.md.
     */
    busyPollUs?: number;
    /**
     * How far the chain view may lag: past `refuseAfterBlocks` blocks or `refuseAfterMs` new tickets
     * are refused (CHAIN_STALE), past `closeAfterBlocks` / `closeAfterMs` live sessions are closed.
     * Unset fields keep the defaults (2 blocks / 15 s, 32 blocks / 60 s).
     */
    chainView?: ChainViewSettings;
    /**
     * Light mode: admit only on chain state proven against checkpoints that the trusted full nodes
     * signed. `checkpoint` and `signers` pin where trust starts (a full node's status shows both; a
     * join bundle can carry them).
     */
    light?: LightConfig;
    /** Sign and serve checkpoints (a full node); default: when the node runs the embedded chain. */
    signCheckpoints?: boolean;
    /** Organization networks to join besides the public one, by organization id (decimal strings). */
    orgs?: string[];
  };
}

/** The fail-closed bounds of the chain view (config `node.chainView`). */
export interface ChainViewSettings {
  refuseAfterBlocks?: number;
  refuseAfterMs?: number;
  closeAfterBlocks?: number;
  closeAfterMs?: number;
}

const CHAIN_VIEW_KEYS = ['refuseAfterBlocks', 'refuseAfterMs', 'closeAfterBlocks', 'closeAfterMs'] as const;

/** `node.light` of the config file. */
export interface LightConfig {
  enabled: boolean;
  checkpoint?: { chainId: number; number: string; blockHash: string; stateRoot: string };
  signers?: string[];
  /** Share of the trusted set that must be exceeded (default 0.5: more than half). */
  threshold?: number;
  /** RPC URLs proofs are read from, tried in turn (default: chain.rpcUrl). */
  rpcUrls?: string[];
}

export const DEFAULT_CHAIN_ID = 31337;

/** Node roles by name, as the Registry's bits. */
export const ROLE_BITS = { bootstrap: 1, relay: 2, 'service-host': 4 } as const;
export type RoleName = keyof typeof ROLE_BITS;
export type Reachability = 'auto' | 'public' | 'private';
const REACHABILITY: readonly Reachability[] = ['auto', 'public', 'private'];
/** Most relay reservations a config may ask for. */
export const MAX_RELAY_COUNT = 16;
/** Most entries of a multiaddr list option. */
const MAX_LIST_ENTRIES = 32;

/** Parses `bootstrap,relay` (or `none`) into role names; errors name the bad one. */
export function parseRoles(text: string, where = '--roles'): RoleName[] {
  const names = text
    .split(',')
    .map((r) => r.trim().toLowerCase())
    .filter((r) => r !== '' && r !== 'none');
  for (const n of names) {
    if (!(n in ROLE_BITS)) {
      throw new CliError(
        'BAD_CONFIG',
        `${where}: unknown role "${n.slice(0, 32)}"`,
        'roles are bootstrap, relay, service-host (comma separated), or none',
      );
    }
  }
  return [...new Set(names)] as RoleName[];
}

/** The Registry role bits of role names. */
export function roleBits(names: readonly RoleName[]): number {
  return names.reduce((bits, n) => bits | ROLE_BITS[n], 0);
}

function relayCount(text: string | number, where: string): number {
  const n = typeof text === 'number' ? text : /^\d{1,2}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_RELAY_COUNT) {
    throw new CliError(
      'BAD_CONFIG',
      `${where}: relay count "${String(text).slice(0, 20)}" is not 0 … ${MAX_RELAY_COUNT}`,
      'give a whole number, e.g. 2',
    );
  }
  return n;
}

/** Most organization ids one node is started with (the node's own bound is MAX_ORG_NETWORKS). */
const MAX_ORGS = 32;

/** Validates organization ids (decimal, ≥ 1), without duplicates. */
function orgIds(values: readonly string[], where: string): string[] {
  const out: string[] = [];
  for (const raw of values) {
    const v = raw.trim();
    if (!/^[1-9][0-9]{0,19}$/.test(v)) {
      throw new CliError(
        'BAD_CONFIG',
        `${where}: "${v.slice(0, 24)}" is not an organization id`,
        'give the decimal id `dibs org list` shows',
      );
    }
    if (!out.includes(v)) out.push(v);
  }
  if (out.length > MAX_ORGS) {
    throw new CliError('BAD_CONFIG', `${where}: at most ${MAX_ORGS} organizations`, 'join fewer at once');
  }
  return out;
}

function reachability(text: string, where: string): Reachability {
  if (!(REACHABILITY as readonly string[]).includes(text)) {
    throw new CliError(
      'BAD_CONFIG',
      `${where}: "${text.slice(0, 20)}" is not auto, public or private`,
      'give auto, public or private',
    );
  }
  return text as Reachability;
}

function multiaddrList(list: readonly string[], where: string): string[] {
  if (list.length > MAX_LIST_ENTRIES)
    throw new CliError('BAD_CONFIG', `${where}: more than ${MAX_LIST_ENTRIES} addresses`, 'give fewer');
  for (const a of list) {
    if (!/^\/[^\s]+$/.test(a) || a.length > 512) {
      throw new CliError(
        'BAD_CONFIG',
        `${where}: "${a.slice(0, 60)}" is not a multiaddr`,
        'give addresses like /ip4/203.0.113.7/tcp/4001',
      );
    }
  }
  return [...list];
}

function hostName(text: string, where: string): string {
  if (!/^[0-9A-Za-z.:-]{1,253}$/.test(text)) {
    throw new CliError(
      'BAD_CONFIG',
      `${where}: "${text.slice(0, 40)}" is not a host address`,
      'give an IP address such as 0.0.0.0 or 10.0.0.5',
    );
  }
  return text;
}

/** Node flags of the commands that run a node (`dibs up`, `dibs node start`, `dibs join`). */
export interface NodeFlags {
  roles?: string | undefined;
  listen?: string[] | undefined;
  announce?: string[] | undefined;
  relay?: string[] | undefined;
  relayCount?: string | undefined;
  reachability?: string | undefined;
  bootstrap?: string[] | undefined;
  chainHost?: string | undefined;
  /** `--org <id>`, repeatable. */
  org?: string[] | undefined;
}

/** Applies node flags over the config (flags win over the file and the environment). */
export function applyNodeFlags(config: DibsConfig, flags: NodeFlags): DibsConfig {
  const node = { ...config.node };
  if (flags.roles !== undefined) node.roles = parseRoles(flags.roles);
  if (flags.listen?.length) node.listen = multiaddrList(flags.listen, '--listen');
  if (flags.announce?.length) node.announce = multiaddrList(flags.announce, '--announce');
  if (flags.relay?.length) node.relays = multiaddrList(flags.relay, '--relay');
  if (flags.bootstrap?.length) node.bootstrap = multiaddrList(flags.bootstrap, '--bootstrap');
  if (flags.relayCount !== undefined) node.relayCount = relayCount(flags.relayCount, '--relay-count');
  if (flags.org?.length) node.orgs = orgIds(flags.org, '--org');
  if (flags.reachability !== undefined)
    node.reachability = reachability(flags.reachability, '--reachability');
  const chain = { ...config.chain };
  if (flags.chainHost !== undefined) chain.host = hostName(flags.chainHost, '--chain-host');
  return { ...config, chain, node };
}

export function defaultConfig(): DibsConfig {
  return {
    version: 1,
    chain: { mode: 'embedded', chainId: DEFAULT_CHAIN_ID },
    node: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'], bootstrap: [] },
  };
}

/** Flags and environment that override the file, highest first: flags, then environment. */
export interface ConfigOverrides {
  rpcUrl?: string | undefined;
  chainId?: number | undefined;
  busyPollUs?: string | undefined;
  /** `dibs up --light`. */
  light?: boolean | undefined;
}

/** Longest busy-polling window a config may set, µs (the tunnel's BUSY_POLL_WINDOW_LIMIT_US). */
export const MAX_BUSY_POLL_US = 10_000;

function busyPollUs(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_BUSY_POLL_US ? n : undefined;
}

/** Loads the config file, then applies DIBS_* environment variables and command-line flags. */
export function loadConfig(path: string, overrides: ConfigOverrides = {}, env = process.env): DibsConfig {
  let config = defaultConfig();
  if (existsSync(path)) config = parseConfig(path, readFileSync(path, 'utf8'));
  const rpcUrl = overrides.rpcUrl ?? env.DIBS_RPC_URL;
  if (rpcUrl) config.chain = { ...config.chain, mode: 'rpc', rpcUrl };
  const chainIdText = overrides.chainId ?? env.DIBS_CHAIN_ID;
  if (chainIdText !== undefined) {
    const chainId = Number(chainIdText);
    if (!Number.isSafeInteger(chainId) || chainId <= 0) {
      throw new CliError(
        'BAD_CONFIG',
        `chain id "${chainIdText}" is not a positive integer`,
        'pass --chain-id N',
      );
    }
    config.chain.chainId = chainId;
  }
  if (env.DIBS_ROLES !== undefined) config.node.roles = parseRoles(env.DIBS_ROLES, 'DIBS_ROLES');
  if (env.DIBS_CHAIN_HOST) config.chain.host = hostName(env.DIBS_CHAIN_HOST, 'DIBS_CHAIN_HOST');
  if (env.DIBS_RELAYS) config.node.relays = multiaddrList(env.DIBS_RELAYS.split(','), 'DIBS_RELAYS');
  if (env.DIBS_ORGS) config.node.orgs = orgIds(env.DIBS_ORGS.split(','), 'DIBS_ORGS');
  if (env.DIBS_RELAY_COUNT) config.node.relayCount = relayCount(env.DIBS_RELAY_COUNT, 'DIBS_RELAY_COUNT');
  if (env.DIBS_REACHABILITY)
    config.node.reachability = reachability(env.DIBS_REACHABILITY, 'DIBS_REACHABILITY');
  const pollText = overrides.busyPollUs ?? env.DIBS_BUSY_POLL_US;
  if (pollText !== undefined) {
    const us = busyPollUs(pollText);
    if (us === undefined) {
      throw new CliError(
        'BAD_CONFIG',
        `busy-poll window "${pollText}" is not a whole number of µs from 0 to ${MAX_BUSY_POLL_US}`,
        'pass --busy-poll-us N (0 turns busy polling off)',
      );
    }
    config.node.busyPollUs = us;
  }
  const lightText = env.DIBS_LIGHT;
  const light =
    overrides.light ?? (lightText === undefined ? undefined : /^(1|true|yes|on)$/i.test(lightText.trim()));
  if (light !== undefined) config.node.light = { ...config.node.light, enabled: light };
  return config;
}

function parseLight(v: unknown, bad: (field: string, want: string) => CliError): LightConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('node.light', 'an object');
  const o = v as Record<string, unknown>;
  const light: LightConfig = { enabled: o.enabled === true };
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean')
    throw bad('node.light.enabled', 'true or false');
  if (o.checkpoint !== undefined) {
    try {
      light.checkpoint = checkpointToJson(checkpointFromJson(o.checkpoint));
    } catch (err) {
      throw bad(
        'node.light.checkpoint',
        `{chainId, number, blockHash, stateRoot} (${(err as Error).message})`,
      );
    }
  }
  if (o.signers !== undefined) {
    if (
      !Array.isArray(o.signers) ||
      o.signers.some((a) => typeof a !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(a))
    ) {
      throw bad('node.light.signers', 'a list of addresses');
    }
    light.signers = o.signers as string[];
  }
  if (o.threshold !== undefined) {
    if (typeof o.threshold !== 'number' || !(o.threshold >= 0 && o.threshold < 1))
      throw bad('node.light.threshold', 'a number in [0, 1)');
    light.threshold = o.threshold;
  }
  if (o.rpcUrls !== undefined) {
    if (
      !Array.isArray(o.rpcUrls) ||
      o.rpcUrls.some((u) => typeof u !== 'string' || !/^https?:\/\//.test(u))
    ) {
      throw bad('node.light.rpcUrls', 'a list of http(s):// URLs');
    }
    light.rpcUrls = o.rpcUrls as string[];
  }
  return light;
}

/** Validates a config file's text; errors name the file and the field. */
export function parseConfig(path: string, text: string): DibsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CliError(
      'CORRUPT_CONFIG',
      `config file ${path} is not valid JSON: ${(err as Error).message}`,
      `fix or delete ${path} (dibs init writes a fresh one)`,
    );
  }
  const bad = (field: string, want: string) =>
    new CliError('CORRUPT_CONFIG', `config file ${path}: "${field}" must be ${want}`, `edit ${path}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('(top level)', 'an object');
  const r = raw as Record<string, unknown>;
  const base = defaultConfig();
  if (r.version !== undefined && r.version !== 1) throw bad('version', '1');
  const chain = (r.chain ?? {}) as Record<string, unknown>;
  if (typeof chain !== 'object' || chain === null) throw bad('chain', 'an object');
  const mode = chain.mode ?? base.chain.mode;
  if (mode !== 'embedded' && mode !== 'rpc') throw bad('chain.mode', '"embedded" or "rpc"');
  const chainId = chain.chainId ?? base.chain.chainId;
  if (typeof chainId !== 'number' || !Number.isSafeInteger(chainId) || chainId <= 0) {
    throw bad('chain.chainId', 'a positive integer');
  }
  if (
    chain.rpcUrl !== undefined &&
    (typeof chain.rpcUrl !== 'string' || !/^(https?|wss?):\/\//.test(chain.rpcUrl))
  ) {
    throw bad('chain.rpcUrl', 'an http(s):// or ws(s):// URL');
  }
  if (mode === 'rpc' && chain.rpcUrl === undefined) throw bad('chain.rpcUrl', 'set when chain.mode is "rpc"');
  if (chain.contracts !== undefined) {
    const c = chain.contracts as Record<string, unknown>;
    if (typeof c !== 'object' || c === null) throw bad('chain.contracts', 'an object of addresses');
    for (const [k, v] of Object.entries(c)) {
      if (k === 'networkServiceId') {
        const id = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
        if (typeof id !== 'string' || !/^[1-9][0-9]{0,76}$/.test(id))
          throw bad('chain.contracts.networkServiceId', 'a positive whole number (decimal string)');
        c[k] = id;
        continue;
      }
      if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v))
        throw bad(`chain.contracts.${k}`, 'an address');
    }
  }
  if (chain.rpcUrls !== undefined) {
    const u = chain.rpcUrls;
    if (
      !Array.isArray(u) ||
      u.length > MAX_LIST_ENTRIES ||
      u.some((x) => typeof x !== 'string' || !/^(https?|wss?):\/\//.test(x))
    )
      throw bad('chain.rpcUrls', 'a list of http(s):// or ws(s):// URLs');
  }
  if (
    chain.host !== undefined &&
    (typeof chain.host !== 'string' || !/^[0-9A-Za-z.:-]{1,253}$/.test(chain.host))
  )
    throw bad('chain.host', 'an IP address such as 0.0.0.0');
  if (
    chain.port !== undefined &&
    (typeof chain.port !== 'number' || !Number.isInteger(chain.port) || chain.port < 1 || chain.port > 65535)
  )
    throw bad('chain.port', 'a port number 1 … 65535');
  const node = (r.node ?? {}) as Record<string, unknown>;
  const strings = (v: unknown, field: string, dflt: string[]) => {
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw bad(field, 'a list of multiaddr strings');
    return v as string[];
  };
  const config: DibsConfig = {
    version: 1,
    chain: { mode, chainId },
    node: {
      listen: strings(node.listen, 'node.listen', base.node.listen),
      bootstrap: strings(node.bootstrap, 'node.bootstrap', base.node.bootstrap),
    },
  };
  if (node.roles !== undefined) {
    if (!Array.isArray(node.roles) || node.roles.some((r) => typeof r !== 'string'))
      throw bad('node.roles', 'a list of role names (bootstrap, relay, service-host)');
    config.node.roles = parseRoles((node.roles as string[]).join(','), `config file ${path}: node.roles`);
  }
  for (const field of ['announce', 'relays'] as const) {
    if (node[field] !== undefined) config.node[field] = strings(node[field], `node.${field}`, []);
  }
  if (node.orgs !== undefined) {
    if (!Array.isArray(node.orgs) || node.orgs.some((x) => typeof x !== 'string' && typeof x !== 'number'))
      throw bad('node.orgs', 'a list of organization ids');
    config.node.orgs = orgIds((node.orgs as unknown[]).map(String), `config file ${path}: node.orgs`);
  }
  if (node.relayCount !== undefined) {
    if (typeof node.relayCount !== 'number')
      throw bad('node.relayCount', `a whole number 0 … ${MAX_RELAY_COUNT}`);
    config.node.relayCount = relayCount(node.relayCount, `config file ${path}: node.relayCount`);
  }
  if (node.reachability !== undefined) {
    if (typeof node.reachability !== 'string') throw bad('node.reachability', 'auto, public or private');
    config.node.reachability = reachability(node.reachability, `config file ${path}: node.reachability`);
  }
  if (node.busyPollUs !== undefined) {
    const us = busyPollUs(node.busyPollUs);
    if (us === undefined || typeof node.busyPollUs !== 'number') {
      throw bad('node.busyPollUs', `a whole number of µs from 0 to ${MAX_BUSY_POLL_US}`);
    }
    config.node.busyPollUs = us;
  }
  if (node.chainView !== undefined) {
    const v = node.chainView as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('node.chainView', 'an object');
    const out: ChainViewSettings = {};
    for (const [k, n] of Object.entries(v)) {
      if (!(CHAIN_VIEW_KEYS as readonly string[]).includes(k)) {
        throw bad(`node.chainView.${k}`, `one of ${CHAIN_VIEW_KEYS.join(', ')}`);
      }
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
        throw bad(`node.chainView.${k}`, 'a positive whole number');
      }
      out[k as keyof ChainViewSettings] = n;
    }
    config.node.chainView = out;
  }
  if (node.light !== undefined) config.node.light = parseLight(node.light, bad);
  if (node.signCheckpoints !== undefined) {
    if (typeof node.signCheckpoints !== 'boolean') throw bad('node.signCheckpoints', 'true or false');
    config.node.signCheckpoints = node.signCheckpoints;
  }
  if (typeof chain.rpcUrl === 'string') config.chain.rpcUrl = chain.rpcUrl;
  if (Array.isArray(chain.rpcUrls)) config.chain.rpcUrls = chain.rpcUrls as string[];
  if (typeof chain.host === 'string') config.chain.host = chain.host;
  if (typeof chain.port === 'number') config.chain.port = chain.port;
  if (chain.contracts !== undefined) config.chain.contracts = chain.contracts as Record<string, string>;
  return config;
}

/** The node settings of a config, as `startDaemon` takes them. */
export function p2pSettings(config: DibsConfig): P2pSettings {
  const {
    listen,
    bootstrap,
    busyPollUs,
    roles,
    announce,
    relays,
    relayCount,
    reachability,
    chainView,
    light,
    signCheckpoints,
    orgs,
  } = config.node;
  return {
    listen,
    bootstrap,
    ...(busyPollUs !== undefined ? { busyPollUs } : {}),
    ...(roles !== undefined ? { roles: roleBits(roles) } : {}),
    ...(announce?.length ? { announce } : {}),
    ...(relays?.length ? { relays } : {}),
    ...(relayCount !== undefined ? { relayCount } : {}),
    ...(reachability !== undefined ? { reachability } : {}),
    ...(chainView !== undefined ? { chainView } : {}),
    ...(signCheckpoints !== undefined ? { signCheckpoints } : {}),
    ...(orgs?.length ? { orgs: orgs.map((o) => BigInt(o)) } : {}),
    ...(light
      ? {
          light: {
            enabled: light.enabled,
            checkpoint: light.checkpoint ? checkpointFromJson(light.checkpoint) : undefined,
            signers: light.signers,
            threshold: light.threshold,
            rpcUrls: light.rpcUrls,
          },
        }
      : {}),
  };
}

export function saveConfig(path: string, config: DibsConfig): void {
  writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, 0o644);
}
