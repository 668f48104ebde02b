/**
 * Where a node's host in an organization network listens, published in the public DHT under
 * `/dibs-org/<orgId>/<address>`: the first contact of a node joining that organization's network.
 * The value is a node record (records.ts codec) signed by the node's wallet key under a signature
 * domain of its own (a public node record cannot be replayed as one), so only the node can say where
 * it listens; the addresses alone admit nobody (the organization's admission does that).
 */
import { addressFromPeerId } from '@dibs/core';
import type { DibsHost } from '../p2p/host.ts';
import { P2pError } from '../p2p/errors.ts';
import { DEFAULT_RECORD_TTL_MS, type NodeRecord, signNodeRecord, verifyNodeRecord } from '../p2p/records.ts';
import { ORG_ADDRESS_NAMESPACE } from './constants.ts';

/** Signature domain of organization address records: a node record cannot be replayed as one. */
const SIGNING_DOMAIN = new TextEncoder().encode('dibs/org-address-record/v1\n');

/** The public-DHT key of `address`'s record in organization `orgId`. */
export function orgAddressKey(orgId: bigint, address: string): Uint8Array {
  return new TextEncoder().encode(`/${ORG_ADDRESS_NAMESPACE}/${orgId}/${address.toLowerCase()}`);
}

/** Signs an organization address record with the node's wallet key. */
export function signOrgAddressRecord(host: Pick<DibsHost, 'sign'>, record: NodeRecord): Promise<Uint8Array> {
  return signNodeRecord(host, record, SIGNING_DOMAIN);
}

/** Decodes and validates an organization address record stored under `key`. */
export async function verifyOrgAddressRecord(value: Uint8Array, key: Uint8Array): Promise<NodeRecord> {
  const record = await verifyNodeRecord(value, undefined, Date.now(), SIGNING_DOMAIN);
  const text = new TextDecoder().decode(key);
  const match = /^\/dibs-org\/([0-9]{1,20})\/(0x[0-9a-f]{40})$/.exec(text);
  if (!match || match[2] !== record.address) {
    throw new P2pError(
      'INVALID_RECORD',
      'organization address record stored under a key that is not its address',
    );
  }
  return record;
}

/** DHT validation and selection rules of the `dibs-org` namespace (the public host registers them). */
export const orgAddressRecordRules = {
  async validate(key: Uint8Array, value: Uint8Array): Promise<void> {
    await verifyOrgAddressRecord(value, key);
  },
  async select(key: Uint8Array, values: Uint8Array[]): Promise<number> {
    let best = 0;
    let bestSeq = -1n;
    for (let i = 0; i < values.length; i++) {
      try {
        const r = await verifyOrgAddressRecord(values[i]!, key);
        if (r.seq > bestSeq) {
          best = i;
          bestSeq = r.seq;
        }
      } catch {}
    }
    return best;
  },
};

/** Publishes, through the public host, where `orgHost` listens in organization `orgId`. */
export async function publishOrgAddress(
  publicHost: DibsHost,
  orgId: bigint,
  orgHost: DibsHost,
  roles: number,
): Promise<NodeRecord> {
  const now = Date.now();
  const record: NodeRecord = {
    address: addressFromPeerId(publicHost.peerId).toLowerCase(),
    peerId: publicHost.peerId.toString(),
    multiaddrs: orgHost
      .multiaddrs()
      .map((a) => a.decapsulateCode(421).toString())
      .slice(0, 16),
    roles,
    services: [],
    seq: BigInt(now),
    issuedAt: now,
    expiresAt: now + DEFAULT_RECORD_TTL_MS,
  };
  const value = await signOrgAddressRecord(publicHost, record);
  for await (const _ of publicHost.dht.put(orgAddressKey(orgId, record.address), value, {
    signal: AbortSignal.timeout(30_000),
  })) {
    // drain the query
  }
  return record;
}

/**
 * Looks up where `address`'s host in organization `orgId` listens: the newest valid record any peer
 * holds (a node that restarted listens on a new port, and peers may still hold its old record), or
 * undefined when none is found within `timeoutMs`.
 */
export async function findOrgAddress(
  publicHost: DibsHost,
  orgId: bigint,
  address: string,
  timeoutMs: number,
): Promise<NodeRecord | undefined> {
  const key = orgAddressKey(orgId, address);
  let best: NodeRecord | undefined;
  try {
    // To the end of the query: the first answer may be a stale copy (the query then corrects it).
    for await (const event of publicHost.dht.get(key, { signal: AbortSignal.timeout(timeoutMs) })) {
      const value =
        event.name === 'PEER_RESPONSE'
          ? event.record?.value
          : event.name === 'VALUE'
            ? event.value
            : undefined;
      if (!value) continue;
      try {
        const r = await verifyOrgAddressRecord(value, key);
        if (!best || r.seq > best.seq) best = r;
      } catch {}
    }
  } catch {}
  return best;
}
