/**
 * How fast a node takes in connections from addresses it has not admitted anyone from.
 * Every inbound connection costs a Noise handshake (a secp256k1 signature check in JS, several ms
 * of CPU, and tens of KiB of objects that outlive the young generation) before the peer can even
 * present a ticket, so a flood of unticketed dialers could take the CPU and memory of admitted
 * peers' traffic. New connections from addresses of admitted peers always pass; the rest draw from
 * a token bucket of their own address and from one bucket shared by all, and are refused once
 * either is empty. The shared rate shrinks while the event loop is busy (admitted traffic first).
 *
 * The check runs in the TCP listener itself ({@link InboundLimiter.blockList}): a refused connection
 * is closed before Node.js makes a socket object of it, so a refusal allocates next to nothing.
 */
import { BlockList, type SocketAddress } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_INBOUND_BURST,
  DEFAULT_INBOUND_PER_IP_BURST,
  DEFAULT_INBOUND_PER_IP_PER_SECOND,
  DEFAULT_INBOUND_PER_SECOND,
  INBOUND_BUSY_LOOP,
  INBOUND_BUSY_SHARE,
  INBOUND_LOAD_SAMPLE_MS,
  INBOUND_REFUSAL_LOG_INTERVAL_MS,
  INBOUND_TRACKED_ADDRESSES,
} from './constants.ts';

/** Options of {@link InboundLimiter}. */
export interface InboundLimiterOptions {
  /** Sustained new connections a second from unknown addresses; default DEFAULT_INBOUND_PER_SECOND. */
  perSecond?: number;
  /** Bucket size (a burst of new peers at once); default DEFAULT_INBOUND_BURST. */
  burst?: number;
  /** Sustained new connections a second from one unknown address; default DEFAULT_INBOUND_PER_IP_PER_SECOND. */
  perIpPerSecond?: number;
  /** Burst from one unknown address; default DEFAULT_INBOUND_PER_IP_BURST. */
  perIpBurst?: number;
  /** Whether an admitted peer currently connects from `ip`. */
  isKnownAddress: (ip: string) => boolean;
  /** Called at most every INBOUND_REFUSAL_LOG_INTERVAL_MS with the refusals since the last call. */
  onRefused?: (count: number) => void;
  /**
   * How busy the node is, 0–1 (default: the event loop's utilization over the last
   * INBOUND_LOAD_SAMPLE_MS). From INBOUND_BUSY_LOOP up the shared rate falls to INBOUND_BUSY_SHARE.
   */
  load?: () => number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The token buckets of one node's inbound connections. */
export class InboundLimiter {
  readonly perSecond: number;
  readonly burst: number;
  readonly perIpPerSecond: number;
  readonly perIpBurst: number;
  readonly #shared: Bucket;
  /** One bucket per unknown address that connected lately; at most INBOUND_TRACKED_ADDRESSES. */
  readonly #perIp = new Map<string, Bucket>();
  #refused = 0;
  #reportedAt = 0;
  readonly #o: InboundLimiterOptions;
  readonly #now: () => number;
  readonly #load: () => number;
  #blockList?: BlockList;

  constructor(options: InboundLimiterOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#load = options.load ?? loopUtilization();
    this.perSecond = options.perSecond ?? DEFAULT_INBOUND_PER_SECOND;
    this.burst = options.burst ?? DEFAULT_INBOUND_BURST;
    this.perIpPerSecond = options.perIpPerSecond ?? DEFAULT_INBOUND_PER_IP_PER_SECOND;
    this.perIpBurst = options.perIpBurst ?? DEFAULT_INBOUND_PER_IP_BURST;
    for (const [rate, burst] of [
      [this.perSecond, this.burst],
      [this.perIpPerSecond, this.perIpBurst],
    ] as const) {
      if (!(rate > 0) || !(burst >= 1)) {
        throw new RangeError('inbound limits must be positive (perSecond > 0, burst ≥ 1)');
      }
    }
    this.#shared = { tokens: this.burst, at: this.#now() };
  }

