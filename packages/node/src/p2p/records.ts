/**
 * Signed node records in the DHT, keyed by the node's Ethereum address: where a node listens, its
 * roles and hosted services. Signed by the node's wallet key (libp2p secp256k1 signature: same key),
 * validated on every put and get.
 */
import { addressFromPeerId } from '@dibs/core';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { Reader, Writer } from './codec.ts';
import { FIND_RECORD_QUORUM, ROLE_MASK } from './constants.ts';
import { P2pError } from './errors.ts';
import type { DibsHost } from './host.ts';
import { nearGet } from './near-get.ts';

/** DHT key namespace of node records: keys are `/dibs-node/<lowercase 0x address>`. */
export const NODE_RECORD_NAMESPACE = 'dibs-node';
/** Wire version of node records. */
export const NODE_RECORD_VERSION = 1;
/** Default lifetime of a record: a node silent for 36 h is dead. */
export const DEFAULT_RECORD_TTL_MS = 36 * 60 * 60 * 1000;
/** Longest lifetime a record may claim. */
export const MAX_RECORD_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Clock skew tolerated on a record's issue time. */
export const RECORD_MAX_SKEW_MS = 10 * 60 * 1000;
/** Bounds of a record's fields. */
export const MAX_RECORD_MULTIADDRS = 16;
export const MAX_MULTIADDR_CHARS = 256;
export const MAX_RECORD_SERVICES = 64;
export const MAX_RECORD_BYTES = 8192;
const MAX_PEER_ID_CHARS = 128;
const MAX_SIGNATURE_BYTES = 128;
const SIGNING_DOMAIN = new TextEncoder().encode('dibs/node-record/v1\n');

/** What a node says about itself. */
export interface NodeRecord {
  /** Lowercase 0x address; must be the address of `peerId`. */
  address: string;
  peerId: string;
  multiaddrs: string[];
  /** Registry roles bitmask (1 bootstrap, 2 relay, 4 service host). */
  roles: number;
  /** Service ids this node hosts. */
  services: bigint[];
  /** Increases with every new record; the highest valid one wins. */
  seq: bigint;
  /** Unix ms. */
  issuedAt: number;
  /** Unix ms. */
  expiresAt: number;
}

/** The DHT key of `address`'s record. */
export function nodeRecordKey(address: string): Uint8Array {
  return new TextEncoder().encode(`/${NODE_RECORD_NAMESPACE}/${normalize(address)}`);
}

function normalize(address: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new P2pError('INVALID_RECORD', `"${address}" is not a 0x-prefixed 20-byte address`);
  }
  return address.toLowerCase();
}

function encodeBody(r: NodeRecord): Uint8Array {
  const w = new Writer()
    .u8(NODE_RECORD_VERSION)
    .text(normalize(r.address), 42)
    .text(r.peerId, MAX_PEER_ID_CHARS)
    .u8(r.roles)
    .u64(r.seq)
    .u64(BigInt(r.issuedAt))
    .u64(BigInt(r.expiresAt))
    .u8(r.multiaddrs.length);
  if (r.multiaddrs.length > MAX_RECORD_MULTIADDRS)
    throw new P2pError('INVALID_RECORD', 'too many multiaddrs');
  for (const a of r.multiaddrs) w.text(a, MAX_MULTIADDR_CHARS);
  if (r.services.length > MAX_RECORD_SERVICES) throw new P2pError('INVALID_RECORD', 'too many services');
  w.u8(r.services.length);
  for (const s of r.services) w.u64(s);
  return w.finish();
}

/**
 * Signs and encodes a record with the host's wallet key. `domain` separates record kinds signed with
 * the same key (an organization address record is not a node record); default the node record's.
 */
export async function signNodeRecord(
  host: Pick<DibsHost, 'sign'>,
  record: NodeRecord,
  domain: Uint8Array = SIGNING_DOMAIN,
): Promise<Uint8Array> {
  const body = encodeBody(record);
  const sig = await host.sign(concat(domain, body));
  return new Writer().bytes(body, MAX_RECORD_BYTES).bytes(sig, MAX_SIGNATURE_BYTES).finish();
}

/**
 * Copies whose decoding and signature already checked out, by the identity of their byte array: the
 * DHT's validator and the lookup that reads the same response check one object, so the second check
 * reuses the first. Only the very same array with the very same content hits (a fresh copy of the
 * bytes is checked again, and so is an array changed since), and the key and time checks run every time.
 */
const signatureChecked = new WeakMap<
  Uint8Array,
  { bytes: Uint8Array; record: NodeRecord; domain: Uint8Array }
