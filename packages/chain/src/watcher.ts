import type { Store } from '@dibs/store';
import {
  type Abi,
  type Address,
  decodeEventLog,
  getAddress,
  type Hex,
  type Log,
  type PublicClient,
} from 'viem';
import {
  WATCHER_ERROR_BACKOFF_MS,
  WATCHER_MAX_BLOCK_RANGE,
  WATCHER_MAX_LOGS_PER_RANGE,
  WATCHER_MAX_NAME_LENGTH,
  WATCHER_POLL_INTERVAL_MS,
  WATCHER_REWIND_DEPTH,
  WATCHER_STORE_NAMESPACE,
} from './constants.ts';
import { WatcherError } from './errors.ts';

/** A contract whose events are watched; `name` labels its events. */
export interface WatchedContract {
  name: string;
  address: Address;
  abi: Abi;
}

/** One decoded event log, with its position on chain. */
export interface DecodedEvent {
  contract: string;
  address: Address;
  eventName: string;
  args: Record<string, unknown>;
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash: Hex;
  transactionIndex: number;
}

/** Options of the event watcher. */
export interface EventWatcherOptions {
  /** Identifies the cursor in the database; one process at a time per name. */
  name: string;
  store: Store;
  publicClient: PublicClient;
  contracts: WatchedContract[];
  /**
   * Receives the events of each processed block range in (block, logIndex) order. It runs inside the
   * database transaction that also advances the cursor, so it must be synchronous and write through
   * `store`: its writes and the cursor land together or not at all.
   */
  handler: (events: DecodedEvent[]) => void;
  /** First block to scan when there is no cursor yet (usually the deployment block). */
  fromBlock?: bigint;
  /** Only process blocks this many blocks below the head. */
  confirmations?: number;
  maxBlockRange?: bigint;
  pollIntervalMs?: number;
  /** Called with each new head seen (before processing up to it). */
  onBlock?: (head: bigint) => void;
  /**
   * The chain went back (reorg, or an embedded chain reloaded older state): blocks after
   * `lastValidBlock` are gone. Runs inside the transaction that rewinds the cursor, so state derived
   * from later blocks can be dropped; their replacement events are delivered afterwards. A handler
   * that cannot undo part of its state drops all of it and returns an earlier block (e.g.
   * `fromBlock - 1n`): the cursor goes back there and every event after it is delivered again.
   */
  onRewind?: (lastValidBlock: bigint) => unknown;
  /** Errors of the background loop (it retries after a pause). */
  onError?: (err: Error) => void;
  /**
   * Runs after each background poll, outside its transaction: for work the handler only marked
   * (reads from the chain). Its errors count as the poll's.
   */
  afterPoll?: () => Promise<void>;
}

interface CursorRow {
  block: string;
  block_hash: string | null;
  scope: string;
}