  /** Addresses with a bucket of their own now (bounded by INBOUND_TRACKED_ADDRESSES). */
  get trackedAddresses(): number {
    return this.#perIp.size;
  }

  /** Whether to take a new inbound connection from `remoteAddr` (a multiaddr string). */
  allow(remoteAddr: string): boolean {
    const ip = /^\/ip[46]\/([^/]+)/.exec(remoteAddr)?.[1];
    return ip === undefined ? this.#take(undefined) : this.allowIp(ip);
  }

  /** Whether to take a new inbound connection from `ip`. */
  allowIp(address: string): boolean {
    // A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6 addresses.
    const ip = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    if (this.#o.isKnownAddress(ip)) return true;
    return this.#take(ip);
  }

  /**
   * A `net.BlockList` for `net.createServer({ blockList })`: Node.js asks it about every accepted
   * connection before making a socket object, and closes the ones it blocks.
   */
  blockList(): BlockList {
    if (!this.#blockList) {
      const limiter = this;
      class InboundBlockList extends BlockList {
        override check(address: string | SocketAddress): boolean {
          return !limiter.allowIp(typeof address === 'string' ? address : address.address);
        }
      }
      this.#blockList = new InboundBlockList();
    }
    return this.#blockList;
  }

  #take(ip: string | undefined): boolean {
    const now = this.#now();
    const load = this.#load();
    const share = load >= INBOUND_BUSY_LOOP ? INBOUND_BUSY_SHARE : 1;
    const own = ip === undefined ? undefined : this.#bucketOf(ip, now);
    if (own) refill(own, now, this.perIpPerSecond, this.perIpBurst);
    refill(this.#shared, now, this.perSecond * share, this.burst);
    if ((own === undefined || own.tokens >= 1) && this.#shared.tokens >= 1) {
      if (own) own.tokens -= 1;
      this.#shared.tokens -= 1;
      return true;
    }
    this.#refused++;
    if (now - this.#reportedAt >= INBOUND_REFUSAL_LOG_INTERVAL_MS) {
      this.#reportedAt = now;
      this.#o.onRefused?.(this.#refused);
      this.#refused = 0;
    }
    return false;
  }

  #bucketOf(ip: string, now: number): Bucket {
    let bucket = this.#perIp.get(ip);
    if (bucket) return bucket;
    if (this.#perIp.size >= INBOUND_TRACKED_ADDRESSES) this.#forget(now);
    bucket = { tokens: this.perIpBurst, at: now };
    this.#perIp.set(ip, bucket);
    return bucket;
  }

  /**
   * Drops the buckets that refilled (their address is quiet); if that frees too little, the oldest
   * eighth, so a flood from ever new addresses pays for this scan once per many of them.
   */
  #forget(now: number): void {
    const full = (this.perIpBurst / this.perIpPerSecond) * 1000;
    for (const [ip, b] of this.#perIp) {
      if (now - b.at >= full) this.#perIp.delete(ip);
    }
    let drop = this.#perIp.size - Math.floor((INBOUND_TRACKED_ADDRESSES * 7) / 8);
    for (const ip of this.#perIp.keys()) {
      if (drop-- <= 0) break;
      this.#perIp.delete(ip);
    }
  }
}

function refill(b: Bucket, now: number, perSecond: number, burst: number): void {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perSecond) / 1000);
  b.at = now;
}

/** The event loop's utilization over the last INBOUND_LOAD_SAMPLE_MS, sampled when asked. */
function loopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  let at = performance.now();
  let value = 0;
  return () => {
    const now = performance.now();
    if (now - at >= INBOUND_LOAD_SAMPLE_MS) {
      const cur = performance.eventLoopUtilization();
      value = performance.eventLoopUtilization(cur, last).utilization;
      last = cur;
      at = now;
    }
    return value;
  };
}
