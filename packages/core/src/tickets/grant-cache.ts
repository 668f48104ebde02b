/**
 * In-memory view of the on-chain state tickets are checked against: grants, services and registered
 * encryption keys. The chain event watcher feeds it, so verification never waits on the chain.
 * Revocation and retirement are one-way, as on chain: a late or replayed "issued" event cannot undo them.
 */
import { DEFAULT_REVOCATION_MAX_BLOCKS, X25519_KEY_BYTES } from './constants.ts';
import { type Address, normalizeAddress } from './codec.ts';
import type { ChainView } from './chain-view.ts';
import { TicketError } from './errors.ts';

/** A grant as AccessGrants stores it; times are Unix seconds. */
export interface GrantRecord {
  grantId: bigint;
  serviceId: bigint;
  grantee: Address;
  issuedAt: bigint;
  expiresAt: bigint;
  revoked: boolean;
}

/** The parts of a service that verification needs. `host` is the zero address for network services. */
export interface ServiceRecord {
  serviceId: bigint;
  serviceType: string;
  host: Address;
  active: boolean;
}

/** What changed in the cache; session registries close sessions on these. */
export type GrantCacheEvent =
  | { type: 'grantIssued'; grantId: bigint; serviceId: bigint }
  | { type: 'grantRevoked'; grantId: bigint; serviceId: bigint }
  | { type: 'grantChanged'; grantId: bigint; serviceId: bigint }
  | { type: 'serviceRetired'; serviceId: bigint }
  | { type: 'serviceChanged'; serviceId: bigint }
  | { type: 'identityChanged'; account: Address }
  | { type: 'policyChanged'; serviceId: bigint; account: Address; meets: boolean }
  | { type: 'cleared' }
  | { type: 'synced'; blockNumber: bigint };

/** Options of {@link GrantCache}. */
export interface GrantCacheOptions {
  /** Most blocks the watcher may lag before applying a revocation; default DEFAULT_REVOCATION_MAX_BLOCKS. */
  revocationMaxBlocks?: number;
  /**
   * The lag of this cache behind the chain; when set, verifiers refuse tickets (CHAIN_STALE) and
   * session registries close sessions as its bounds say. Fed by `markSynced` and a head poll.
   */
  chainView?: ChainView;
}

type Listener = (event: GrantCacheEvent) => void;

