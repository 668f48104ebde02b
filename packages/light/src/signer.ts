/**
 * The full node's side: sign the head of the chain it runs or fully trusts, periodically, and
 * answer requests for a recent height (so light nodes can gather several signers' signatures over
 * one block). Signed checkpoints are kept for a bounded window.
 */
import type { Address, Hex } from 'viem';
import { type CheckpointSigningKey, type SignedCheckpoint, signCheckpoint } from './checkpoint.ts';
import { DEFAULT_SIGN_INTERVAL_MS, SIGN_WINDOW_BLOCKS } from './constants.ts';

/** A block of the trusted chain. */
export interface TrustedBlock {
  number: bigint;
  hash: Hex;
  stateRoot: Hex;
}

/** Options of {@link CheckpointSigner}. */
export interface CheckpointSignerOptions {
  key: CheckpointSigningKey;
  chainId: number;
  registry: Address;
  /** Reads a block from the chain this node runs or fully trusts; null when it has no such block. */
  readBlock: (at: bigint | 'latest') => Promise<TrustedBlock | null>;
  intervalMs?: number;
  onError?: (err: Error) => void;
}

/** Signs checkpoints of a trusted chain. */
export class CheckpointSigner {
  readonly #opts: CheckpointSignerOptions;
  #signed = new Map<bigint, SignedCheckpoint>();
  #latest: SignedCheckpoint | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Checkpoints signed so far. */
  count = 0;

  constructor(options: CheckpointSignerOptions) {
    this.#opts = options;
  }

  /** The newest signed checkpoint. */
  latest(): SignedCheckpoint | undefined {
    return this.#latest;
  }

  #sign(block: TrustedBlock): SignedCheckpoint {
    const hit = this.#signed.get(block.number);
    if (hit && hit.checkpoint.blockHash === block.hash) return hit;
    const signed = signCheckpoint(
      this.#opts.key,
      {
        chainId: this.#opts.chainId,
        number: block.number,
        blockHash: block.hash,
        stateRoot: block.stateRoot,
      },
      this.#opts.registry,
    );
    this.count++;
    this.#signed.set(block.number, signed);
    for (const n of this.#signed.keys()) if (n + SIGN_WINDOW_BLOCKS < block.number) this.#signed.delete(n);
    return signed;
  }

  /** Signs the chain's head now. */
  async signLatest(): Promise<SignedCheckpoint | undefined> {
    const block = await this.#opts.readBlock('latest');
    if (!block) return this.#latest;
    const signed = this.#sign(block);
    if (!this.#latest || signed.checkpoint.number >= this.#latest.checkpoint.number) this.#latest = signed;
    return signed;
  }

  /** A signature over block `number`, if it lies within the signing window behind the head. */
  async signAt(number: bigint): Promise<SignedCheckpoint | undefined> {
    const hit = this.#signed.get(number);
    if (hit) return hit;
    const head = this.#latest?.checkpoint.number ?? (await this.signLatest())?.checkpoint.number;
    if (head === undefined || number > head + 1n || number + SIGN_WINDOW_BLOCKS < head) return undefined;
    const block = await this.#opts.readBlock(number);
    return block ? this.#sign(block) : undefined;
  }

  /** Signs the head every interval until stopped. */
  start(): void {
    if (this.#timer) return;
    const tick = () => {
      this.signLatest()
        .catch((err: Error) => this.#opts.onError?.(err))
        .finally(() => {
          if (this.#timer)
            this.#timer = setTimeout(tick, this.#opts.intervalMs ?? DEFAULT_SIGN_INTERVAL_MS).unref();
        });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
