/**
 * The fleet as this node sees it: every node registered on chain with its roles, whether it is online
 * (connected to us now, or its signed DHT record is fresh), its RTT and the services it hosts; and the
 * operator's labels for node addresses, kept in this node's database.
 */
import type { Store } from '@dibs/store';
import { base58btc } from 'multiformats/bases/base58';
import type { Address } from 'viem';
import { findNodeRecord, type NodeRecord as DhtRecord } from '../p2p/records.ts';
import {
  FLEET_CACHE_MS,
  FLEET_LABEL_MAX_CHARS,
  FLEET_MAX_NODES,
  FLEET_MISS_CACHE_MS,
  FLEET_ONLINE_WINDOW_MS,
  FLEET_RECORD_LOOKUP_MS,
} from './api-constants.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import type { NetworkRuntime } from './network.ts';

const LABELS_NAMESPACE = 'fleet-labels';
const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE fleet_labels (
      address TEXT PRIMARY KEY,
      label TEXT NOT NULL,
      updated_at INTEGER NOT NULL)`);
  },
];

/** One node of the fleet. */
export interface FleetNode {
  address: string;
  label: string | null;
  self: boolean;
  peerId: string | null;
  roles: number;
  online: boolean;
  connected: boolean;
  /** Issue time of its freshest DHT record (Unix ms), when one was found. */
  recordAt: number | null;
  rttMs: number | null;
  /** Service ids it hosts: from its DHT record, or the chain's service hosts. */
  services: bigint[];
}

/** Operator labels of node addresses (lowercase keys). */
export class NodeLabels {
  readonly #store: Store;
  constructor(store: Store) {
    this.#store = store;
    store.migrate(LABELS_NAMESPACE, MIGRATIONS);
  }
  all(): Map<string, string> {
    const rows = this.#store.db.prepare('SELECT address, label FROM fleet_labels').all() as Array<{
      address: string;
      label: string;
    }>;
    return new Map(rows.map((r) => [r.address, r.label]));
  }
  /** Sets a label; an empty one removes it. */
  set(address: string, label: string): void {
    const key = address.toLowerCase();
    const text = label.trim().slice(0, FLEET_LABEL_MAX_CHARS);
    if (!text) this.#store.run('DELETE FROM fleet_labels WHERE address = ?', key);
    else
      this.#store.run(
        `INSERT INTO fleet_labels (address, label, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(address) DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at`,
        key,
        text,
        Date.now(),
      );
  }
}

/** Reads the fleet; DHT lookups are cached for FLEET_CACHE_MS (the page polls). */
export function createFleet(deps: {
  chain: ChainRuntime;
  network: NetworkRuntime | undefined;
  self: string;
  labels: NodeLabels;
}) {
  const { chain, network, labels } = deps;
  const me = deps.self.toLowerCase();
  const records = new Map<string, { at: number; record: DhtRecord | null }>();

  const lookup = async (address: string): Promise<DhtRecord | null> => {
    if (!network) return null;
    const hit = records.get(address);
    // A miss is tried again sooner than a hit is refreshed: the record may just be on its way.
    const ttl = hit?.record ? FLEET_CACHE_MS : FLEET_MISS_CACHE_MS;
    if (hit && Date.now() - hit.at < ttl) return hit.record;
    const record = await findNodeRecord(network.host, address, { timeoutMs: FLEET_RECORD_LOOKUP_MS }).catch(
      () => null,
    );
    records.set(address, { at: Date.now(), record });
    return record;
  };

  return {
    async nodes(): Promise<FleetNode[]> {
      const registered = await chain.registry.getRegisteredNodes(
        chain.deployment.deployedAtBlock,
        FLEET_MAX_NODES,
      );
      const names = labels.all();
      const peers = new Map((network?.status().peers ?? []).map((p) => [p.peerId, p]));
      const now = Date.now();
      return Promise.all(
        registered.map(async (n): Promise<FleetNode> => {
          const address = n.address.toLowerCase();
          const self = address === me;
          const peerId = self ? (network?.host.peerId.toString() ?? null) : peerIdText(n.peerId);
          const peer = peerId ? peers.get(peerId) : undefined;
          const connected = peer !== undefined && peer.remoteAddrs.length > 0;
          const record = self ? null : await lookup(address);
          const fresh = record !== null && now - record.issuedAt <= FLEET_ONLINE_WINDOW_MS;
          const services = self ? (network?.services.hostedIds() ?? []) : (record?.services ?? []);
          return {
            address: n.address,
            label: names.get(address) ?? null,
            self,
            peerId,
            roles: n.roles,
            online: self ? network !== undefined : connected || fresh,
            connected,
            recordAt: self ? now : (record?.issuedAt ?? null),
            rttMs: peer?.rttMs ?? null,
            services,
          };
        }),
      );
    },
    setLabel(address: Address, label: string): void {
      labels.set(address, label);
    },
  };
}

export type Fleet = ReturnType<typeof createFleet>;

function peerIdText(bytes: Uint8Array): string | null {
  // Registry PeerIds are the multihash bytes; base58btc without the multibase prefix is the text form.
  return bytes.length === 0 ? null : base58btc.baseEncode(bytes);
}