>();

function cloneRecord(r: NodeRecord): NodeRecord {
  return { ...r, multiaddrs: [...r.multiaddrs], services: [...r.services] };
}

/** Decodes and fully validates a signed record (signature, key = address of the signer, freshness). */
export async function verifyNodeRecord(
  bytes: Uint8Array,
  key?: Uint8Array,
  now = Date.now(),
  domain: Uint8Array = SIGNING_DOMAIN,
): Promise<NodeRecord> {
  const checked = signatureChecked.get(bytes);
  let record: NodeRecord;
  if (checked?.domain === domain && Buffer.compare(checked.bytes, bytes) === 0) {
    record = cloneRecord(checked.record);
  } else {
    record = await verifySignedRecord(bytes, domain);
    signatureChecked.set(bytes, { bytes: bytes.slice(), record: cloneRecord(record), domain });
  }
  if (key !== undefined && new TextDecoder().decode(key) !== `/${NODE_RECORD_NAMESPACE}/${record.address}`) {
    throw new P2pError('INVALID_RECORD', 'node record stored under a key that is not its address');
  }
  if (record.expiresAt <= now)
    throw new P2pError('INVALID_RECORD', `node record for ${record.address} has expired`);
  if (record.issuedAt > now + RECORD_MAX_SKEW_MS) {
    throw new P2pError('INVALID_RECORD', `node record for ${record.address} is issued in the future`);
  }
  if (record.expiresAt - record.issuedAt > MAX_RECORD_TTL_MS) {
    throw new P2pError(
      'INVALID_RECORD',
      `node record for ${record.address} claims a lifetime over the limit`,
    );
  }
  return record;
}

/** Decodes a record and checks its roles, its signer (the key of its address) and its signature. */
async function verifySignedRecord(bytes: Uint8Array, domain: Uint8Array): Promise<NodeRecord> {
  if (bytes.length > MAX_RECORD_BYTES + MAX_SIGNATURE_BYTES + 4) {
    throw new P2pError('INVALID_RECORD', `node record of ${bytes.length} bytes exceeds the bound`);
  }
  let body: Uint8Array;
  let sig: Uint8Array;
  let record: NodeRecord;
  try {
    const outer = new Reader(bytes);
    body = outer.bytes(MAX_RECORD_BYTES);
    sig = outer.bytes(MAX_SIGNATURE_BYTES);
    outer.end();
    const r = new Reader(body);
    const version = r.u8();
    if (version !== NODE_RECORD_VERSION)
      throw new P2pError('INVALID_RECORD', `unknown node record version ${version}`);
    const address = r.text(42);
    const peerId = r.text(MAX_PEER_ID_CHARS);
    const roles = r.u8();
    const seq = r.u64();
    const issuedAt = Number(r.u64());
    const expiresAt = Number(r.u64());
    const nAddrs = r.u8();
    if (nAddrs > MAX_RECORD_MULTIADDRS) throw new P2pError('INVALID_RECORD', 'too many multiaddrs');
    const multiaddrs: string[] = [];
    for (let i = 0; i < nAddrs; i++) multiaddrs.push(r.text(MAX_MULTIADDR_CHARS));
    const nServices = r.u8();
    if (nServices > MAX_RECORD_SERVICES) throw new P2pError('INVALID_RECORD', 'too many services');
    const services: bigint[] = [];
    for (let i = 0; i < nServices; i++) services.push(r.u64());
    r.end();
    record = { address, peerId, multiaddrs, roles, services, seq, issuedAt, expiresAt };
  } catch (err) {
    if (err instanceof P2pError && err.code === 'INVALID_RECORD') throw err;
    throw new P2pError('INVALID_RECORD', `node record does not decode: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if ((record.roles & ~ROLE_MASK) !== 0)
    throw new P2pError('INVALID_RECORD', `unknown role bits ${record.roles}`);
  let signer: ReturnType<typeof peerIdFromString>;
  try {
    signer = peerIdFromString(record.peerId);
    if (addressFromPeerId(record.peerId).toLowerCase() !== record.address)
      throw new Error('address mismatch');
  } catch (err) {
    throw new P2pError('INVALID_RECORD', `node record's PeerId is not the key of ${record.address}`, {
      cause: err,
    });
  }
  if (!signer.publicKey || !(await signer.publicKey.verify(concat(domain, body), sig))) {
    throw new P2pError('INVALID_RECORD', `node record for ${record.address} has a bad signature`);
  }
  return record;
}

/** DHT validator for the `dibs-node` namespace. */
export async function validateNodeRecord(key: Uint8Array, value: Uint8Array): Promise<void> {
  await verifyNodeRecord(value, key);
}

