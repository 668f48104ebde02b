import { type Address, BaseError, type Hex, NonceTooHighError, NonceTooLowError } from 'viem';
import type { ChainClients } from './clients.ts';
import { TX_QUEUE_NONCE_RETRIES } from './constants.ts';
import { NoAccountError } from './errors.ts';

/** Sends one signed transaction with the nonce it is given; resolves its hash once the node took it. */
export type NoncedSend = (nonce: number) => Promise<Hex>;

/**
 * The one queue of a wallet's writes on one chain in this process. Writes are sent one at a time in
 * the order they were submitted, each with the next nonce counted here, so concurrent writers (a
 * publish, a role update, a grant) never pick the same nonce. Receipts are awaited outside the queue.
 * The count is kept only while writes follow each other; an idle queue asks the chain again, so a
 * chain that lost its last blocks (an embedded chain restarted from its state file) never leaves a
 * write waiting behind a nonce gap.
 */
export class TransactionQueue {
  readonly chainId: number;
  readonly address: Address;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  #inFlight = 0;
  #nextNonce: number | undefined;
  #sent = 0;

  constructor(chainId: number, address: Address) {
    this.chainId = chainId;
    this.address = address;
  }

  /** Writes submitted and not yet handed to the chain (the one being sent included). */
  get depth(): number {
    return this.#waiting;
  }

  /** Writes handed to the chain whose receipt the caller still awaits (see `track`). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Transactions this queue has handed to the chain since the process started. */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Sends one transaction in turn: `send` gets the nonce to sign with. A nonce the chain refuses
   * (another process used this wallet) is read again from the chain and the send retried.
   */
  send(clients: ChainClients, send: NoncedSend): Promise<Hex> {
    return this.#turn(async () => {
      for (let attempt = 0; ; attempt++) {
        const nonce = this.#nextNonce ?? (await this.#chainNonce(clients));
        try {
          const hash = await send(nonce);
          this.#nextNonce = nonce + 1;
          this.#sent += 1;
          return hash;
        } catch (err) {
          // Whether the node kept the transaction is unknown after most failures: ask the chain.
          this.#nextNonce = undefined;
          if (!isNonceError(err) || attempt >= TX_QUEUE_NONCE_RETRIES) throw err;
        }
      }
    });
  }

  /**
   * Runs `work` alone on this wallet (e.g. a deployment that numbers its own transactions); the
   * next write reads the nonce from the chain again.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.#turn(async () => {
      try {
        return await work();
      } finally {
        this.#nextNonce = undefined;
      }
    });
  }

  /** Counts `receipt` as in flight until it settles; returns it unchanged. */
  track<T>(receipt: Promise<T>): Promise<T> {
    this.#inFlight += 1;
    return receipt.finally(() => {
      this.#inFlight -= 1;
      this.#forgetWhenIdle();
    });
  }

  #turn<T>(work: () => Promise<T>): Promise<T> {
    this.#waiting += 1;
    const run = this.#tail.then(work);
    const done = run.finally(() => {
      this.#waiting -= 1;
      this.#forgetWhenIdle();
    });
    this.#tail = done.then(
      () => {},
      () => {},
    );
    return done;
  }

  #forgetWhenIdle(): void {
    if (this.#waiting === 0 && this.#inFlight === 0) this.#nextNonce = undefined;
  }

  async #chainNonce(clients: ChainClients): Promise<number> {
    return clients.publicClient.getTransactionCount({ address: this.address, blockTag: 'pending' });
  }
}

/**
 * True when the node refused a transaction for its nonce (used, or taken by another pending one).
 * "already known" is not one: that transaction itself reached the node, and sending it again under
 * a new nonce would run it twice.
 */
function isNonceError(err: unknown): boolean {
  if (err instanceof BaseError) {
    if (err.walk((e) => e instanceof NonceTooLowError || e instanceof NonceTooHighError)) return true;
  }
  const text = err instanceof BaseError ? `${err.shortMessage} ${err.details}` : String(err);
  return /nonce too (low|high)|replacement transaction underpriced/i.test(text);
}

const queues = new Map<string, TransactionQueue>();

/**
 * The process-wide queue of the signing wallet of `clients` on their chain. Keyed by RPC URL too:
 * two chains may share a chain id (test and dev chains do), and a nonce counted on one would stall
 * the other.
 */
export function transactionQueueFor(clients: ChainClients): TransactionQueue {
  const address = clients.account?.address;
  if (!address) throw new NoAccountError('queue transactions');
  const key = `${clients.chainId}|${clients.rpcUrl}|${address.toLowerCase()}`;
  let queue = queues.get(key);
  if (!queue) {
    queue = new TransactionQueue(clients.chainId, address);
    queues.set(key, queue);
  }
  return queue;
}
