/**
 * Live sessions admitted by a ticket. When the grant cache learns of a revocation or retirement, or a
 * session's expiry passes, the registered close callback fires so the network layer can drop the
 * connection. How soon after the chain event this happens is bounded by how often the watcher feeds
 * the cache (GrantCache.revocationMaxBlocks) plus the sweep interval for expiries.
 */
import { DEFAULT_SESSION_SWEEP_MS } from './constants.ts';
import { type Address, normalizeAddress } from './codec.ts';
import { TicketError } from './errors.ts';
import type { GrantCache, GrantCacheEvent } from './grant-cache.ts';
import type { VerifiedSession } from './verifier.ts';

/** Called once when a session must end, with the reason as a TicketError. */
export type SessionCloseCallback = (reason: TicketError) => void;

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  cache: GrantCache;
  /** Clock in Unix ms; default Date.now. */
  now?: () => number;
  /** This node's address; when set, service sessions close if the service moves to another host. */
  nodeAddress?: string;
  /** Receives exceptions thrown by close callbacks; default rethrows them asynchronously. */
  onCallbackError?: (error: unknown) => void;
}

interface Entry {
  session: VerifiedSession;
  onClose: SessionCloseCallback;
}

function addIndex(index: Map<bigint, Set<number>>, key: bigint, id: number): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(id);
}

function removeIndex(index: Map<bigint, Set<number>>, key: bigint, id: number): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}

/** Tracks live sessions by grant and service and closes them when they stop being valid. */
export class SessionRegistry {
  readonly cache: GrantCache;
  readonly nodeAddress: Address | undefined;
  #now: () => number;
  #onCallbackError: (error: unknown) => void;
  #sessions = new Map<number, Entry>();
  #byGrant = new Map<bigint, Set<number>>();
  #byService = new Map<bigint, Set<number>>();
  #nextId = 1;
  #unsubscribe: () => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Set by a `cleared` cache until the next `synced`: grants missing then are gone from the chain. */
  #rebuilding = false;

  constructor(options: SessionRegistryOptions) {
    this.cache = options.cache;
    this.#now = options.now ?? Date.now;
    this.nodeAddress = options.nodeAddress ? normalizeAddress(options.nodeAddress) : undefined;
    this.#onCallbackError =
      options.onCallbackError ??
      ((error) =>
        queueMicrotask(() => {
          throw error;
        }));
    this.#unsubscribe = this.cache.subscribe((event) => this.#onCacheEvent(event));
  }

