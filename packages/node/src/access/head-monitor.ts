/**
 * Polls the chain head on its own loop, apart from the mirror's event watcher, and feeds it to the
 * ChainView: a watcher that hangs or falls behind cannot report itself fresh, and an RPC endpoint
 * that stops answering shows up as a head that has not been read for a while.
 */
import type { ChainView, ChainViewState, ChainViewStatus } from '@dibs/core';
import type { PublicClient } from 'viem';
import type { Logger } from '../daemon/log.ts';
import { HEAD_POLL_INTERVAL_MS, HEAD_POLL_TIMEOUT_MS } from './constants.ts';

/** Options of {@link ChainHeadMonitor}. */
export interface ChainHeadMonitorOptions {
  publicClient: Pick<PublicClient, 'request'>;
  view: ChainView;
  log: Logger;
  /** Blocks the mirror stays behind the head (its `confirmations`); default 0. */
  confirmations?: number;
  pollIntervalMs?: number;
  timeoutMs?: number;
  /** Called when the view's state changes (fresh → stale → closing and back). */
  onState?: (status: ChainViewStatus) => void;
}

/** The head poll of one node. */
export class ChainHeadMonitor {
  readonly #o: ChainHeadMonitorOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #state: ChainViewState | undefined;

  constructor(options: ChainHeadMonitorOptions) {
    this.#o = options;
  }

  /** Polls now, then every interval until `stop()`. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const loop = async () => {
      await this.pollOnce();
      if (this.#stopped) return;
      this.#timer = setTimeout(loop, this.#o.pollIntervalMs ?? HEAD_POLL_INTERVAL_MS);
      this.#timer.unref();
    };
    void loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One head read (bounded by the timeout), then a state check. */
  async pollOnce(): Promise<void> {
    const { view, publicClient } = this.#o;
    const timeoutMs = this.#o.timeoutMs ?? HEAD_POLL_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      const hex = await Promise.race([
        publicClient.request({ method: 'eth_blockNumber' }) as Promise<string>,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      const head = BigInt(hex) - BigInt(this.#o.confirmations ?? 0);
      if (head >= 0n) view.observeHead(head);
    } catch (err) {
      this.#o.log.debug('chain head poll failed', { error: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
    this.#checkState();
  }

  #checkState(): void {
    const status = this.#o.view.status();
    if (status.state === this.#state) return;
    const first = this.#state === undefined;
    this.#state = status.state;
    if (status.state === 'fresh') {
      if (!first) this.#o.log.info('chain view is fresh again: tickets are accepted', lagFields(status));
    } else {
      this.#o.log.warn(
        status.state === 'stale'
          ? 'chain view is stale: new tickets are refused (CHAIN_STALE)'
          : 'chain view is stale past the session bound: live sessions are closed (CHAIN_STALE)',
        { ...lagFields(status), reason: status.reason },
      );
    }
    this.#o.onState?.(status);
  }
}

/** The status as plain JSON-able fields (logs, status pages). */
export function lagFields(s: ChainViewStatus): {
  state: ChainViewState;
  headBlock: string | null;
  syncedBlock: string;
  lagBlocks: number;
  lagMs: number;
} {
  return {
    state: s.state,
    headBlock: s.headBlock === null ? null : s.headBlock.toString(),
    syncedBlock: s.syncedBlock.toString(),
    lagBlocks: s.lagBlocks,
    lagMs: s.lagMs,
  };
}
