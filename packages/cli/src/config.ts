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
    chainId: number;
    /** Contract addresses on an external chain (the embedded chain records its own). */
    contracts?: Record<string, string>;
  };
  node: {
    listen: string[];
    bootstrap: string[];
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
      if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v))
        throw bad(`chain.contracts.${k}`, 'an address');
    }
  }
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
  if (chain.contracts !== undefined) config.chain.contracts = chain.contracts as Record<string, string>;
  return config;
}

/** The node settings of a config, as `startDaemon` takes them. */
export function p2pSettings(config: DibsConfig): P2pSettings {
  const { listen, bootstrap, busyPollUs, chainView, light, signCheckpoints } = config.node;
  return {
    listen,
    bootstrap,
    ...(busyPollUs !== undefined ? { busyPollUs } : {}),
    ...(chainView !== undefined ? { chainView } : {}),
    ...(signCheckpoints !== undefined ? { signCheckpoints } : {}),
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
