/**
 * Remembers authenticator nonces for as long as the authenticator could still pass the clock check.
 * Bounded: when full of live entries it refuses new ones (OVERLOADED) instead of forgetting early,
 * because forgetting a live nonce would let its authenticator be replayed.
 */
import { DEFAULT_REPLAY_CACHE_ENTRIES } from './constants.ts';
import { TicketError } from './errors.ts';

/** Options of {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /** Most live entries; default DEFAULT_REPLAY_CACHE_ENTRIES. */
  maxEntries?: number;
}

/** Time-windowed, bounded set of seen nonces. */
export class ReplayCache {
  readonly maxEntries: number;
  #expiry = new Map<string, number>();
  // Min-heap on expiry, parallel arrays to keep entries small.
  #heapAt: number[] = [];
  #heapKey: string[] = [];

  constructor(options: ReplayCacheOptions = {}) {
    const max = options.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new TicketError(
        'INVALID_ARGUMENT',
        `replay cache maxEntries must be a positive integer, got ${max}`,
      );
    }
    this.maxEntries = max;
  }

  /** Live entries. */
  get size(): number {
    return this.#expiry.size;
  }

  /**
   * Records `key` until `expiresAt` (Unix ms). Throws REPLAY if it is already recorded and live,
   * OVERLOADED if the cache is full of live entries.
   */
  checkAndAdd(key: string, expiresAt: number, now: number): void {
    this.prune(now);
    const seen = this.#expiry.get(key);
    if (seen !== undefined && seen >= now) {
      throw new TicketError(
        'REPLAY',
        'authenticator was already used; make a fresh authenticator for each connection',
      );
    }
    if (this.#expiry.size >= this.maxEntries) {
      throw new TicketError(
        'OVERLOADED',
        `replay cache holds ${this.maxEntries} live authenticators; retry later or raise maxEntries`,
      );
    }
    this.#expiry.set(key, expiresAt);
    this.#push(expiresAt, key);
  }

  /** Forgets entries whose window closed before `now`. */
  prune(now: number): void {
    const at = this.#heapAt;
    while (at.length > 0 && at[0]! < now) {
      const key = this.#heapKey[0]!;
      const when = at[0]!;
      this.#pop();
      if (this.#expiry.get(key) === when) this.#expiry.delete(key);
    }
  }

  #push(when: number, key: string): void {
    const at = this.#heapAt;
    const keys = this.#heapKey;
    let i = at.length;
    at.push(when);
    keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (at[p]! <= when) break;
      at[i] = at[p]!;
      keys[i] = keys[p]!;
      i = p;
    }
    at[i] = when;
    keys[i] = key;
  }

  #pop(): void {
    const at = this.#heapAt;
    const keys = this.#heapKey;
    const lastAt = at.pop()!;
    const lastKey = keys.pop()!;
    const n = at.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && at[r]! < at[l]! ? r : l;
      if (at[c]! >= lastAt) break;
      at[i] = at[c]!;
      keys[i] = keys[c]!;
      i = c;
    }
    at[i] = lastAt;
    keys[i] = lastKey;
  }
}