function toBigint(value: bigint | number, what: string): bigint {
  if (typeof value === 'bigint' && value >= 0n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new TicketError('INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${String(value)}`);
}

function toId(value: bigint | number, what: string): bigint {
  const id = toBigint(value, what);
  if (id === 0n) throw new TicketError('INVALID_ARGUMENT', `${what} must be ≥ 1 (0 means none on chain)`);
  return id;
}

/** Cached grants, services and identities, fed from chain events. */
export class GrantCache {
  /** The watcher must apply events at least every this many blocks; the integration polls accordingly. */
  readonly revocationMaxBlocks: number;
  /** The lag bounds this cache answers for, if any (see GrantCacheOptions.chainView). */
  readonly chainView: ChainView | undefined;
  #grants = new Map<bigint, GrantRecord>();
  #services = new Map<bigint, ServiceRecord>();
  #keys = new Map<Address, Uint8Array>();
  #revoked = new Set<bigint>();
  #retired = new Set<bigint>();
  /** `serviceId:account` pairs whose holder no longer meets the service's policy. */
  #unmet = new Set<string>();
  #listeners = new Set<Listener>();
  #syncedBlock = -1n;

  constructor(options: GrantCacheOptions = {}) {
    const n = options.revocationMaxBlocks ?? DEFAULT_REVOCATION_MAX_BLOCKS;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new TicketError('INVALID_ARGUMENT', `revocationMaxBlocks must be a positive integer, got ${n}`);
    }
    this.revocationMaxBlocks = n;
    this.chainView = options.chainView;
  }

  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: GrantCacheEvent): void {
    for (const l of [...this.#listeners]) l(event);
  }

  /** Applies a `GrantIssued` event (times in Unix seconds, as emitted). */
  applyGrantIssued(event: {
    grantId: bigint | number;
    serviceId: bigint | number;
    grantee: string;
    issuedAt: bigint | number;
    expiresAt: bigint | number;
  }): void {
    this.applyGrant({ ...event, revoked: false });
  }

  /** Applies a full grant record, e.g. from `getGrant` at start-up. */
  applyGrant(record: {
    grantId: bigint | number;
    serviceId: bigint | number;
    grantee: string;
    issuedAt: bigint | number;
    expiresAt: bigint | number;
    revoked: boolean;
  }): void {
    const grantId = toId(record.grantId, 'grantId');
    const next: GrantRecord = {
      grantId,
      serviceId: toId(record.serviceId, 'serviceId'),
      grantee: normalizeAddress(record.grantee),
      issuedAt: toBigint(record.issuedAt, 'issuedAt'),
      expiresAt: toBigint(record.expiresAt, 'expiresAt'),
      revoked: record.revoked === true || this.#revoked.has(grantId),
    };
    const prev = this.#grants.get(grantId);
    this.#grants.set(grantId, next);
    if (next.revoked && !this.#revoked.has(grantId)) {
      this.#revoked.add(grantId);
      this.#emit({ type: 'grantRevoked', grantId, serviceId: next.serviceId });
    } else if (!prev && !next.revoked) {
      this.#emit({ type: 'grantIssued', grantId, serviceId: next.serviceId });
    } else if (
      prev &&
      (prev.expiresAt !== next.expiresAt ||
        prev.grantee !== next.grantee ||
        prev.serviceId !== next.serviceId)
    ) {
      this.#emit({ type: 'grantChanged', grantId, serviceId: next.serviceId });
    }
  }

  /** Applies a `GrantRevoked` event; known or not, the grant stays revoked from now on. */
  applyGrantRevoked(event: { grantId: bigint | number; serviceId?: bigint | number }): void {
    const grantId = toId(event.grantId, 'grantId');
    if (this.#revoked.has(grantId)) return;
    this.#revoked.add(grantId);
    const grant = this.#grants.get(grantId);
    if (grant) grant.revoked = true;
    const serviceId =
      grant?.serviceId ?? (event.serviceId === undefined ? 0n : toBigint(event.serviceId, 'serviceId'));
    this.#emit({ type: 'grantRevoked', grantId, serviceId });
  }

  /** Applies a service record (from `ServicePublished` + `getService`, or after `ServiceUpdated`). */
  applyService(record: {
    serviceId: bigint | number;
    serviceType: string;
    host: string;
    active: boolean;
  }): void {
    const serviceId = toId(record.serviceId, 'serviceId');
    if (typeof record.serviceType !== 'string' || record.serviceType.length === 0) {
      throw new TicketError('INVALID_ARGUMENT', `service ${serviceId} has no serviceType`);
    }
    const next: ServiceRecord = {
      serviceId,
      serviceType: record.serviceType,
      host: normalizeAddress(record.host),
      active: record.active === true && !this.#retired.has(serviceId),
    };
    const prev = this.#services.get(serviceId);
    this.#services.set(serviceId, next);
    if (!next.active && !this.#retired.has(serviceId)) {
      this.#retired.add(serviceId);
      this.#emit({ type: 'serviceRetired', serviceId });
    } else if (prev && (prev.host !== next.host || prev.serviceType !== next.serviceType)) {
      this.#emit({ type: 'serviceChanged', serviceId });
    }
  }

  /** Applies a `ServiceRetired` event; the service stays inactive from now on. */
  applyServiceRetired(event: { serviceId: bigint | number }): void {
    const serviceId = toId(event.serviceId, 'serviceId');
    if (this.#retired.has(serviceId)) return;
    this.#retired.add(serviceId);
    const service = this.#services.get(serviceId);
    if (service) service.active = false;
    this.#emit({ type: 'serviceRetired', serviceId });
  }

  /** Applies `IdentityRegistered` / `EncryptionKeyUpdated`; a zero key removes the identity. */
  applyIdentity(event: { account: string; encryptionKey: Uint8Array | string }): void {
    const account = normalizeAddress(event.account);
    const key = typeof event.encryptionKey === 'string' ? hexKey(event.encryptionKey) : event.encryptionKey;
    if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
      throw new TicketError('INVALID_ARGUMENT', `encryption key of ${account} must be 32 bytes (bytes32)`);
    }
    if (key.every((b) => b === 0)) this.#keys.delete(account);
    else this.#keys.set(account, new Uint8Array(key));
    this.#emit({ type: 'identityChanged', account });
  }

  /**
   * Records whether `account` meets the policy of service `serviceId` now (allowlist, organization
   * membership, token balance, as re-read from chain after a change). A grant whose holder does not
   * admits nothing; sessions on it close. Pairs never recorded meet it (the contract checked the
   * policy when it issued the grant).
   */
  applyPolicyStanding(serviceId: bigint | number, account: string, meets: boolean): void {
    const id = toId(serviceId, 'serviceId');
    const who = normalizeAddress(account);
    const key = `${id}:${who}`;
    if (meets === !this.#unmet.has(key)) return;
    if (meets) this.#unmet.delete(key);
    else this.#unmet.add(key);
    this.#emit({ type: 'policyChanged', serviceId: id, account: who, meets });
  }

  /** Whether `account` still meets the policy of `serviceId` as far as this cache knows. */
  meetsPolicy(serviceId: bigint, account: Address): boolean {
    return this.#unmet.size === 0 || !this.#unmet.has(`${serviceId}:${account}`);
  }

  /**
   * Forgets everything (the chain went back under the mirror, which rebuilds from events): grants,
   * services, keys, revocation and retirement marks, policy standings and the synced block.
   */
  clear(): void {
    this.#grants.clear();
    this.#services.clear();
    this.#keys.clear();
    this.#revoked.clear();
    this.#retired.clear();
    this.#unmet.clear();
    this.#syncedBlock = -1n;
    this.chainView?.reset();
    this.#emit({ type: 'cleared' });
  }

  /** Records that every event up to `blockNumber` has been applied. */
  markSynced(blockNumber: bigint | number): void {
    const n = toBigint(blockNumber, 'blockNumber');
    if (n > this.#syncedBlock) this.#syncedBlock = n;
    this.chainView?.observeSynced(n);
    this.#emit({ type: 'synced', blockNumber: this.#syncedBlock });
  }

  /** Highest block whose events have all been applied, or -1 before the first sync. */
  get syncedBlock(): bigint {
    return this.#syncedBlock;
  }

  /** Grants cached (revoked ones included until pruned). */
  get grantCount(): number {
    return this.#grants.size;
  }

  /** Services cached. */
  get serviceCount(): number {
    return this.#services.size;
  }

  /** The cached grant, if any. */
  grant(grantId: bigint): GrantRecord | undefined {
    return this.#grants.get(grantId);
  }

  /** The cached service, if any. */
  service(serviceId: bigint): ServiceRecord | undefined {
    return this.#services.get(serviceId);
  }

  /** The registered X25519 key of `account` (lowercase address), if any. */
  encryptionKey(account: Address): Uint8Array | undefined {
    return this.#keys.get(account);
  }

  /**
   * Drops grants that expired before `nowSec` (Unix seconds), with their revocation marks (an
   * expired grant admits nothing either way). Marks of grants never seen are kept.
   */
  pruneExpired(nowSec: bigint | number): number {
    const now = toBigint(nowSec, 'nowSec');
    let n = 0;
    for (const [id, g] of this.#grants) {
      if (g.expiresAt < now) {
        this.#grants.delete(id);
        this.#revoked.delete(id);
        n++;
      }
    }
    return n;
  }

  /** Counts of cached entries, for metrics. */
  get size(): { grants: number; services: number; identities: number; revoked: number; policyUnmet: number } {
    return {
      grants: this.#grants.size,
      services: this.#services.size,
      identities: this.#keys.size,
      revoked: this.#revoked.size,
      policyUnmet: this.#unmet.size,
    };
  }
}

function hexKey(hex: string): Uint8Array | undefined {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  const out = new Uint8Array(X25519_KEY_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 + i * 2, 4 + i * 2), 16);
  return out;
}
