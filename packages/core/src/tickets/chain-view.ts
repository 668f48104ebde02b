/**
 * How far a verifier's view of the chain lags the chain itself, and what that lag allows. The grant
 * cache is only as true as the last block its watcher applied: a revocation in a block the watcher
 * has not seen is invisible to it. So a verifier that cannot show its view is within the revocation
 * bound refuses new tickets (CHAIN_STALE), and past a second, longer bound it closes live sessions.
 *
 * Two sources, kept independent so one stuck part cannot hide itself: the head, polled by its own
 * loop (`observeHead`), and the block the mirror has applied (`observeSynced`). Lag is measured in
 * blocks (head − synced) and in time: how long ago the oldest head block the mirror has not applied
 * was first seen, or — when the head itself cannot be read — how long ago it last was. Time covers
 * slow chains (a stuck watcher behind one 12-second block) and an unreachable RPC endpoint alike.
 */
import {
  DEFAULT_CHAIN_CLOSE_AFTER_BLOCKS,
  DEFAULT_CHAIN_CLOSE_AFTER_MS,
  DEFAULT_CHAIN_REFUSE_AFTER_MS,
  DEFAULT_REVOCATION_MAX_BLOCKS,
  MAX_PENDING_HEADS,
} from './constants.ts';
import { TicketError } from './errors.ts';

/** The two bounds; each is passed when either its block count or its time is exceeded. */
export interface ChainViewBounds {
  /** Refuse new tickets once the view lags more blocks than this; default DEFAULT_REVOCATION_MAX_BLOCKS. */
  refuseAfterBlocks: number;
  /** … or lags longer than this; default DEFAULT_CHAIN_REFUSE_AFTER_MS. */
  refuseAfterMs: number;
  /** Close live sessions once the view lags more blocks than this; default DEFAULT_CHAIN_CLOSE_AFTER_BLOCKS. */
  closeAfterBlocks: number;
  /** … or lags longer than this; default DEFAULT_CHAIN_CLOSE_AFTER_MS. */
  closeAfterMs: number;
}

/** `fresh`: within both bounds; `stale`: new tickets refused; `closing`: live sessions closed too. */
export type ChainViewState = 'fresh' | 'stale' | 'closing';

/** A snapshot of the lag. */
export interface ChainViewStatus {
  state: ChainViewState;
  /** Latest head seen by the head poll (less the confirmations), or null before the first. */
  headBlock: bigint | null;
  /** Highest block the mirror has applied, -1 before its first sync. */
  syncedBlock: bigint;
  lagBlocks: number;
  lagMs: number;
  /** Why the state is not `fresh`, for status pages and errors. */
  reason: string | undefined;
  bounds: ChainViewBounds;
}

/** Options of {@link ChainView}. */
export interface ChainViewOptions extends Partial<ChainViewBounds> {
  /** Clock in Unix ms; default Date.now. */
  now?: () => number;
}

/** The lag of one verifier's chain view (see the module comment). */
export class ChainView {
  readonly bounds: ChainViewBounds;
  #now: () => number;
  #head: bigint | null = null;
  #headAt: number;
  #synced = -1n;
  /** Head blocks not yet applied with the time each was first seen, ascending. */
  #pending: Array<{ block: bigint; at: number }> = [];

  constructor(options: ChainViewOptions = {}) {
    const bounds: ChainViewBounds = {
      refuseAfterBlocks: options.refuseAfterBlocks ?? DEFAULT_REVOCATION_MAX_BLOCKS,
      refuseAfterMs: options.refuseAfterMs ?? DEFAULT_CHAIN_REFUSE_AFTER_MS,
      closeAfterBlocks: options.closeAfterBlocks ?? DEFAULT_CHAIN_CLOSE_AFTER_BLOCKS,
      closeAfterMs: options.closeAfterMs ?? DEFAULT_CHAIN_CLOSE_AFTER_MS,
    };
    for (const [name, v] of Object.entries(bounds)) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new TicketError(
          'INVALID_ARGUMENT',
          `chain view bound ${name} must be a positive integer, got ${v}`,
        );
      }
    }
    if (bounds.closeAfterBlocks < bounds.refuseAfterBlocks || bounds.closeAfterMs < bounds.refuseAfterMs) {
      throw new TicketError(
        'INVALID_ARGUMENT',
        'the bounds for closing sessions must not be shorter than those for refusing new tickets',
      );
    }
    this.bounds = bounds;
    this.#now = options.now ?? Date.now;
    this.#headAt = this.#now();
  }

  /** A successful read of the head (less the confirmations the mirror keeps). */
  observeHead(block: bigint): void {
    const now = this.#now();
    this.#headAt = now;
    if (this.#head === null || block > this.#head) this.#head = block;
    if (block <= this.#synced) return;
    const pending = this.#pending;
    if (pending.length > 0 && pending[pending.length - 1]!.block >= block) return;
    if (pending.length >= MAX_PENDING_HEADS) {
      // Merge the two oldest, keeping the older time with the newer block: never underestimates.
      pending[1] = { block: pending[1]!.block, at: pending[0]!.at };
      pending.shift();
    }
    pending.push({ block, at: now });
  }

  /** The mirror applied every event up to `block`. */
  observeSynced(block: bigint): void {
    if (block > this.#synced) this.#synced = block;
    if (this.#head !== null && block > this.#head) this.#head = block;
    const pending = this.#pending;
    let drop = 0;
    while (drop < pending.length && pending[drop]!.block <= this.#synced) drop++;
    if (drop > 0) pending.splice(0, drop);
  }

  /** Forgets the synced block (the mirror is rebuilding after a rewind). */
  reset(): void {
    this.#synced = -1n;
    this.#pending = [];
  }

  /** The lag now, and what it allows. */
  status(): ChainViewStatus {
    const now = this.#now();
    const b = this.bounds;
    const head = this.#head;
    const lagBlocks = head === null ? 0 : Math.max(0, Number(head - this.#synced));
    const headAge = now - this.#headAt;
    const unapplied = this.#pending.length > 0 ? now - this.#pending[0]!.at : 0;
    const lagMs = Math.max(0, headAge, unapplied);
    let state: ChainViewState = 'fresh';
    let reason: string | undefined;
    if (this.#synced < 0n) {
      state = lagMs > b.closeAfterMs ? 'closing' : 'stale';
      reason = 'the chain mirror has not synced yet';
    } else if (lagBlocks > b.closeAfterBlocks || lagMs > b.closeAfterMs) {
      state = 'closing';
    } else if (lagBlocks > b.refuseAfterBlocks || lagMs > b.refuseAfterMs) {
      state = 'stale';
    }
    if (state !== 'fresh' && !reason) {
      reason =
        headAge >= unapplied && headAge > b.refuseAfterMs
          ? `the chain head could not be read for ${headAge} ms`
          : `the chain mirror is ${lagBlocks} blocks and ${lagMs} ms behind the head`;
    }
    return { state, headBlock: head, syncedBlock: this.#synced, lagBlocks, lagMs, reason, bounds: b };
  }

  /** Throws CHAIN_STALE unless the view is fresh. */
  check(): void {
    const s = this.status();
    if (s.state === 'fresh') return;
    throw new TicketError(
      'CHAIN_STALE',
      `this node's view of the chain is stale (${s.reason}); it refuses tickets until it catches up`,
    );
  }
}