const MIGRATIONS = [
  (db: Store['db']) => {
    db.exec(`CREATE TABLE chain_watchers (
      name TEXT PRIMARY KEY,
      block TEXT NOT NULL,
      block_hash TEXT,
      scope TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    db.exec(`CREATE TABLE chain_watcher_blocks (
      name TEXT NOT NULL,
      block INTEGER NOT NULL,
      block_hash TEXT NOT NULL,
      seq INTEGER NOT NULL,
      PRIMARY KEY (name, seq)
    )`);
  },
];

/** Recent processed block hashes kept per watcher to find where a rewound chain diverged. */
const KEPT_HASHES = 128;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Follows contract events with exactly-once delivery across restarts: each block range's events and
 * the cursor past it are committed in one database transaction.
 */
export class EventWatcher {
  readonly name: string;
  readonly #opts: EventWatcherOptions;
  readonly #byAddress = new Map<string, WatchedContract>();
  readonly #scope: string;
  readonly #fromBlock: bigint;
  #head: bigint | undefined;
  #processed: bigint;
  #running = false;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  #waiters: { block: bigint; resolve: () => void }[] = [];

  constructor(options: EventWatcherOptions) {
    if (!/^[A-Za-z0-9._:-]+$/.test(options.name) || options.name.length > WATCHER_MAX_NAME_LENGTH) {
      throw new WatcherError(
        'INVALID_WATCHER_NAME',
        `watcher name "${options.name}" must be 1-${WATCHER_MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ : -`,
      );
    }
    if (options.contracts.length === 0) {
      throw new WatcherError(
        'NO_CONTRACTS',
        `watcher "${options.name}" needs at least one contract to watch`,
      );
    }
    this.name = options.name;
    this.#opts = options;
    for (const c of options.contracts) this.#byAddress.set(c.address.toLowerCase(), c);
    this.#scope = [...this.#byAddress.keys()].sort().join(',');
    this.#fromBlock = options.fromBlock ?? 0n;
    options.store.migrate(WATCHER_STORE_NAMESPACE, MIGRATIONS);
    this.#processed = this.#readCursor().block;
  }

  /** Last block whose events have been handled (fromBlock - 1 before the first). */
  get processedBlock(): bigint {
    return this.#processed;
  }

  /** Latest head block seen, if any. */
  get headBlock(): bigint | undefined {
    return this.#head;
  }

  /** Blocks between the head and the last processed block. */
  get lag(): bigint | undefined {
    return this.#head === undefined ? undefined : this.#head - this.#processed;
  }

  /** Starts polling in the background until `stop()`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = (async () => {
      while (!abort.signal.aborted) {
        let pause = this.#opts.pollIntervalMs ?? WATCHER_POLL_INTERVAL_MS;
        try {
          await this.pollOnce();
          await this.#opts.afterPoll?.();
        } catch (err) {
          pause = Math.max(pause, WATCHER_ERROR_BACKOFF_MS);
          this.#opts.onError?.(err as Error);
        }
        await sleep(pause, abort.signal);
      }
    })();
  }

  /** Stops polling; resolves once the current range (if any) is committed or abandoned. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Resolves once every block up to `block` is processed; rejects after `timeoutMs`. */
  waitForBlock(block: bigint, timeoutMs: number): Promise<void> {
    if (this.#processed >= block) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        block,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new WatcherError(
            'WAIT_TIMEOUT',
            `watcher "${this.name}" did not reach block ${block} within ${timeoutMs} ms (at ${this.#processed}); is it started and the chain reachable?`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Processes everything up to the current (confirmed) head; returns the last processed block. */
  pollOnce(): Promise<bigint> {
    const run = this.#busy.then(() => this.#catchUp());
    this.#busy = run.catch(() => {});
    return run;
  }

  async #catchUp(): Promise<bigint> {
    const client = this.#opts.publicClient;
    const head = await client.getBlockNumber({ cacheTime: 0 });
    if (this.#head === undefined || head !== this.#head) {
      this.#head = head;
      this.#opts.onBlock?.(head);
    }
    await this.#checkContinuity(head);
    const target = head - BigInt(this.#opts.confirmations ?? 0);
    let range = this.#opts.maxBlockRange ?? WATCHER_MAX_BLOCK_RANGE;
    while (this.#processed < target) {
      if (this.#loop && !this.#running) break;
      const from = this.#processed + 1n;
      const to = from + range - 1n < target ? from + range - 1n : target;
      let logs: Log[];
      try {
        logs = await client.getLogs({
          address: this.#opts.contracts.map((c) => c.address),
          fromBlock: from,
          toBlock: to,
        });
      } catch (err) {
        // Providers refuse ranges with too many results: halve and retry; a single block must work.
        if (range > 1n) {
          range = range / 2n;
          continue;
        }
        throw err;
      }
      if (logs.length > WATCHER_MAX_LOGS_PER_RANGE && to > from) {
        range = (to - from + 1n) / 2n;
        continue;
      }
      const block = await client.getBlock({ blockNumber: to });
      this.#commit(from, to, block.hash, this.#decode(logs));
      range = this.#opts.maxBlockRange ?? WATCHER_MAX_BLOCK_RANGE;
    }
    return this.#processed;
  }

  #decode(logs: Log[]): DecodedEvent[] {
    const events: DecodedEvent[] = [];
    for (const log of logs) {
      if (log.removed || log.blockNumber === null || log.logIndex === null) continue;
      const contract = this.#byAddress.get(log.address.toLowerCase());
      if (!contract) continue;
      let decoded: { eventName: string; args: unknown };
      try {
        decoded = decodeEventLog({ abi: contract.abi, data: log.data, topics: log.topics, strict: true });
      } catch {
        continue; // an event this ABI does not know (e.g. from a newer contract version)
      }
      events.push({
        contract: contract.name,
        address: getAddress(log.address),
        eventName: decoded.eventName,
        args: (decoded.args ?? {}) as Record<string, unknown>,
        blockNumber: log.blockNumber,
        blockHash: log.blockHash as Hex,
        logIndex: log.logIndex,
        transactionHash: log.transactionHash as Hex,
        transactionIndex: log.transactionIndex ?? 0,
      });
    }
    events.sort((a, b) =>
      a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
    );
    return events;
  }

  #readCursor(): { block: bigint; hash: string | null; scope: string | null } {
    const row = this.#opts.store.db
      .prepare('SELECT block, block_hash, scope FROM chain_watchers WHERE name = ?')
      .get(this.name) as CursorRow | undefined;
    if (!row) return { block: this.#fromBlock - 1n, hash: null, scope: null };
    return { block: BigInt(row.block), hash: row.block_hash, scope: row.scope };
  }

  #writeCursor(block: bigint, hash: string | null): void {
    this.#opts.store.run(
      `INSERT INTO chain_watchers (name, block, block_hash, scope, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET block = excluded.block, block_hash = excluded.block_hash,
         scope = excluded.scope, updated_at = excluded.updated_at`,
      this.name,
      block.toString(),
      hash,
      this.#scope,
      Date.now(),
    );
  }

  /** Handles one range and advances the cursor in a single transaction. */
  #commit(from: bigint, to: bigint, hash: Hex, events: DecodedEvent[]): void {
    const { store } = this.#opts;
    store.transaction(() => {
      const current = this.#readCursor();
      // Another process with the same watcher name moved the cursor: never handle a range twice.
      if (current.block !== from - 1n) {
        throw new WatcherError(
          'CURSOR_MOVED',
          `watcher "${this.name}" expected its cursor at block ${from - 1n} but found ${current.block}; run one watcher per name and database`,
        );
      }
      if (events.length > 0) {
        const result = this.#opts.handler(events) as unknown;
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          throw new WatcherError(
            'ASYNC_HANDLER',
            `the handler of watcher "${this.name}" returned a promise; it must be synchronous so its writes commit with the cursor`,
          );
        }
      }
      this.#writeCursor(to, hash);
      const seq = Number(
        (
          store.db
            .prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM chain_watcher_blocks WHERE name = ?')
            .get(this.name) as { next: number }
        ).next,
      );
      store.run(
        'INSERT INTO chain_watcher_blocks (name, block, block_hash, seq) VALUES (?, ?, ?, ?)',
        this.name,
        to,
        hash,
        seq,
      );
      store.run('DELETE FROM chain_watcher_blocks WHERE name = ? AND seq <= ?', this.name, seq - KEPT_HASHES);
    });
    this.#processed = to;
    const ready = this.#waiters.filter((w) => w.block <= to);
    this.#waiters = this.#waiters.filter((w) => w.block > to);
    for (const w of ready) w.resolve();
  }

  /**
   * Detects a chain that went back under the cursor (or a changed set of contracts) and rewinds to
   * the newest processed block that is still on the chain.
   */
  async #checkContinuity(head: bigint): Promise<void> {
    const cursor = this.#readCursor();
    this.#processed = cursor.block;
    if (cursor.scope !== null && cursor.scope !== this.#scope) {
      this.#rewind(this.#fromBlock - 1n, null, 'the watched contracts changed');
      return;
    }
    if (cursor.hash === null || cursor.block < this.#fromBlock) return;
    if (cursor.block <= head) {
      const block = await this.#opts.publicClient.getBlock({ blockNumber: cursor.block }).catch(() => null);
      if (block?.hash === cursor.hash) return;
    }
    const recent = this.#opts.store.db
      .prepare('SELECT block, block_hash FROM chain_watcher_blocks WHERE name = ? ORDER BY seq DESC')
      .all(this.name) as { block: number; block_hash: string }[];
    for (const r of recent) {
      const n = BigInt(r.block);
      if (n > head) continue;
      const block = await this.#opts.publicClient.getBlock({ blockNumber: n }).catch(() => null);
      if (block?.hash === r.block_hash) {
        this.#rewind(n, r.block_hash, `block ${cursor.block} is no longer on the chain`);
        return;
      }
    }
    const fallback = cursor.block - WATCHER_REWIND_DEPTH;
    this.#rewind(
      fallback < this.#fromBlock - 1n ? this.#fromBlock - 1n : fallback,
      null,
      `block ${cursor.block} is no longer on the chain and no recent block matches`,
    );
  }

  #rewind(to: bigint, toHash: string | null, why: string): void {
    const { store } = this.#opts;
    let block = to;
    let hash = toHash;
    store.transaction(() => {
      const further = this.#opts.onRewind?.(block);
      if (typeof further === 'bigint' && further < block) {
        block = further < this.#fromBlock - 1n ? this.#fromBlock - 1n : further;
        hash = null;
      }
      this.#writeCursor(block, hash);
      store.run('DELETE FROM chain_watcher_blocks WHERE name = ? AND block > ?', this.name, block);
    });
    this.#processed = block;
    this.#opts.onError?.(
      new WatcherError('CHAIN_REWOUND', `watcher "${this.name}": ${why}; continuing after block ${block}`),
    );
  }
}
