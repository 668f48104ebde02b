/**
 * The join bundle: everything a node on another machine needs to join a network, in one line.
 * `dibs up` prints it; `dibs join <bundle>` writes it into a fresh data directory's config. It is
 * base64url of a JSON object with a version field, bounded in size and validated field by field on
 * decode; nothing in it is secret (chain id, RPC URLs, contract addresses, network service id,
 * bootstrap multiaddrs).
 */
import { networkInterfaces } from 'node:os';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { DaemonError } from './errors.ts';

/** Wire version of the bundle. */
export const JOIN_BUNDLE_VERSION = 1;
/** Longest bundle accepted, in characters of base64url. */
export const MAX_JOIN_BUNDLE_CHARS = 8192;
/** Most RPC URLs and bootstrap addresses one bundle carries. */
export const MAX_BUNDLE_RPC_URLS = 8;
export const MAX_BUNDLE_BOOTSTRAP = 16;

const Address = Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' });

const JoinBundleSchema = Type.Object(
  {
    v: Type.Literal(JOIN_BUNDLE_VERSION),
    chainId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    rpc: Type.Array(Type.String({ pattern: '^(https?|wss?)://[^\\s]+$', maxLength: 256 }), {
      minItems: 1,
      maxItems: MAX_BUNDLE_RPC_URLS,
    }),
    contracts: Type.Object(
      {
        token: Address,
        registry: Address,
        services: Address,
        accessGrants: Address,
        organizations: Address,
        networkServiceId: Type.String({ pattern: '^[1-9][0-9]{0,76}$' }),
      },
      { additionalProperties: false },
    ),
    bootstrap: Type.Array(Type.String({ pattern: '^/[^\\s]*/p2p/[1-9A-HJ-NP-Za-km-z]+$', maxLength: 256 }), {
      maxItems: MAX_BUNDLE_BOOTSTRAP,
    }),
  },
  { additionalProperties: false },
);

/** What a bundle holds. */
export type JoinBundle = Static<typeof JoinBundleSchema>;

const validator = Compile(JoinBundleSchema);

/** Encodes a bundle (validated first, so only decodable bundles are printed). */
export function encodeJoinBundle(bundle: JoinBundle): string {
  check(bundle);
  const text = Buffer.from(JSON.stringify(bundle), 'utf8').toString('base64url');
  if (text.length > MAX_JOIN_BUNDLE_CHARS) {
    throw new DaemonError(
      'BAD_JOIN_BUNDLE',
      `the join bundle is over ${MAX_JOIN_BUNDLE_CHARS} characters`,
      'list fewer RPC URLs or bootstrap addresses',
    );
  }
  return text;
}

/** Decodes and validates a bundle; every failure is a BAD_JOIN_BUNDLE error that says what is wrong. */
export function decodeJoinBundle(text: string): JoinBundle {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw bad('is empty');
  if (trimmed.length > MAX_JOIN_BUNDLE_CHARS) throw bad(`is over ${MAX_JOIN_BUNDLE_CHARS} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(trimmed)) throw bad('is not base64url text');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(trimmed, 'base64url').toString('utf8'));
  } catch {
    throw bad('does not decode to JSON');
  }
  if (typeof raw === 'object' && raw !== null && 'v' in raw && raw.v !== JOIN_BUNDLE_VERSION) {
    throw bad(`has version ${String(raw.v).slice(0, 16)}; this node reads version ${JOIN_BUNDLE_VERSION}`);
  }
  check(raw);
  return raw;
}

function check(value: unknown): asserts value is JoinBundle {
  if (validator.Check(value)) return;
  const first = [...validator.Errors(value)][0];
  throw bad(`is invalid at ${first?.instancePath || '(top level)'}: ${first?.message ?? 'schema mismatch'}`);
}

function bad(why: string): DaemonError {
  return new DaemonError(
    'BAD_JOIN_BUNDLE',
    `the join bundle ${why}`,
    'copy the whole `dibs join …` line that `dibs up` printed on a node of the network',
  );
}

/**
 * The RPC URLs other machines may use for a chain listening on `host`:`port`: one per interface
 * address when it listens on all of them, else the one address.
 */
export function reachableRpcUrls(host: string, port: number): string[] {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  if (!wildcard) return [`http://${host.includes(':') ? `[${host}]` : host}:${port}`];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || a.family !== 'IPv4') continue;
      out.push(`http://${a.address}:${port}`);
    }
  }
  return out.length > 0 ? out.slice(0, MAX_BUNDLE_RPC_URLS) : [`http://127.0.0.1:${port}`];
}
