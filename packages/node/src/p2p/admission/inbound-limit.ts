/**
 * A cap on how fast a node takes in connections from addresses it has not admitted anyone from.
 * Every inbound connection costs a Noise handshake (a secp256k1 signature check in JS, several ms
 * of CPU) before the peer can even present a ticket, so a flood of unticketed dialers — from many
 * addresses, past libp2p's per-address threshold — could take the CPU from admitted peers' traffic.
 * New connections from addresses of admitted peers always pass; the rest share a token bucket and
 * are refused at accept, before any cryptography, once it is empty.
 */
import {
  DEFAULT_INBOUND_BURST,
  DEFAULT_INBOUND_PER_SECOND,
  INBOUND_REFUSAL_LOG_INTERVAL_MS,
} from './constants.ts';

/** Options of {@link InboundLimiter}. */
export interface InboundLimiterOptions {
  /** Sustained new connections a second from unknown addresses; default DEFAULT_INBOUND_PER_SECOND. */
  perSecond?: number;
  /** Bucket size (a burst of new peers at once); default DEFAULT_INBOUND_BURST. */
  burst?: number;
  /** Whether an admitted peer currently connects from `ip`. */
  isKnownAddress: (ip: string) => boolean;
  /** Called at most every INBOUND_REFUSAL_LOG_INTERVAL_MS with the refusals since the last call. */
  onRefused?: (count: number) => void;
  now?: () => number;
}

/** The token bucket of one node's inbound connections. */
export class InboundLimiter {
  readonly perSecond: number;
  readonly burst: number;
  #tokens: number;
  #at: number;
  #refused = 0;
  #reportedAt = 0;
  readonly #o: InboundLimiterOptions;
  readonly #now: () => number;

  constructor(options: InboundLimiterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.perSecond = options.perSecond ?? DEFAULT_INBOUND_PER_SECOND;
    this.burst = options.burst ?? DEFAULT_INBOUND_BURST;
    if (!(this.perSecond > 0) || !(this.burst >= 1)) {
      throw new RangeError('inbound limits must be positive (perSecond > 0, burst ≥ 1)');
    }
    this.#tokens = this.burst;
    this.#at = this.#now();
  }

  /** Whether to take a new inbound connection from `remoteAddr` (a multiaddr string). */
  allow(remoteAddr: string): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.perSecond) / 1000);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    const ip = /^\/ip[46]\/([^/]+)/.exec(remoteAddr)?.[1];
    if (ip !== undefined && this.#o.isKnownAddress(ip)) return true;
    this.#refused++;
    if (now - this.#reportedAt >= INBOUND_REFUSAL_LOG_INTERVAL_MS) {
      this.#reportedAt = now;
      this.#o.onRefused?.(this.#refused);
      this.#refused = 0;
    }
    return false;
  }
}
