import { accessGrantsAbi, organizationsAbi, Policy, registryAbi, tokenAbi } from '@dibs/contracts';
import {
  type ChainClients,
  type DecodedEvent,
  type Deployment,
  EventWatcher,
  RegistryReader,
} from '@dibs/chain';
import type { GrantCache } from '@dibs/core';
import type { Store } from '@dibs/store';
import { type Abi, type Address, getAbiItem, type PublicClient } from 'viem';
import type { Logger } from '../daemon/log.ts';
import {
  MIRROR_ERROR_BACKOFF_MS,
  MIRROR_GRANT_PRUNE_GRACE_S,
  MIRROR_MAX_POLICY_CHECKS,
  MIRROR_PRUNE_INTERVAL_MS,
  MIRROR_TOKEN_LOG_RANGE,
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
  (db: Store['db']) => {
    // Policies of services (-1 = not read yet) and the standing of grant holders against them.
    db.exec('ALTER TABLE mirror_services ADD COLUMN policy INTEGER NOT NULL DEFAULT -1');
    db.exec("ALTER TABLE mirror_services ADD COLUMN policy_ref TEXT NOT NULL DEFAULT '0'");
    db.exec(`CREATE TABLE mirror_standing (
      service_id TEXT NOT NULL, account TEXT NOT NULL, meets INTEGER NOT NULL DEFAULT 1,
      dirty INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (service_id, account))`);
    db.exec('CREATE TABLE mirror_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    db.exec('CREATE INDEX mirror_grants_holder ON mirror_grants (grantee, service_id)');
    db.exec('UPDATE mirror_services SET stale = 1');
  },
];

/** The ERC-20 Transfer event: token-holder policies are re-checked for both ends of a transfer. */
const TRANSFER_EVENT = getAbiItem({ abi: tokenAbi, name: 'Transfer' });
/** Cursor of the token Transfer scan in mirror_meta. */
const TOKEN_CURSOR = 'token_cursor';

export interface ChainMirrorOptions {
  store: Store;
  clients: ChainClients;
  deployment: Deployment;
  cache: GrantCache;
  log: Logger;
  pollIntervalMs?: number;
  /** Blocks to stay behind the head (0 on the embedded chain; more on chains that reorganize). */
  confirmations?: number;
  /** How often expired grants are dropped from memory and disk; default MIRROR_PRUNE_INTERVAL_MS. */
  pruneIntervalMs?: number;
  /** Clock in Unix ms (grant expiry for pruning); default Date.now. */
  now?: () => number;
  /**
   * Told which grants, services and accounts the events (and earlier runs' rows) touched. A light node
   * passes a cache of its own as `cache` and treats these as hints, proving each before it admits on it.
   */
  hints?: (touched: { grants?: bigint[]; services?: bigint[]; accounts?: string[] }) => void;
}

/**
 * Keeps the verifier's view of the chain — grants, services, identities' encryption keys, and whether
 * grant holders still meet their services' policies — in the database and in a GrantCache, fed by
 * contract events with exactly-once delivery. Verification then needs no chain round trip; a
 * revocation or a policy change (allowlist, organization membership, a token threshold, a token
 * transfer of a token-holder service's token) reaches the cache within one poll after its block.
 */
export class ChainMirror {
  readonly watcher: EventWatcher;
  readonly #opts: ChainMirrorOptions;
  readonly #reader: RegistryReader;
  #loop: Promise<void> | undefined;
  #abort: AbortController | undefined;
  /** One sync at a time (the loop, a tunnel's catch-up and tests may ask at once). */
  #syncing: Promise<unknown> = Promise.resolve();

  constructor(opts: ChainMirrorOptions) {
    this.#opts = opts;
    opts.store.migrate(MIRROR_STORE_NAMESPACE, MIGRATIONS);
    this.#reader = new RegistryReader(opts.clients, opts.deployment);
    const d = opts.deployment;
    const contracts = [
      { name: 'registry', address: d.registry, abi: registryAbi as Abi },
      { name: 'accessGrants', address: d.accessGrants, abi: accessGrantsAbi as Abi },
      { name: 'organizations', address: d.organizations, abi: organizationsAbi as Abi },
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
    const pruneEvery = this.#opts.pruneIntervalMs ?? MIRROR_PRUNE_INTERVAL_MS;
    let pruneAt = Date.now() + pruneEvery;
    this.#loop = (async () => {
      while (!abort.signal.aborted) {
        let pause = this.#opts.pollIntervalMs ?? MIRROR_POLL_INTERVAL_MS;
        try {
          await this.syncOnce();
          if (Date.now() >= pruneAt) {
            pruneAt = Date.now() + pruneEvery;
            this.pruneExpired();
          }
        } catch (err) {
          pause = MIRROR_ERROR_BACKOFF_MS;
          this.#opts.log.warn('chain mirror poll failed; retrying', { error: err as Error });
        }
        await sleep(pause, abort.signal);
      }
    })();
  }

  /**
   * Processes every block up to the head, refreshes services whose details changed, re-checks the
   * policy standing of holders touched by allowlist, membership or token events, marks the cache synced.
   */
  async syncOnce(): Promise<bigint> {
    const run = this.#syncing.then(async () => {
      const block = await this.watcher.pollOnce();
      await this.#refreshStaleServices();
      await this.#scanTokenTransfers(block);
      await this.#recheckStandings(block);
      this.#opts.cache.markSynced(block);
      return block;
    });
    this.#syncing = run.catch(() => {});
    return run;
  }

  /**
   * Drops grants that expired (with a grace for clock skew) from the database and the cache; the
   * loop runs it every `pruneIntervalMs`. Returns how many rows went.
   */
  pruneExpired(): number {
    const { store, cache } = this.#opts;
    const nowSec = Math.floor((this.#opts.now ?? Date.now)() / 1000) - MIRROR_GRANT_PRUNE_GRACE_S;
    if (nowSec <= 0) return 0;
    const rows = store.db
      .prepare('DELETE FROM mirror_grants WHERE CAST(expires_at AS INTEGER) < ?')
      .run(nowSec);
    store.run(
      `DELETE FROM mirror_standing WHERE NOT EXISTS (SELECT 1 FROM mirror_grants g
        WHERE g.service_id = mirror_standing.service_id AND g.grantee = mirror_standing.account)`,
    );
    const dropped = cache.pruneExpired(BigInt(nowSec));
    if (dropped > 0)
      this.#opts.log.debug('expired grants pruned', { rows: Number(rows.changes), cached: dropped });
    return Number(rows.changes);
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
            // stale = 1: the event carries no policy; it is read after this range.
            `INSERT INTO mirror_services (service_id, service_type, host, active, stale) VALUES (?, ?, ?, 1, 1)
             ON CONFLICT(service_id) DO UPDATE SET service_type = excluded.service_type, host = excluded.host,
             stale = 1`,
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
        case 'TokenThresholdChanged':
          // Every holder of the service is measured against the new threshold.
          this.#markService(String(a.serviceId));
          break;
        case 'AllowlistChanged':
          this.#markHolder('service_id = ?', [String(a.serviceId)], String(a.account));
          break;
        case 'MemberAdded':
        case 'MemberRemoved':
          // Services of this organization, and any whose policy is not read yet.
          this.#markHolder(
            `service_id IN (SELECT service_id FROM mirror_services
               WHERE (policy IN (${Policy.OrgMembers}, ${Policy.OrgNetwork}) AND policy_ref = ?) OR policy = -1)`,
            [String(a.orgId)],
            String(a.account),
          );
          break;
        case 'NodeAdded':
        case 'NodeRemoved':
          // An organization's member nodes meet its network policy (OrgNetwork).
          this.#markHolder(
            `service_id IN (SELECT service_id FROM mirror_services
               WHERE (policy = ${Policy.OrgNetwork} AND policy_ref = ?) OR policy = -1)`,
            [String(a.orgId)],
            String(a.node),
          );
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

  /**
   * Marks the policy standing of `account`'s live grants on the services `where` selects for a
   * re-check after this range (inside the watcher's transaction, so a crash cannot lose it).
   */
  #markHolder(where: string, params: string[], account: string): void {
    this.#opts.store.run(
      `INSERT INTO mirror_standing (service_id, account, meets, dirty)
         SELECT DISTINCT service_id, grantee, 1, 1 FROM mirror_grants
         WHERE grantee = ? AND revoked = 0 AND ${where}
       ON CONFLICT(service_id, account) DO UPDATE SET dirty = 1`,
      account,
      ...params,
    );
  }

  /** Marks the standing of every live grant holder of a service for a re-check after this range. */
  #markService(serviceId: string): void {
    this.#opts.store.run(
      `INSERT INTO mirror_standing (service_id, account, meets, dirty)
         SELECT DISTINCT service_id, grantee, 1, 1 FROM mirror_grants WHERE service_id = ? AND revoked = 0
       ON CONFLICT(service_id, account) DO UPDATE SET dirty = 1`,
      serviceId,
    );
  }

  async #refreshStaleServices(): Promise<void> {
    const { store, cache } = this.#opts;
    const stale = store.db
      .prepare('SELECT service_id, policy, policy_ref FROM mirror_services WHERE stale = 1')
      .all() as Array<{ service_id: string; policy: number; policy_ref: string }>;
    for (const row of stale) {
      const s = await this.#reader.getService(BigInt(row.service_id));
      if (!s) continue;
      const policyChanged = row.policy !== s.policy || row.policy_ref !== s.policyRef.toString();
      store.transaction(() => {
        store.run(
          `UPDATE mirror_services SET service_type = ?, host = ?, active = ?, policy = ?, policy_ref = ?, stale = 0
           WHERE service_id = ?`,
          s.serviceType,
          s.host,
          s.active ? 1 : 0,
          s.policy,
          s.policyRef.toString(),
          row.service_id,
        );
        // A new or changed policy: every holder's standing is checked again (public: all meet it).
        if (policyChanged && s.policy !== Policy.Public) this.#markService(row.service_id);
      });
      if (policyChanged && s.policy === Policy.Public) this.#forgetStandings(row.service_id);
      cache.applyService({ serviceId: s.id, serviceType: s.serviceType, host: s.host, active: s.active });
    }
  }

  /** A public service: every holder meets its policy. */
  #forgetStandings(serviceId: string): void {
    const { store, cache } = this.#opts;
    const rows = store.db
      .prepare('SELECT account FROM mirror_standing WHERE service_id = ? AND meets = 0')
      .all(serviceId) as Array<{ account: string }>;
    store.run('DELETE FROM mirror_standing WHERE service_id = ?', serviceId);
    for (const r of rows) cache.applyPolicyStanding(BigInt(serviceId), r.account, true);
  }

  /**
   * Transfers of the tokens that token-holder services reference, since the last scan up to `block`:
   * both ends' standing is checked again (a holder who sold out loses access, a buyer regains it).
   */
  async #scanTokenTransfers(block: bigint): Promise<void> {
    const { store } = this.#opts;
    const row = store.db.prepare('SELECT value FROM mirror_meta WHERE key = ?').get(TOKEN_CURSOR) as
      | { value: string }
      | undefined;
    let cursor = row ? BigInt(row.value) : this.#opts.deployment.deployedAtBlock - 1n;
    const tokens = (
      store.db
        .prepare(
          `SELECT DISTINCT policy_ref FROM mirror_services WHERE policy = ${Policy.TokenHolders} AND active = 1`,
        )
        .all() as Array<{ policy_ref: string }>
    ).map((r) => `0x${BigInt(r.policy_ref).toString(16).padStart(40, '0')}` as Address);
    const setCursor = (to: bigint) =>
      store.run(
        'INSERT INTO mirror_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
        TOKEN_CURSOR,
        to.toString(),
      );
    if (tokens.length === 0) {
      if (block > cursor) setCursor(block);
      return;
    }
    const client = this.#opts.clients.publicClient as PublicClient;
    while (cursor < block) {
      const to = cursor + MIRROR_TOKEN_LOG_RANGE < block ? cursor + MIRROR_TOKEN_LOG_RANGE : block;
      const logs = await client.getLogs({
        address: tokens,
        event: TRANSFER_EVENT,
        fromBlock: cursor + 1n,
        toBlock: to,
      });
      store.transaction(() => {
        for (const log of logs) {
          const token = BigInt(log.address).toString();
          const where = `service_id IN (SELECT service_id FROM mirror_services WHERE policy = ${Policy.TokenHolders} AND policy_ref = ?)`;
          // Addresses as viem decodes them (checksummed), like the grantees the handler stored.
          if (log.args.from) this.#markHolder(where, [token], log.args.from);
          if (log.args.to) this.#markHolder(where, [token], log.args.to);
        }
        setCursor(to);
      });
      cursor = to;
    }
  }

  /** Reads `meetsPolicy` for marked holders (bounded per sync) and tells the cache. */
  async #recheckStandings(block: bigint): Promise<void> {
    const { store, cache } = this.#opts;
    const rows = store.db
      .prepare(
        `SELECT service_id, account FROM mirror_standing WHERE dirty = 1 LIMIT ${MIRROR_MAX_POLICY_CHECKS}`,
      )
      .all() as Array<{ service_id: string; account: string }>;
    for (const r of rows) {
      const serviceId = BigInt(r.service_id);
      const meets = await this.#reader.meetsPolicy(serviceId, r.account as Address, block);
      store.run(
        'UPDATE mirror_standing SET meets = ?, dirty = 0 WHERE service_id = ? AND account = ?',
        meets ? 1 : 0,
        r.service_id,
        r.account,
      );
      cache.applyPolicyStanding(serviceId, r.account, meets);
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
    for (const r of store.db
      .prepare('SELECT service_id, account FROM mirror_standing WHERE meets = 0')
      .all() as Array<{ service_id: string; account: string }>) {
      cache.applyPolicyStanding(BigInt(r.service_id), r.account, false);
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

  /**
   * The chain went back under the cursor: drop the mirror on disk and in memory alike, and have the
   * watcher deliver every event again from the deployment block (the tables keep no block numbers,
   * so they cannot be rolled back part of the way).
   */
  #forgetAll(): bigint {
    const { store, cache } = this.#opts;
    store.run('DELETE FROM mirror_grants');
    store.run('DELETE FROM mirror_services');
    store.run('DELETE FROM mirror_identities');
    store.run('DELETE FROM mirror_standing');
    store.run('DELETE FROM mirror_meta');
    cache.clear();
    this.#opts.log.warn('the chain went back under the mirror; rebuilding it from events');
    return this.#opts.deployment.deployedAtBlock - 1n;
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
