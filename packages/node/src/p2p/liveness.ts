/** Liveness of admitted neighbours: RTT by ping (median of the last N), silent peers disconnected. */
import type { PeerId } from '@libp2p/interface';
import { P2pError } from './errors.ts';
import type { DibsHost } from './host.ts';
import type { P2pLogger } from './log.ts';

/** Defaults of {@link Liveness}. */
export const LIVENESS_INTERVAL_MS = 30_000;
export const LIVENESS_SAMPLES = 10;
export const LIVENESS_SILENT_AFTER_MS = 120_000;
export const LIVENESS_PING_TIMEOUT_MS = 5_000;

/** Options of {@link Liveness}. */
export interface LivenessOptions {
  intervalMs?: number;
  /** RTT samples kept per peer. */
  samples?: number;
  /** A connected peer that has answered nothing for this long is disconnected. */
  silentAfterMs?: number;
  pingTimeoutMs?: number;
  logger?: P2pLogger;
}

/** What is known about one neighbour. */
export interface Neighbour {
  peerId: PeerId;
  /** Median of the kept samples, ms. */
  medianRttMs?: number;
  samples: number[];
  lastSeen: number;
}

interface PingService {
  ping(peer: PeerId, options?: { signal?: AbortSignal }): Promise<number>;
}

/** Pings admitted neighbours on an interval and keeps their RTT; closes connections to silent ones. */
export class Liveness {
  readonly #host: DibsHost;
  readonly #interval: number;
  readonly #samples: number;
  readonly #silentAfter: number;
  readonly #pingTimeout: number;
  readonly #log?: P2pLogger;
  readonly #peers = new Map<string, Neighbour>();
  #timer?: NodeJS.Timeout;
  #round?: Promise<void>;

  constructor(host: DibsHost, options: LivenessOptions = {}) {
    this.#host = host;
    this.#interval = options.intervalMs ?? LIVENESS_INTERVAL_MS;
    this.#samples = options.samples ?? LIVENESS_SAMPLES;
    this.#silentAfter = options.silentAfterMs ?? LIVENESS_SILENT_AFTER_MS;
    this.#pingTimeout = options.pingTimeoutMs ?? LIVENESS_PING_TIMEOUT_MS;
    this.#log = options.logger;
    if (!(this.#interval > 0 && this.#samples > 0 && this.#silentAfter > 0 && this.#pingTimeout > 0)) {
      throw new P2pError('INVALID_CONFIG', 'liveness intervals, samples and timeouts must be positive');
    }
  }

  /** Starts the periodic rounds. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#round) this.#round = this.round().finally(() => (this.#round = undefined));
    }, this.#interval);
    this.#timer.unref();
  }

  /** Stops the rounds (an in-flight round finishes). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  /** Median RTT to `peerId` in ms, if measured. */
  rtt(peerId: PeerId): number | undefined {
    return this.#peers.get(peerId.toString())?.medianRttMs;
  }

  /** Every neighbour measured so far. */
  neighbours(): Neighbour[] {
    return [...this.#peers.values()].map((n) => ({ ...n, samples: [...n.samples] }));
  }

  /** One round: ping every admitted, connected peer once; disconnect the silent ones. */
  async round(): Promise<void> {
    const ping = (this.#host.libp2p.services as { ping?: PingService }).ping;
    if (!ping) return;
    const now = Date.now();
    const connected = new Set<string>();
    for (const c of this.#host.libp2p.getConnections()) {
      if (c.status === 'open' && this.#host.admission.isAdmitted(c.remotePeer))
        connected.add(c.remotePeer.toString());
    }
    for (const key of this.#peers.keys()) if (!connected.has(key)) this.#peers.delete(key);
    for (const key of connected) {
      const conn = this.#host.libp2p.getConnections().find((c) => c.remotePeer.toString() === key);
      if (!conn) continue;
      let n = this.#peers.get(key);
      if (!n) {
        n = { peerId: conn.remotePeer, samples: [], lastSeen: now };
        this.#peers.set(key, n);
      }
      try {
        const ms = await ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(this.#pingTimeout) });
        n.samples.push(ms);
        if (n.samples.length > this.#samples) n.samples.shift();
        n.medianRttMs = median(n.samples);
        n.lastSeen = Date.now();
      } catch (err) {
        this.#log?.debug('ping failed', { peer: key, error: (err as Error).message });
        if (Date.now() - n.lastSeen >= this.#silentAfter) {
          this.#log?.warn('closing connections to a silent peer', {
            peer: key,
            silentMs: Date.now() - n.lastSeen,
            error: (err as Error).message,
          });
          this.#peers.delete(key);
          for (const c of this.#host.libp2p.getConnections(conn.remotePeer)) {
            await c.close().catch(() => c.abort(err as Error));
          }
        }
      }
    }
  }
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