  /** Live sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Tracks `session`; `onClose` fires at most once when it must end. Returns a function that
   * forgets the session without calling `onClose` (the connection ended on its own).
   */
  register(session: VerifiedSession, onClose: SessionCloseCallback): () => void {
    const id = this.#nextId++;
    this.#sessions.set(id, { session, onClose });
    addIndex(this.#byGrant, session.grantId, id);
    addIndex(this.#byService, session.serviceId, id);
    const reason = this.#invalidReason(session, this.#now());
    if (reason) this.#close(id, reason);
    return () => this.#forget(id);
  }

  /** Closes every session whose grant, service or expiry no longer allows it; returns how many closed. */
  sweep(): number {
    const now = this.#now();
    let closed = 0;
    if (this.#sessions.size > 0 && this.cache.chainView?.status().state === 'closing') {
      const why = this.cache.chainView.status().reason;
      for (const id of [...this.#sessions.keys()]) {
        const reason = new TicketError(
          'CHAIN_STALE',
          `this node's view of the chain is stale past the bound for live sessions (${why})`,
        );
        if (this.#close(id, reason)) closed++;
      }
      return closed;
    }
    for (const [id, entry] of [...this.#sessions]) {
      const reason = this.#invalidReason(entry.session, now);
      if (reason && this.#close(id, reason)) closed++;
    }
    return closed;
  }

  /** Sweeps every `intervalMs` (timer does not keep the process alive). */
  start(intervalMs: number = DEFAULT_SESSION_SWEEP_MS): void {
    this.stop();
    const timer = setInterval(() => this.sweep(), intervalMs);
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  /** Stops the sweep timer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops sweeping and stops listening to the cache; live sessions are left as they are. */
  dispose(): void {
    this.stop();
    this.#unsubscribe();
  }

  #onCacheEvent(event: GrantCacheEvent): void {
    switch (event.type) {
      case 'grantRevoked':
        for (const id of [...(this.#byGrant.get(event.grantId) ?? [])]) {
          this.#close(id, new TicketError('REVOKED', `grant ${event.grantId} was revoked on chain`));
        }
        break;
      case 'serviceRetired':
        for (const id of [...(this.#byService.get(event.serviceId) ?? [])]) {
          this.#close(
            id,
            new TicketError('SERVICE_INACTIVE', `service ${event.serviceId} was retired on chain`),
          );
        }
        break;
      case 'grantChanged':
        this.#revalidate(this.#byGrant.get(event.grantId));
        break;
      case 'serviceChanged':
        this.#revalidate(this.#byService.get(event.serviceId));
        break;
      case 'policyChanged':
        if (!event.meets) this.#revalidate(this.#byService.get(event.serviceId));
        break;
      case 'cleared':
        // The chain went back: the mirror rebuilds; sessions whose grant does not come back close then.
        this.#rebuilding = true;
        break;
      case 'synced': {
        const rebuilt = this.#rebuilding;
        this.#rebuilding = false;
        this.sweep();
        if (rebuilt) {
          for (const [id, entry] of [...this.#sessions]) {
            if (this.cache.grant(entry.session.grantId)) continue;
            this.#close(
              id,
              new TicketError(
                'UNKNOWN_GRANT',
                `grant ${entry.session.grantId} is no longer on chain (the chain went back)`,
              ),
            );
          }
        }
        break;
      }
      case 'identityChanged':
        // Sessions are bound to the wallet key (PeerId), not the encryption key: nothing to close.
        break;
    }
  }

  #revalidate(ids: Set<number> | undefined): void {
    if (!ids) return;
    const now = this.#now();
    for (const id of [...ids]) {
      const entry = this.#sessions.get(id);
      const reason = entry && this.#invalidReason(entry.session, now);
      if (reason) this.#close(id, reason);
    }
  }

  #invalidReason(session: VerifiedSession, now: number): TicketError | undefined {
    const grant = this.cache.grant(session.grantId);
    if (grant?.revoked) return new TicketError('REVOKED', `grant ${session.grantId} was revoked on chain`);
    const service = this.cache.service(session.serviceId);
    if (service && !service.active) {
      return new TicketError('SERVICE_INACTIVE', `service ${session.serviceId} was retired on chain`);
    }
    if (grant && !this.cache.meetsPolicy(session.serviceId, grant.grantee)) {
      return new TicketError(
        'POLICY_UNMET',
        `${grant.grantee} no longer meets the access policy of service ${session.serviceId}`,
      );
    }
    if (grant && grant.grantee !== session.clientAddress) {
      return new TicketError(
        'NOT_GRANTEE',
        `grant ${session.grantId} no longer belongs to ${session.clientAddress}`,
      );
    }
    if (this.nodeAddress && service && session.kind === 'service' && service.host !== this.nodeAddress) {
      return new TicketError('WRONG_NODE', `service ${session.serviceId} moved to host ${service.host}`);
    }
    const grantExpiry = grant ? Number(grant.expiresAt) * 1000 : session.expiresAt;
    if (now >= Math.min(session.expiresAt, grantExpiry)) {
      return new TicketError('EXPIRED', `session of grant ${session.grantId} expired; present a new ticket`);
    }
    return undefined;
  }

  #close(id: number, reason: TicketError): boolean {
    const entry = this.#sessions.get(id);
    if (!entry) return false;
    this.#forget(id);
    try {
      entry.onClose(reason);
    } catch (error) {
      this.#onCallbackError(error);
    }
    return true;
  }

  #forget(id: number): void {
    const entry = this.#sessions.get(id);
    if (!entry) return;
    this.#sessions.delete(id);
    removeIndex(this.#byGrant, entry.session.grantId, id);
    removeIndex(this.#byService, entry.session.serviceId, id);
  }
}
