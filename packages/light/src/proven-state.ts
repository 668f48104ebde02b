/**
 * Events without trust: a light node still learns of grants, revocations, services and keys from
 * contract events (its RPC's), but only as hints — each hinted item is proven at the newest accepted
 * checkpoint and only the proven state reaches the cache access decisions read. At every newly
 * accepted checkpoint all tracked items are proven again, so a revocation an RPC hides is applied at
 * most one checkpoint late. Only what this node decides on is tracked (grants of the services it
 * admits for, their services, their grantees' keys), up to a bound.
 */
import type { Address } from 'viem';
import { LightError } from './errors.ts';
import type { ProvenGrant, ProvenService, VerifiedReader } from './verified-reader.ts';

/** Hinted grants kept waiting for a checkpoint that contains them. */
const AWAITING_MAX = 1024;

/** Where proven state goes (a GrantCache fits). */
export interface ProvenStateTarget {
  applyGrant(record: ProvenGrant): void;
  applyService(record: { serviceId: bigint; serviceType: string; host: string; active: boolean }): void;
  applyIdentity(event: { account: string; encryptionKey: Uint8Array }): void;
  markSynced(blockNumber: bigint): void;
}

/** Options of {@link ProvenStateFeeder}. */
export interface ProvenStateFeederOptions {
  reader: VerifiedReader;
  target: ProvenStateTarget;
  /** Whether grants of this service matter to this node (its network service, services it hosts). */
  relevant: (service: ProvenService) => boolean;
  /** Most grants tracked (the light node's memory bound); default 4096. */
  maxGrants?: number;
  onError?: (err: Error) => void;
}

/** Proves hinted chain state and feeds it to the access cache. */
export class ProvenStateFeeder {
  readonly #opts: ProvenStateFeederOptions;
  readonly #grants = new Set<bigint>();
  readonly #services = new Map<bigint, ProvenService | null>();
  readonly #accounts = new Set<Address>();
  #pendingGrants = new Set<bigint>();
  #pendingServices = new Set<bigint>();
  #pendingAccounts = new Set<Address>();
  /** Hinted grants not yet in the accepted state (their block is newer): tried again at the next checkpoint. */
  #awaiting = new Set<bigint>();
  #running: Promise<void> = Promise.resolve();
  /** Items proven and applied so far. */
  proven = 0;

  constructor(options: ProvenStateFeederOptions) {
    this.#opts = options;
  }

  /** Hints from events (unverified): prove these at the next flush. */
  hint(h: { grants?: Iterable<bigint>; services?: Iterable<bigint>; accounts?: Iterable<string> }): void {
    for (const g of h.grants ?? []) this.#pendingGrants.add(g);
    for (const s of h.services ?? []) this.#pendingServices.add(s);
    for (const a of h.accounts ?? [])
      if (this.#accounts.has(a as Address)) this.#pendingAccounts.add(a as Address);
  }

  /** Tracked grants (proven relevant). */
  get trackedGrants(): number {
    return this.#grants.size;
  }

  /** Proves the pending hints at the newest checkpoint (one flush at a time). */
  flush(): Promise<void> {
    this.#running = this.#running.then(() => this.#flush()).catch((err: Error) => this.#opts.onError?.(err));
    return this.#running;
  }

  /** A new checkpoint was accepted: prove everything tracked again, then the pending hints. */
  refreshAll(): Promise<void> {
    for (const g of this.#grants) this.#pendingGrants.add(g);
    for (const g of this.#awaiting) this.#pendingGrants.add(g);
    this.#awaiting.clear();
    for (const s of this.#services.keys()) this.#pendingServices.add(s);
    for (const a of this.#accounts) this.#pendingAccounts.add(a);
    return this.flush();
  }

  async #service(id: bigint): Promise<ProvenService | null> {
    const known = this.#services.get(id);
    if (known === undefined || known === null || this.#pendingServices.has(id)) {
      this.#pendingServices.delete(id);
      const s = await this.#opts.reader.service(id);
      this.#services.set(id, s);
      if (s) {
        this.#opts.target.applyService({
          serviceId: s.serviceId,
          serviceType: s.serviceType,
          host: s.host,
          active: s.active,
        });
        this.proven++;
      }
    }
    return this.#services.get(id) ?? null;
  }

  async #flush(): Promise<void> {
    const { reader, target } = this.#opts;
    const at = reader.checkpoint();
    if (!at) return;
    const max = this.#opts.maxGrants ?? 4096;
    for (const id of [...this.#pendingServices]) await this.#service(id).catch(() => undefined);
    const grants = [...this.#pendingGrants];
    this.#pendingGrants.clear();
    let failure: Error | undefined;
    for (const id of grants) {
      try {
        const service = await this.#service(id >> 64n);
        const g = service && this.#opts.relevant(service) ? await reader.grant(id) : undefined;
        if (g === undefined) continue;
        if (g === null) {
          if (this.#awaiting.size < AWAITING_MAX) this.#awaiting.add(id);
          continue;
        }
        if (!this.#grants.has(id)) {
          if (this.#grants.size >= max) {
            throw new LightError(
              'INVALID_ARGUMENT',
              `tracking ${max} grants already; grant ${id} is not admitted here`,
            );
          }
          this.#grants.add(id);
        }
        target.applyGrant(g);
        this.proven++;
        if (!this.#accounts.has(g.grantee)) {
          this.#accounts.add(g.grantee);
          this.#pendingAccounts.add(g.grantee);
        }
      } catch (err) {
        // Tried again with the next flush or checkpoint; the others go on.
        this.#pendingGrants.add(id);
        failure ??= err as Error;
      }
    }
    for (const account of [...this.#pendingAccounts]) {
      try {
        const key = await reader.identityKey(account);
        this.#pendingAccounts.delete(account);
        if (key) {
          target.applyIdentity({ account, encryptionKey: key });
          this.proven++;
        }
      } catch (err) {
        failure ??= err as Error;
      }
    }
    if (failure) throw failure;
    target.markSynced(at.number);
  }
}