/** DHT selector: the valid record with the highest seq, then the latest issue time. */
export async function selectNodeRecord(key: Uint8Array, values: Uint8Array[]): Promise<number> {
  let best = -1;
  let bestRecord: NodeRecord | undefined;
  for (let i = 0; i < values.length; i++) {
    let r: NodeRecord;
    try {
      r = await verifyNodeRecord(values[i]!, key);
    } catch {
      continue;
    }
    if (
      !bestRecord ||
      r.seq > bestRecord.seq ||
      (r.seq === bestRecord.seq && r.issuedAt > bestRecord.issuedAt)
    ) {
      best = i;
      bestRecord = r;
    }
  }
  return Math.max(best, 0);
}

/** What a node publishes about itself. */
export interface PublishOptions {
  roles: number;
  services?: bigint[];
  ttlMs?: number;
  /** Addresses to publish; default the host's current multiaddrs (without `/p2p/`). */
  multiaddrs?: string[];
}

/** Publishes this host's signed record under its address; `seq` is the current time so it only grows. */
export async function publishNodeRecord(host: DibsHost, options: PublishOptions): Promise<NodeRecord> {
  const now = Date.now();
  const record: NodeRecord = {
    address: addressFromPeerId(host.peerId).toLowerCase(),
    peerId: host.peerId.toString(),
    multiaddrs: (options.multiaddrs ?? host.multiaddrs().map((a) => a.decapsulateCode(421).toString())).slice(
      0,
      MAX_RECORD_MULTIADDRS,
    ),
    roles: options.roles,
    services: options.services ?? [],
    seq: BigInt(now),
    issuedAt: now,
    expiresAt: now + (options.ttlMs ?? DEFAULT_RECORD_TTL_MS),
  };
  const value = await signNodeRecord(host, record);
  for await (const _ of host.dht.put(nodeRecordKey(record.address), value, {
    signal: AbortSignal.timeout(30_000),
  })) {
    // drain the query
  }
  return record;
}

/** Options of {@link findNodeRecord}. */
export interface FindOptions {
  /** Give up after this long; default 15 s. */
  timeoutMs?: number;
  /** Stop once this many peers returned a valid copy; default FIND_RECORD_QUORUM. */
  quorum?: number;
}

/**
 * Looks a node up by address from any node; throws RECORD_NOT_FOUND when no valid record exists. It
 * first asks the closest peers it is already connected to (near-get.ts), then, if they did not give
 * `quorum` copies, runs the full DHT query; either way it stops as soon as `quorum` distinct peers
 * returned valid copies (each is signed by the node itself, so one is authentic; more guard against a
 * stale copy) and returns the one with the highest seq.
 */
export async function findNodeRecord(
  host: DibsHost,
  address: string,
  options: FindOptions | number = {},
): Promise<NodeRecord> {
  const { timeoutMs = 15_000, quorum = FIND_RECORD_QUORUM } =
    typeof options === 'number' ? { timeoutMs: options } : options;
  const key = nodeRecordKey(address);
  let best: NodeRecord | undefined;
  const from = new Set<string>();
  let copies = 0;
  const consider = async (value: Uint8Array, peer?: PeerId) => {
    try {
      const r = await verifyNodeRecord(value, key);
      if (peer === undefined || !from.has(peer.toString())) copies++;
      if (peer !== undefined) from.add(peer.toString());
      if (!best || r.seq > best.seq) best = r;
    } catch {}
  };
  const deadline = AbortSignal.timeout(timeoutMs);
  const near = new AbortController();
  try {
    for await (const copy of nearGet(host, key, { signal: AbortSignal.any([near.signal, deadline]) })) {
      await consider(copy.value, copy.from);
      if (copies >= quorum) break;
    }
  } finally {
    near.abort();
  }
  if (copies >= quorum && best) return best;
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, deadline]);
  try {
    for await (const event of host.dht.get(key, { signal })) {
      // Responses carry the record as they come; VALUE only arrives after the whole query drained.
      if (event.name === 'PEER_RESPONSE' && event.record) await consider(event.record.value, event.from);
      else if (event.name === 'VALUE') await consider(event.value, event.from);
      if (copies >= quorum) {
        stop.abort();
        break;
      }
    }
  } catch (err) {
    if (!best) {
      throw new P2pError('RECORD_NOT_FOUND', `no node record for ${address}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  if (!best)
    throw new P2pError('RECORD_NOT_FOUND', `no node record for ${address} in the DHT; is the node online?`);
  return best;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
