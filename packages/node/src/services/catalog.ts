/**
 * The hosted-services catalog in the node's store: for each service this node hosts, the private
 * target and vpn allow rules that never go on chain. Several processes share the data dir (the CLI
 * publishes while the daemon runs), so readers query the table each time instead of caching it.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '@dibs/store';
import type { DestinationRule, HostedService } from '../tunnel/destination.ts';
import { CATALOG_NAMESPACE } from './constants.ts';
import type { ServiceType } from './types.ts';

const MIGRATIONS = [
  (db: Store['db']) => {
    // service_id is NULL while the publish transaction is on its way to the chain.
    db.exec(`CREATE TABLE hosted_services (
      local_id TEXT PRIMARY KEY,
      service_id TEXT UNIQUE,
      name TEXT NOT NULL,
      type TEXT NOT NULL,
      target TEXT,
      allow_json TEXT,
      created_at INTEGER NOT NULL,
      retired INTEGER NOT NULL DEFAULT 0)`);
  },
  (db: Store['db']) => {
    // vpn services: site subnets routed to clients (L3) and the clients' address pool.
    db.exec('ALTER TABLE hosted_services ADD COLUMN subnets_json TEXT');
    db.exec('ALTER TABLE hosted_services ADD COLUMN pool TEXT');
  },
];

/** One catalog row. */
export interface CatalogEntry {
  localId: string;
  serviceId: bigint | undefined;
  name: string;
  type: ServiceType;
  /** `host:port` for tcp/http. */
  target: { host: string; port: number } | undefined;
  allow: DestinationRule[] | undefined;
  /** vpn: site subnets clients route here. */
  subnets: string[] | undefined;
  /** vpn: the clients' address pool (undefined = the default for the service id). */
  pool: string | undefined;
  createdAt: number;
  retired: boolean;
}

interface Row {
  local_id: string;
  service_id: string | null;
  name: string;
  type: string;
  target: string | null;
  allow_json: string | null;
  subnets_json: string | null;
  pool: string | null;
  created_at: number;
  retired: number;
}

function fromRow(r: Row): CatalogEntry {
  return {
    localId: r.local_id,
    serviceId: r.service_id === null ? undefined : BigInt(r.service_id),
    name: r.name,
    type: r.type as ServiceType,
    target: r.target === null ? undefined : (JSON.parse(r.target) as { host: string; port: number }),
    allow: r.allow_json === null ? undefined : (JSON.parse(r.allow_json) as DestinationRule[]),
    subnets: r.subnets_json === null ? undefined : (JSON.parse(r.subnets_json) as string[]),
    pool: r.pool ?? undefined,
    createdAt: r.created_at,
    retired: r.retired === 1,
  };
}

/** The services this node hosts, with their private parts. */
export class ServiceCatalog {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    store.migrate(CATALOG_NAMESPACE, MIGRATIONS);
  }

  /** Records a service about to be published; returns its local id. */
  addPending(entry: {
    name: string;
    type: ServiceType;
    target?: { host: string; port: number } | undefined;
    allow?: DestinationRule[] | undefined;
    subnets?: string[] | undefined;
    pool?: string | undefined;
  }): string {
    const localId = randomUUID();
    this.#store.run(
      'INSERT INTO hosted_services (local_id, name, type, target, allow_json, subnets_json, pool, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      localId,
      entry.name,
      entry.type,
      entry.target ? JSON.stringify(entry.target) : null,
      entry.allow ? JSON.stringify(entry.allow) : null,
      entry.subnets ? JSON.stringify(entry.subnets) : null,
      entry.pool ?? null,
      Date.now(),
    );
    return localId;
  }

  /** Binds a pending row to the id the chain gave it. */
  confirm(localId: string, serviceId: bigint): void {
    this.#store.run(
      'UPDATE hosted_services SET service_id = ? WHERE local_id = ?',
      String(serviceId),
      localId,
    );
  }

  /** Drops a pending row whose publish failed. */
  discard(localId: string): void {
    this.#store.run('DELETE FROM hosted_services WHERE local_id = ? AND service_id IS NULL', localId);
  }

  /** Marks a service retired (kept for history; never served again). */
  markRetired(serviceId: bigint): void {
    this.#store.run('UPDATE hosted_services SET retired = 1 WHERE service_id = ?', String(serviceId));
  }

  /** The entry of a published service, retired or not. */
  get(serviceId: bigint): CatalogEntry | undefined {
    const row = this.#store.db
      .prepare('SELECT * FROM hosted_services WHERE service_id = ?')
      .get(String(serviceId)) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Every published entry, newest first. */
  list(): CatalogEntry[] {
    const rows = this.#store.db
      .prepare('SELECT * FROM hosted_services WHERE service_id IS NOT NULL ORDER BY created_at DESC')
      .all() as unknown as Row[];
    return rows.map(fromRow);
  }

  /** Ids of the services served now (published, not retired), ascending. */
  activeIds(): bigint[] {
    return this.list()
      .filter((e) => !e.retired && e.serviceId !== undefined)
      .map((e) => e.serviceId as bigint)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** What the tunnel server serves for `serviceId`: read fresh on every tunnel open. */
  lookup(serviceId: bigint): HostedService | undefined {
    const e = this.get(serviceId);
    if (!e || e.retired) return undefined;
    return {
      serviceId,
      serviceType: e.type,
      ...(e.target ? { target: e.target } : {}),
      ...(e.allow ? { allow: e.allow } : {}),
      ...(e.subnets ? { subnets: e.subnets } : {}),
      ...(e.pool ? { pool: e.pool } : {}),
    };
  }
}
