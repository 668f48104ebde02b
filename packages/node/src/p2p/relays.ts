/**
 * Relay reservations of a node that cannot be reached directly: it keeps circuit-relay-v2
 * reservations on `target` relays at once (default RELAY_RESERVATION_TARGET), taken from the relays
 * it was given (`--relay`, `<relay>/p2p-circuit` listen addresses) first, then from a candidate
 * provider (the chain's relay list). A relay whose connection closes loses its reservation at once;
 * the keeper then reserves on another candidate within RELAY_KEEPER_RETRY_MS, and retries relays that
 * failed with a growing back-off, so a relay that comes back is taken again.
 *
 * The reservations are made through the circuit-relay transport's reservation store, not through
 * libp2p listen addresses: libp2p 3 listens on configured relays one at a time and drops the queued
 * ones when the first completes (`ReservationStore` clears its queue with no configured "discovered"
 * slots left), so a node given two relay listen addresses never finished starting.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import {
  MAX_CIRCUIT_ADDRS_PER_RELAY,
  RELAY_KEEPER_INTERVAL_MS,
  RELAY_KEEPER_MAX_BACKOFF_MS,
  RELAY_KEEPER_RETRY_MS,
  RELAY_RESERVATION_TARGET,
  RELAY_RESERVE_TIMEOUT_MS,
} from './constants.ts';
import { P2pError } from './errors.ts';
import { type P2pLogger, stderrLogger } from './log.ts';

/** What the keeper needs of the circuit-relay transport's reservation store (@libp2p/circuit-relay-v2). */
export interface ReservationStoreHandle {
  addRelay(
    peerId: PeerId,
    type: 'configured' | 'discovered',
  ): Promise<{ relay: PeerId; details: { reservation: { addrs: Uint8Array[] } } }>;
  hasReservation(peerId: PeerId): boolean;
  addEventListener(type: 'relay:removed', listener: (evt: CustomEvent<{ relay: PeerId }>) => void): void;
  removeEventListener(type: 'relay:removed', listener: (evt: CustomEvent<{ relay: PeerId }>) => void): void;
}

/** One relay the node holds a reservation on. */
export interface HeldRelay {
  peerId: string;
  /** Our circuit addresses through it, `<relay addr>/p2p/<relay>/p2p-circuit` (without our own `/p2p/`). */
  addrs: string[];
  since: string;
}

/** Options of {@link RelayKeeper}. */
export interface RelayKeeperOptions {
  store: ReservationStoreHandle;
  /** Dials and waits for mutual admission (reservations are only granted to admitted peers). */
  connect(addr: Multiaddr, timeoutMs: number): Promise<PeerId>;
  ownPeerId: PeerId;
  logger?: P2pLogger;
}

interface Candidate {
  addr: string;
  peerId: string;
  failures: number;
  retryAt: number;
}

/** Keeps reservations on `target` relays. Idle (no reservations) until {@link RelayKeeper.start}. */
export class RelayKeeper {
  readonly #o: RelayKeeperOptions;
  readonly #log: P2pLogger;
  readonly #held = new Map<string, HeldRelay>();
  readonly #candidates = new Map<string, Candidate>();
  readonly #listeners = new Set<() => void>();
  #configured: string[] = [];
  #provider: (() => Promise<readonly string[]>) | undefined;
  #target = RELAY_RESERVATION_TARGET;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #ticking: Promise<void> | undefined;
  #again = false;

  constructor(options: RelayKeeperOptions) {
    this.#o = options;
    this.#log = options.logger ?? stderrLogger;
  }

  readonly #onRemoved = (evt: CustomEvent<{ relay: PeerId }>): void => {
    const id = evt.detail.relay.toString();
    if (!this.#held.delete(id)) return;
    this.#log.warn('relay reservation lost; reserving on another relay', { relay: id });
    const c = [...this.#candidates.values()].find((x) => x.peerId === id);
    if (c) this.#fail(c);
    this.#changed();
    this.#schedule(0);
  };

  /**
   * Starts keeping `target` reservations on `relays` (multiaddrs ending in `/p2p/<relay>`, a trailing
   * `/p2p-circuit` is dropped) and then on the relays `provider` lists.
   */
  start(options: {
    relays?: readonly string[];
    provider?: () => Promise<readonly string[]>;
    target?: number;
  }): void {
    const target = options.target ?? RELAY_RESERVATION_TARGET;
    if (!Number.isInteger(target) || target < 0 || target > 16) {
      throw new P2pError('INVALID_CONFIG', `relay reservation count ${target} is not a whole number 0 … 16`);
    }
    this.#configured = (options.relays ?? []).map((a) => relayBase(a));
    this.#provider = options.provider;
    this.#target = target;
    this.#running = true;
    this.#o.store.addEventListener('relay:removed', this.#onRemoved);
    this.#schedule(0);
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#o.store.removeEventListener('relay:removed', this.#onRemoved);
  }

  /** Reservations wanted. */
  get target(): number {
    return this.#target;
  }

  /** The relays we hold reservations on now. */
  held(): HeldRelay[] {
    return [...this.#held.values()].map((h) => ({ ...h, addrs: [...h.addrs] }));
  }

  /** Our circuit addresses through every held relay. */
  addresses(): string[] {
    return [...this.#held.values()].flatMap((h) => h.addrs);
  }

  /** Called whenever the set of held relays changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once `n` reservations are held, or after `timeoutMs` (returns whether they are). */
  async waitFor(n: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#held.size < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.#held.size >= n;
  }

  #changed(): void {
    for (const l of this.#listeners) {
      try {
        l();
      } catch (err) {
        this.#log.warn('relay change listener failed', { error: (err as Error).message });
      }
    }
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), ms);
    this.#timer.unref();
  }

