/**
 * A light node's follower: asks the trusted full nodes for their newest signed checkpoints, gathers
 * their signatures over one height, and moves the accepted checkpoint forward through the
 * CheckpointStore (which proves the next node set through the VerifiedReader).
 */
import type { Address } from 'viem';
import type { Checkpoint, SignedCheckpoint } from './checkpoint.ts';
import type { AcceptedCheckpoint, CheckpointStore } from './checkpoint-store.ts';
import { DEFAULT_FOLLOW_INTERVAL_MS } from './constants.ts';
import { LightError } from './errors.ts';
import type { VerifiedReader } from './verified-reader.ts';

/** One full node a light node can ask for checkpoints. */
export interface CheckpointSource {
  /** The full node's address (its wallet key, hence its PeerId). */
  address: Address;
  /** Its newest signed checkpoint (`number` omitted) or its signature over block `number`. */
  fetch(number?: bigint): Promise<SignedCheckpoint | undefined>;
  /** Its compact proof of the node set at block `number` (compact-proof.ts), if it serves one. */
  nodeSetProof?(number: bigint): Promise<Uint8Array | undefined>;
}

/** Options of {@link LightClient}. */
export interface LightClientOptions {
  store: CheckpointStore;
  reader: VerifiedReader;
  /** The full nodes reachable now (the client asks only those in the trusted set). */
  sources: () => CheckpointSource[];
  intervalMs?: number;
  onAccepted?: (accepted: AcceptedCheckpoint) => void;
  onRefused?: (err: LightError) => void;
}

/** Follows accepted checkpoints from trusted full nodes. */
export class LightClient {
  readonly store: CheckpointStore;
  readonly reader: VerifiedReader;
  readonly #opts: LightClientOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  /** Bytes of signed checkpoints received (their JSON size). */
  checkpointBytes = 0;
  /** Bytes of node-set proofs received from full nodes (base64, as on the wire). */
  proofBytes = 0;
  lastError: LightError | undefined;

  constructor(options: LightClientOptions) {
    this.#opts = options;
    this.store = options.store;
    this.reader = options.reader;
  }

  async #ask(source: CheckpointSource, number?: bigint): Promise<SignedCheckpoint | undefined> {
    try {
      const s = await source.fetch(number);
      if (s)
        this.checkpointBytes += JSON.stringify({
          ...s,
          checkpoint: { ...s.checkpoint, number: String(s.checkpoint.number) },
        }).length;
      return s;
    } catch {
      return undefined;
    }
  }

  /** One round: newest checkpoints, signatures over the highest one, acceptance. Null when nothing newer was accepted. */
  async syncOnce(): Promise<AcceptedCheckpoint | null> {
    const trusted = new Set(this.store.trusted());
    const sources = this.#opts.sources().filter((s) => trusted.has(s.address));
    const current = this.store.latest().checkpoint.number;
    const offered = (await Promise.all(sources.map((s) => this.#ask(s)))).filter((s) => s !== undefined);
    const heights = [...new Set(offered.map((s) => s.checkpoint.number).filter((n) => n > current))].sort(
      (a, b) => (a < b ? 1 : a > b ? -1 : 0),
    );
    const target = heights[0];
    if (target === undefined) return null;
    const signatures = offered.filter((s) => s.checkpoint.number === target);
    const missing = sources.filter((src) => !signatures.some((s) => s.signer === src.address));
    for (const s of await Promise.all(missing.map((src) => this.#ask(src, target))))
      if (s) signatures.push(s);
    // The block most trusted signers named at that height is the candidate; the store refuses forks.
    const votes = new Map<string, { s: SignedCheckpoint; n: number }>();
    for (const s of signatures) {
      const k = s.checkpoint.blockHash;
      const v = votes.get(k);
      if (v) v.n++;
      else votes.set(k, { s, n: 1 });
    }
    const candidate = [...votes.values()].sort((a, b) => b.n - a.n)[0]!.s.checkpoint;
    try {
      const accepted = await this.store.accept(candidate, signatures, (cp, previous) =>
        this.#proveNodeSet(sources, cp, previous),
      );
      this.lastError = undefined;
      this.#opts.onAccepted?.(accepted);
      return accepted;
    } catch (err) {
      if (!(err instanceof LightError)) throw err;
      this.lastError = err;
      this.#opts.onRefused?.(err);
      return null;
    }
  }

  /**
   * The node set at `cp`: from a full node's compact proof (verified here like any answer; the first
   * that verifies wins), else proven slot by slot through the RPCs.
   */
  async #proveNodeSet(sources: CheckpointSource[], cp: Checkpoint, previous: Address[]): Promise<Address[]> {
    for (const source of sources) {
      if (!source.nodeSetProof) continue;
      try {
        const proof = await source.nodeSetProof(cp.number);
        if (!proof) continue;
        this.proofBytes += Math.ceil(proof.length / 3) * 4;
        return await this.reader.nodeSetFromProof(cp, proof);
      } catch (err) {
        if (err instanceof LightError) this.#opts.onRefused?.(err);
      }
    }
    return this.reader.nodeSet(cp, previous);
  }

  /** Syncs every interval until stopped. */
  start(): void {
    if (this.#timer) return;
    const tick = () => {
      this.#running = this.syncOnce()
        .catch((err: Error) =>
          this.#opts.onRefused?.(new LightError('RPC_FAILED', err.message, { cause: err })),
        )
        .finally(() => {
          if (this.#timer)
            this.#timer = setTimeout(tick, this.#opts.intervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS).unref();
        });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
