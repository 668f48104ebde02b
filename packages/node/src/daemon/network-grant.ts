/**
 * This node's grant on the network service: requested on chain once, kept in the node's database,
 * and requested again only when it nears expiry. A grant revoked on chain is not silently replaced:
 * the operator meant to remove this node. Kept apart from the grants `dibs access` manages, which
 * are the user's.
 */
import type { RegistryWriter } from '@dibs/chain';
import type { GrantCache, TicketGrant } from '@dibs/core';
import type { Store } from '@dibs/store';
import { NETWORK_GRANT_RENEW_BEFORE_MS, NETWORK_GRANT_STORE_NAMESPACE } from './constants.ts';
import { DaemonError } from './errors.ts';
import type { Logger } from './log.ts';

const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE network_grants (
      grant_id TEXT PRIMARY KEY,
      service_id TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      transaction_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL)`);
  },
];

/** Options of {@link networkGrantProvider}. */
export interface NetworkGrantProviderOptions {
  store: Store;
  /** Writes as this node's wallet. */
  registry: Pick<RegistryWriter, 'requestAccess'>;
  networkServiceId: bigint;
  /** The mirror's view, consulted for revocations of our own grant. */
  cache: GrantCache;
  log: Logger;
  /**
   * Request a new grant when the held one has less than this left (or a third of its lifetime, when
   * that is shorter); default NETWORK_GRANT_RENEW_BEFORE_MS.
   */
  renewBeforeMs?: number;
}

interface Row {
  grant_id: string;
  service_id: string;
  expires_at: string;
  created_at: number;
}

/** Part of a grant's lifetime left when it is renewed, for grants shorter than the renewal margin. */
const RENEW_AT_FRACTION_LEFT = 1 / 3;

/** Returns a function yielding our current network grant, requesting or renewing it on chain when needed. */
export function networkGrantProvider(options: NetworkGrantProviderOptions): () => Promise<TicketGrant> {
  const { store, cache, networkServiceId, log } = options;
  const renewBeforeMs = options.renewBeforeMs ?? NETWORK_GRANT_RENEW_BEFORE_MS;
  store.migrate(NETWORK_GRANT_STORE_NAMESPACE, MIGRATIONS);
  let inFlight: Promise<TicketGrant> | undefined;
  const current = async (): Promise<TicketGrant> => {
    const rows = store.db
      .prepare('SELECT * FROM network_grants WHERE service_id = ? ORDER BY created_at DESC')
      .all(String(networkServiceId)) as unknown as Row[];
    const now = Date.now();
    for (const r of rows) {
      const grant = {
        grantId: BigInt(r.grant_id),
        serviceId: networkServiceId,
        expiresAt: BigInt(r.expires_at),
      };
      const msLeft = Number(grant.expiresAt) * 1000 - now;
      // A network whose grants are shorter than the margin would otherwise cost a chain request per ticket.
      const lifetimeMs = Number(grant.expiresAt) * 1000 - r.created_at;
      const renewAt = Math.min(renewBeforeMs, lifetimeMs * RENEW_AT_FRACTION_LEFT);
      if (cache.grant(grant.grantId)?.revoked === true) {
        if (msLeft <= 0) continue;
        throw new DaemonError(
          'NETWORK_GRANT_REVOKED',
          `this node's network grant ${grant.grantId} was revoked on chain`,
          `ask the network operator, then request a new one: dibs access request ${networkServiceId}`,
        );
      }
      if (msLeft > renewAt) return grant;
    }
    log.info('requesting a network grant on chain', { serviceId: networkServiceId.toString() });
    const g = await options.registry.requestAccess(networkServiceId);
    store.run(
      `INSERT INTO network_grants (grant_id, service_id, expires_at, transaction_hash, created_at)
       VALUES (?, ?, ?, ?, ?)`,
      String(g.grantId),
      String(networkServiceId),
      String(g.expiresAt),
      g.transactionHash,
      Date.now(),
    );
    log.info('network grant obtained', {
      grantId: g.grantId.toString(),
      expiresAt: new Date(Number(g.expiresAt) * 1000).toISOString(),
    });
    return { grantId: g.grantId, serviceId: networkServiceId, expiresAt: g.expiresAt };
  };
  // Concurrent admissions share one chain request.
  return () => {
    inFlight ??= current().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