  #fail(c: Candidate): void {
    c.failures++;
    c.retryAt =
      Date.now() + Math.min(RELAY_KEEPER_RETRY_MS * 2 ** (c.failures - 1), RELAY_KEEPER_MAX_BACKOFF_MS);
  }

  async #tick(): Promise<void> {
    if (this.#ticking) {
      this.#again = true;
      return this.#ticking;
    }
    this.#ticking = this.#fill().finally(() => {
      this.#ticking = undefined;
    });
    await this.#ticking;
    if (!this.#running) return;
    if (this.#again) {
      this.#again = false;
      this.#schedule(0);
      return;
    }
    this.#schedule(this.#held.size < this.#target ? RELAY_KEEPER_RETRY_MS : RELAY_KEEPER_INTERVAL_MS);
  }

  async #fill(): Promise<void> {
    // A reservation the store dropped without an event (stopped) is gone too.
    for (const [id] of this.#held) {
      if (!this.#o.store.hasReservation(peerIdFromString(id))) {
        this.#held.delete(id);
        this.#changed();
      }
    }
    if (this.#held.size >= this.#target) return;
    const addrs = [...this.#configured];
    if (this.#provider) {
      try {
        for (const a of await this.#provider()) addrs.push(relayBase(a));
      } catch (err) {
        this.#log.debug('relay candidates unavailable', { error: (err as Error).message });
      }
    }
    const own = this.#o.ownPeerId.toString();
    for (const addr of addrs) {
      if (this.#candidates.has(addr)) continue;
      const peerId = peerOf(addr);
      if (!peerId || peerId === own) continue;
      this.#candidates.set(addr, { addr, peerId, failures: 0, retryAt: 0 });
    }
    const now = Date.now();
    // Configured relays first, then the rest in the order the provider gave them; one address per relay.
    const order = new Map<string, Candidate>();
    for (const addr of addrs) {
      const c = this.#candidates.get(addr);
      if (!c || c.retryAt > now || this.#held.has(c.peerId) || order.has(c.peerId)) continue;
      order.set(c.peerId, c);
    }
    const picks = [...order.values()];
    // Try as many at once as are missing; go on down the list while some fail.
    while (this.#running && this.#held.size < this.#target && picks.length > 0) {
      const batch = picks.splice(0, this.#target - this.#held.size);
      await Promise.all(batch.map((c) => this.#reserve(c)));
    }
  }

  async #reserve(c: Candidate): Promise<void> {
    const started = Date.now();
    try {
      const peer = await this.#o.connect(multiaddr(c.addr), RELAY_RESERVE_TIMEOUT_MS);
      const left = Math.max(RELAY_RESERVE_TIMEOUT_MS - (Date.now() - started), 1_000);
      // The store's queue may drop a queued job without settling it: never wait on it unbounded.
      const r = await bounded(this.#o.store.addRelay(peer, 'configured'), left, 'relay reservation');
      if (!this.#running) return;
      const addrs = r.details.reservation.addrs
        .map((b) => multiaddr(b).toString())
        .filter((a) => a.includes(`/p2p/${c.peerId}`))
        .map((a) => `${a}/p2p-circuit`)
        .slice(0, MAX_CIRCUIT_ADDRS_PER_RELAY);
      this.#held.set(c.peerId, {
        peerId: c.peerId,
        addrs: [...new Set(addrs.length > 0 ? addrs : [`${c.addr}/p2p-circuit`])],
        since: new Date().toISOString(),
      });
      c.failures = 0;
      c.retryAt = 0;
      this.#log.info('relay reservation held', {
        relay: c.peerId,
        held: this.#held.size,
        target: this.#target,
        ms: Date.now() - started,
      });
      this.#changed();
    } catch (err) {
      this.#fail(c);
      this.#log.info('relay reservation failed', { relay: c.addr, error: (err as Error).message });
    }
  }
}

/** `<relay>/p2p/<id>` of a relay address, without a trailing `/p2p-circuit`. */
export function relayBase(addr: string): string {
  const i = addr.indexOf('/p2p-circuit');
  return i >= 0 ? addr.slice(0, i) : addr;
}

function peerOf(addr: string): string | undefined {
  try {
    return multiaddr(addr)
      .getComponents()
      .findLast((c) => c.name === 'p2p')?.value;
  } catch {
    return undefined;
  }
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new P2pError('RELAY_UNAVAILABLE', `${what} took over ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
