/**
 * One-time SIWE nonces, each bound to the login interaction it was handed to. A nonce is taken (and
 * forgotten) by the first verification that presents it, so a signed message cannot be replayed, and
 * one from another interaction or past its lifetime is refused.
 */
import { generateSiweNonce } from 'viem/siwe';
import { MAX_PENDING_NONCES, SIWE_NONCE_TTL_MS } from './constants.ts';

interface PendingNonce {
  interaction: string;
  expiresAt: number;
}

/** Options of {@link NonceBook}. */
export interface NonceBookOptions {
  ttlMs?: number;
  maxPending?: number;
  now?: () => number;
}

/** Outstanding nonces, bounded in number and lifetime. */
export class NonceBook {
  readonly #pending = new Map<string, PendingNonce>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: NonceBookOptions = {}) {
    this.#ttlMs = options.ttlMs ?? SIWE_NONCE_TTL_MS;
    this.#max = options.maxPending ?? MAX_PENDING_NONCES;
    this.#now = options.now ?? Date.now;
  }

  /** A fresh nonce for `interaction`, valid for the nonce lifetime. */
  issue(interaction: string): { nonce: string; expiresAt: number } {
    this.#prune();
    while (this.#pending.size >= this.#max) this.#pending.delete(this.#pending.keys().next().value as string);
    const nonce = generateSiweNonce();
    const expiresAt = this.#now() + this.#ttlMs;
    this.#pending.set(nonce, { interaction, expiresAt });
    return { nonce, expiresAt };
  }

  /** Consumes `nonce`; true only if it was issued for `interaction` and has not expired or been used. */
  take(nonce: string, interaction: string): boolean {
    const entry = this.#pending.get(nonce);
    if (!entry) return false;
    this.#pending.delete(nonce);
    return entry.interaction === interaction && entry.expiresAt > this.#now();
  }

  get size(): number {
    return this.#pending.size;
  }

  #prune(): void {
    const now = this.#now();
    for (const [nonce, entry] of this.#pending) {
      if (entry.expiresAt <= now) this.#pending.delete(nonce);
    }
  }
}
