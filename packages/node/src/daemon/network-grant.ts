/**
 * This node's grant on the network service: requested on chain once, kept in the database by the
 * AccessClient, and requested again only when it nears expiry. A grant revoked on chain is not
 * silently replaced: the operator meant to remove this node.
 */
import type { GrantCache, TicketGrant } from '@dibs/core';
import type { AccessClient, HeldGrant } from '../access/index.ts';
import { NETWORK_GRANT_RENEW_BEFORE_MS } from './constants.ts';
import { DaemonError } from './errors.ts';
import type { Logger } from './log.ts';

/** Options of {@link networkGrantProvider}. */
export interface NetworkGrantProviderOptions {
  access: AccessClient;
  networkServiceId: bigint;
  /** The mirror's view, consulted for revocations of our own grant. */
  cache: GrantCache;
  log: Logger;
  /** Request a new grant when the held one has less than this left; default NETWORK_GRANT_RENEW_BEFORE_MS. */
  renewBeforeMs?: number;
}

/** Returns a function yielding our current network grant, requesting or renewing it on chain when needed. */
export function networkGrantProvider(options: NetworkGrantProviderOptions): () => Promise<TicketGrant> {
  const renewBeforeMs = options.renewBeforeMs ?? NETWORK_GRANT_RENEW_BEFORE_MS;
  let inFlight: Promise<TicketGrant> | undefined;
  const usable = (g: HeldGrant) =>
    g.serviceId === options.networkServiceId &&
    !g.revoked &&
    options.cache.grant(g.grantId)?.revoked !== true &&
    Number(g.expiresAt) * 1000 - Date.now() > renewBeforeMs;
  const current = async (): Promise<TicketGrant> => {
    const held = options.access.list().filter((g) => g.serviceId === options.networkServiceId);
    const good = held.find(usable);
    if (good) return { grantId: good.grantId, serviceId: good.serviceId, expiresAt: good.expiresAt };
    const revoked = held.find((g) => g.revoked || options.cache.grant(g.grantId)?.revoked === true);
    if (revoked && Number(revoked.expiresAt) * 1000 > Date.now()) {
      throw new DaemonError(
        'NETWORK_GRANT_REVOKED',
        `this node's network grant ${revoked.grantId} was revoked on chain`,
        `ask the network operator, then request a new one: dibs access request ${options.networkServiceId}`,
      );
    }
    options.log.info('requesting a network grant on chain', {
      serviceId: options.networkServiceId.toString(),
    });
    const g = await options.access.request(options.networkServiceId);
    options.log.info('network grant obtained', {
      grantId: g.grantId.toString(),
      expiresAt: new Date(Number(g.expiresAt) * 1000).toISOString(),
    });
    return { grantId: g.grantId, serviceId: g.serviceId, expiresAt: g.expiresAt };
  };
  // Concurrent admissions share one chain request.
  return () => {
    inFlight ??= current().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
