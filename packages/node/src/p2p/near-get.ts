/**
 * A record query to the nearest peers we already hold a connection to, before a full DHT lookup.
 *
 * kad-dht's `get` sends its first round to the K (20) closest peers of the routing table at once,
 * over up to `disjointPaths` paths, and each of them answers with its copy and 20 closer peers. A
 * node record lookup stops after FIND_RECORD_QUORUM copies, so most of that round is wasted work on
 * both sides (streams, encoding, a signature check per copy). Here the same GET_VALUE request goes
 * to the closest connected peers, NEAR_GET_WIDTH at a time in order of distance, following the
 * closer peers they name when we are connected to those too. No dial, no handshake, no admission:
 * when it cannot gather the copies, the caller runs the full DHT query.
 */
import { createHash } from 'node:crypto';
import type { PeerId } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import { NEAR_GET_MAX_PEERS, NEAR_GET_WIDTH } from './constants.ts';
import type { DibsHost } from './host.ts';

/** A copy of the record one peer returned (already through the DHT's validator). */
export interface NearCopy {
  from: PeerId;
  value: Uint8Array;
}

interface NearEvent {
  name: string;
  from?: PeerId;
  record?: { value: Uint8Array };
  closer?: Array<{ id: PeerId }>;
}

/** The kad-dht 16 internals used here (the same GET_VALUE request and validator its `get` uses). */
interface DhtInternals {
  routingTable?: { closestPeers(kadId: Uint8Array, options?: { count?: number }): PeerId[] };
  peerRouting?: {
    getValueOrPeers(
      peer: PeerId,
      key: Uint8Array,
      options: {
        signal: AbortSignal;
        path: { index: number; queued: number; running: number; total: number };
      },
    ): AsyncIterable<NearEvent>;
  };
  k?: number;
}

const PATH = { index: -1, queued: 0, running: 0, total: 0 };

function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Asks connected peers closest to `key` for its record, nearest first, `width` at a time; yields each
 * copy as it arrives. Ends when no connected candidate is left, after `maxPeers` requests, or when
 * `signal` aborts (the caller stops it once it has enough copies). Yields nothing when the DHT does
 * not expose what this needs (another kad-dht version): the caller's full query still runs.
 */
export async function* nearGet(
  host: DibsHost,
  key: Uint8Array,
  options: { signal: AbortSignal; width?: number; maxPeers?: number },
): AsyncGenerator<NearCopy> {
  const dht = host.dht as KadDHT & DhtInternals;
  if (!dht.routingTable?.closestPeers || !dht.peerRouting?.getValueOrPeers) return;
  const width = options.width ?? NEAR_GET_WIDTH;
  const maxPeers = options.maxPeers ?? NEAR_GET_MAX_PEERS;
  const kadId = createHash('sha256').update(key).digest();
  const distanceOf = (p: PeerId) =>
    xorDistance(createHash('sha256').update(p.toMultihash().bytes).digest(), kadId);
  const connected = (p: PeerId) => !p.equals(host.peerId) && host.libp2p.getConnections(p).length > 0;
  const seen = new Set<string>();
  const candidates: Array<{ peer: PeerId; distance: Uint8Array }> = [];
  const offer = (peer: PeerId, closerThan?: Uint8Array) => {
    const id = peer.toString();
    if (seen.has(id) || !connected(peer)) return;
    const distance = distanceOf(peer);
    if (closerThan && compare(distance, closerThan) >= 0) return;
    seen.add(id);
    candidates.push({ peer, distance });
    candidates.sort((a, b) => compare(a.distance, b.distance));
  };
  for (const p of dht.routingTable.closestPeers(kadId, { count: dht.k ?? 20 })) offer(p);

  const copies: NearCopy[] = [];
  let wake: (() => void) | undefined;
  let running = 0;
  let asked = 0;
  const ask = async (peer: PeerId, distance: Uint8Array) => {
    try {
      for await (const ev of dht.peerRouting!.getValueOrPeers(peer, key, {
        signal: options.signal,
        path: PATH,
      })) {
        if (ev.name !== 'PEER_RESPONSE') continue;
        if (ev.record) copies.push({ from: peer, value: ev.record.value });
        for (const c of ev.closer ?? []) offer(c.id, distance);
      }
    } catch {
      // a peer that fails is one copy fewer; the caller's full query covers for it
    } finally {
      running--;
      wake?.();
    }
  };
  const onAbort = () => wake?.();
  options.signal.addEventListener('abort', onAbort);
  try {
    while (!options.signal.aborted) {
      while (running < width && asked < maxPeers && candidates.length > 0) {
        const next = candidates.shift()!;
        running++;
        asked++;
        void ask(next.peer, next.distance);
      }
      while (copies.length > 0) yield copies.shift()!;
      if (running === 0 && (candidates.length === 0 || asked >= maxPeers)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
}
