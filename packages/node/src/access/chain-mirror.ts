import { accessGrantsAbi, registryAbi } from '@dibs/contracts';
import {
  type ChainClients,
  type DecodedEvent,
  type Deployment,
  EventWatcher,
  RegistryReader,
} from '@dibs/chain';
import type { GrantCache } from '@dibs/core';
import type { Store } from '@dibs/store';
import type { Abi, PublicClient } from 'viem';
import type { Logger } from '../daemon/log.ts';
import {
  MIRROR_ERROR_BACKOFF_MS,
  MIRROR_POLL_INTERVAL_MS,
  MIRROR_STORE_NAMESPACE,
  MIRROR_WATCHER_NAME,
} from './constants.ts';

const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE mirror_grants (
      grant_id TEXT PRIMARY KEY, service_id TEXT NOT NULL, grantee TEXT NOT NULL,
      issued_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)`);
    db.exec(`CREATE TABLE mirror_services (
      service_id TEXT PRIMARY KEY, service_type TEXT NOT NULL, host TEXT NOT NULL,
      active INTEGER NOT NULL, stale INTEGER NOT NULL DEFAULT 0)`);
    db.exec('CREATE TABLE mirror_identities (account TEXT PRIMARY KEY, encryption_key TEXT NOT NULL)');
  },
];

export interface ChainMirrorOptions {
  store: Store;
  clients: ChainClients;
  deployment: Deployment;
  cache: GrantCache;
  log: Logger;
  pollIntervalMs?: number;
  /** Blocks to stay behind the head (0 on the embedded chain; more on chains that reorganize). */
  confirmations?: number;
  /**
   * Told which grants, services and accounts the events (and earlier runs' rows) touched. A light node
   * passes a cache of its own as `cache` and treats these as hints, proving each before it admits on it.
   */
  hints?: (touched: { grants?: bigint[]; services?: bigint[]; accounts?: string[] }) => void;
}

/**
 * Keeps the verifier's view of the chain — grants, services, identities' encryption keys — in the
 * database and in a GrantCache, fed by contract events with exactly-once delivery. Verification then
 * needs no chain round trip; a revocation reaches the cache within one poll after its block.
 */
export class ChainMirror {
  readonly watcher: EventWatcher;
  readonly #opts: ChainMirrorOptions;
  readonly #reader: RegistryReader;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;

  constructor(opts: ChainMirrorOptions) {
    this.#opts = opts;
    opts.store.migrate(MIRROR_STORE_NAMESPACE, MIGRATIONS);
    this.#reader = new RegistryReader(opts.clients, opts.deployment);
    const d = opts.deployment;
    const contracts = [
      { name: 'registry', address: d.registry, abi: registryAbi as Abi },
      { name: 'accessGrants', address: d.accessGrants, abi: accessGrantsAbi as Abi },
    ];
    this.watcher = new EventWatcher({
      name: MIRROR_WATCHER_NAME,
      store: opts.store,
      publicClient: opts.clients.publicClient as PublicClient,
      contracts,
      fromBlock: d.deployedAtBlock,
      ...(opts.confirmations !== undefined ? { confirmations: opts.confirmations } : {}),
      handler: (events) => this.#apply(events),
      onRewind: () => this.#forgetAll(),
    });
  }

  /** Loads what earlier runs mirrored, catches up with the chain, then follows it in the background. */
  async start(): Promise<void> {
    this.#load();
    await this.syncOnce();
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = (async () => {
      while (!abort.signal.aborted) {
        let pause = this.#opts.pollIntervalMs ?? MIRROR_POLL_INTERVAL_MS;
        try {
          await this.syncOnce();
        } catch (err) {
          pause = MIRROR_ERROR_BACKOFF_MS;
          this.#opts.log.warn('chain mirror poll failed; retrying', { error: err as Error });
        }
        await sleep(pause, abort.signal);
      }
    })();
  }

  /** Processes every block up to the head, refreshes services whose details changed, marks the cache synced. */
  async syncOnce(): Promise<bigint> {
    const block = await this.watcher.pollOnce();
    await this.#refreshStaleServices();
    this.#opts.cache.markSynced(block);
    return block;
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  #apply(events: DecodedEvent[]): void {
    const { store, cache, hints } = this.#opts;
    for (const e of events) {
      const a = e.args;
      if (hints) {
        if (a.grantId !== undefined) hints({ grants: [a.grantId as bigint] });
        else if (a.serviceId !== undefined) hints({ services: [a.serviceId as bigint] });
        if (a.account !== undefined) hints({ accounts: [String(a.account)] });
      }
      switch (e.eventName) {
        case 'GrantIssued': {
          store.run(
            `INSERT INTO mirror_grants (grant_id, service_id, grantee, issued_at, expires_at, revoked)
             VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT(grant_id) DO UPDATE SET
             service_id = excluded.service_id, grantee = excluded.grantee,
             issued_at = excluded.issued_at, expires_at = excluded.expires_at`,
            String(a.grantId),
            String(a.serviceId),
            String(a.grantee),
            String(a.issuedAt),
            String(a.expiresAt),
          );
          cache.applyGrantIssued({
            grantId: a.grantId as bigint,
            serviceId: a.serviceId as bigint,
            grantee: a.grantee as string,
            issuedAt: a.issuedAt as bigint,
            expiresAt: a.expiresAt as bigint,
          });
          break;
        }
        case 'GrantRevoked':
          store.run('UPDATE mirror_grants SET revoked = 1 WHERE grant_id = ?', String(a.grantId));
          cache.applyGrantRevoked({ grantId: a.grantId as bigint, serviceId: a.serviceId as bigint });
          break;
        case 'ServicePublished':
          store.run(
            `INSERT INTO mirror_services (service_id, service_type, host, active, stale) VALUES (?, ?, ?, 1, 0)
             ON CONFLICT(service_id) DO UPDATE SET service_type = excluded.service_type, host = excluded.host`,
            String(a.serviceId),
            String(a.serviceType),
            String(a.host),
          );
          cache.applyService({
            serviceId: a.serviceId as bigint,
            serviceType: a.serviceType as string,
            host: a.host as string,
            active: true,
          });
          break;
        case 'ServiceUpdated':
          // The event carries no details (the host may have moved): read the service after this range.
          store.run('UPDATE mirror_services SET stale = 1 WHERE service_id = ?', String(a.serviceId));
          break;
        case 'ServiceRetired':
          store.run('UPDATE mirror_services SET active = 0 WHERE service_id = ?', String(a.serviceId));
          cache.applyServiceRetired({ serviceId: a.serviceId as bigint });
          break;
        case 'IdentityRegistered':
        case 'EncryptionKeyUpdated':
          store.run(
            `INSERT INTO mirror_identities (account, encryption_key) VALUES (?, ?)
             ON CONFLICT(account) DO UPDATE SET encryption_key = excluded.encryption_key`,
            String(a.account),
            String(a.encryptionKey),
          );
          cache.applyIdentity({ account: a.account as string, encryptionKey: a.encryptionKey as string });
          break;
        default:
          break;
      }
    }
  }

  async #refreshStaleServices(): Promise<void> {
    const { store, cache } = this.#opts;
    const stale = store.db.prepare('SELECT service_id FROM mirror_services WHERE stale = 1').all() as Array<{
      service_id: string;
    }>;
    for (const row of stale) {
      const s = await this.#reader.getService(BigInt(row.service_id));
      if (!s) continue;
      store.run(
        'UPDATE mirror_services SET service_type = ?, host = ?, active = ?, stale = 0 WHERE service_id = ?',
        s.serviceType,
        s.host,
        s.active ? 1 : 0,
        row.service_id,
      );
      cache.applyService({ serviceId: s.id, serviceType: s.serviceType, host: s.host, active: s.active });
    }
  }

  /** Fills the cache from the mirror tables (state from earlier runs). */
  #load(): void {
    const { store, cache, hints } = this.#opts;
    if (hints) {
      const ids = (sql: string) =>
        (store.db.prepare(sql).all() as Array<{ id: string }>).map((r) => BigInt(r.id));
      hints({
        grants: ids('SELECT grant_id AS id FROM mirror_grants WHERE revoked = 0'),
        services: ids('SELECT service_id AS id FROM mirror_services'),
      });
    }
    for (const r of store.db.prepare('SELECT * FROM mirror_identities').all() as Array<
      Record<string, string>
    >) {
      cache.applyIdentity({ account: r.account!, encryptionKey: r.encryption_key! });
    }
    for (const r of store.db.prepare('SELECT * FROM mirror_services').all() as Array<
      Record<string, string | number>
    >) {
      cache.applyService({
        serviceId: BigInt(r.service_id!),
        serviceType: String(r.service_type),
        host: String(r.host),
        active: r.active === 1,
      });
    }
    for (const r of store.db.prepare('SELECT * FROM mirror_grants').all() as Array<
      Record<string, string | number>
    >) {
      cache.applyGrant({
        grantId: BigInt(r.grant_id!),
        serviceId: BigInt(r.service_id!),
        grantee: String(r.grantee),
        issuedAt: BigInt(r.issued_at!),
        expiresAt: BigInt(r.expires_at!),
        revoked: r.revoked === 1,
      });
    }
  }

  /** The chain went back under the cursor: drop the mirror; the watcher delivers the events again. */
  #forgetAll(): void {
    const { store } = this.#opts;
    store.run('DELETE FROM mirror_grants');
    store.run('DELETE FROM mirror_services');
    store.run('DELETE FROM mirror_identities');
    this.#opts.log.warn('the chain went back under the mirror; rebuilding it from events');
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
