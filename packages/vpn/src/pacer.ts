/**
 * Delivery of bridged datagrams to the local WireGuard without overflowing its receive buffer.
 *
 * The datagrams of a relayed path arrive from the channel in bursts: one read of the data socket can
 * open a megabyte of records, hundreds of datagrams. wireguard-go 0.0.20220316 keeps the kernel's
 * default UDP receive buffer (net.core.rmem_default, ~208 KiB: about 90 full-size datagrams, each
 * charged at its skb's true size, 2304 bytes for 1452), and on a busy machine its reader is often
 * off the CPU for milliseconds: whatever arrives meanwhile beyond the buffer is dropped by the kernel
 * (Udp RcvbufErrors), and the TCP inside the tunnel takes every such loss as congestion. A fixed pace
 * does not help (a reader starved for 30 ms loses a paced stream as surely as a burst).
 *
 * So the bridge sends against a window: it reads how many bytes wait in WireGuard's socket
 * (`/proc/net/udp`, rx_queue, the same true-size count the kernel compares with the buffer) and
 * sends only what fits under `windowBytes`, charging each datagram its estimated true size. Past
 * that it waits a millisecond and looks again; datagrams queue meanwhile, and past `queueBytes` the
 * caller stops reading the channel (`onFull(true)`): the backlog goes back through TCP to the far
 * side instead of being lost here. Where the queue cannot be read (no procfs, socket not found) the
 * window is refilled every `fallbackMs` blindly, which is a pace.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Options of {@link DeliveryPacer}. */
export interface PacerOptions {
  /** Sends one datagram (synchronously hands it to the kernel). */
  send: (datagram: Buffer) => void;
  /** Called with true when the queue passes `queueBytes`, with false once it is below half of it. */
  onFull: (full: boolean) => void;
  /** Bytes (true size) WireGuard's socket may hold from us at once. */
  windowBytes: number;
  /** Bytes waiting here before the caller is asked to stop reading. */
  queueBytes: number;
  /** Bytes (true size) waiting in the receiver's socket now, or undefined if unknown. */
  receiverQueue: () => number | undefined;
  /** Wait before looking at the receiver again when the window is full, ms. */
  retryMs: number;
}

/** The kernel's charge for one datagram of `length` bytes on a loopback UDP socket, rounded up. */
export function trueSize(length: number): number {
  return length + TRUE_SIZE_OVERHEAD;
}
/** Measured on Linux 6: 1452 bytes → 2304, 200 → 1280, 60 → 832; this overestimates each a little. */
const TRUE_SIZE_OVERHEAD = 1152;

/** A window in front of one UDP receiver. */
export class DeliveryPacer {
  readonly #o: PacerOptions;
  #queue: Buffer[] = [];
  #head = 0;
  #queued = 0;
  /** True-size bytes that may still be sent before the receiver is looked at again. */
  #credit: number;
  #timer: NodeJS.Timeout | undefined;
  #full = false;
  #closed = false;
  /** Datagrams that had to wait for room at the receiver. */
  delayed = 0;
  /** Times the receiver's queue was read. */
  probes = 0;

  constructor(options: PacerOptions) {
    this.#o = options;
    this.#credit = 0;
  }

  /** Bytes waiting here. */
  get queued(): number {
    return this.#queued;
  }

  /** Sends `datagram` now if it fits and nothing waits, else queues it behind the others. */
  push(datagram: Buffer): void {
    if (this.#closed) return;
    if (this.#queued === 0) {
      const cost = trueSize(datagram.length);
      if (this.#credit < cost) this.#look();
      if (this.#credit >= cost) {
        this.#credit -= cost;
        this.#o.send(datagram);
        return;
      }
    }
    this.delayed++;
    this.#queue.push(datagram);
    this.#queued += datagram.length;
    if (!this.#full && this.#queued > this.#o.queueBytes) {
      this.#full = true;
      this.#o.onFull(true);
    }
    this.#timer ??= setTimeout(this.#drain, this.#o.retryMs);
  }

  /** Drops what waits and stops. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#head = 0;
    this.#queued = 0;
  }

  /** Sets the credit from the receiver's queue (or, unknown, to the whole window). */
  #look(): void {
    this.probes++;
    const waiting = this.#o.receiverQueue() ?? 0;
    this.#credit = Math.max(0, this.#o.windowBytes - waiting);
  }

  readonly #drain = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#look();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const d = queue[this.#head]!;
      const cost = trueSize(d.length);
      if (this.#credit < cost) break;
      this.#credit -= cost;
      queue[this.#head++] = EMPTY;
      this.#queued -= d.length;
      this.#o.send(d);
      if (this.#closed) return;
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.#full && this.#queued <= this.#o.queueBytes / 2) {
      this.#full = false;
      this.#o.onFull(false);
    }
    if (this.#queued > 0) this.#timer = setTimeout(this.#drain, this.#o.retryMs);
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads the receive queue (rx_queue, true-size bytes) of the IPv4 UDP socket bound to `port` from
 * `/proc/net/udp` of this network namespace. Returns a reader that answers undefined where that
 * fails (no procfs, no such socket), and a close function for its file.
 */
export function udpReceiveQueue(port: number): { read: () => number | undefined; close: () => void } {
  let fd: number | undefined;
  try {
    fd = openSync('/proc/net/udp', 'r');
  } catch {
    return { read: () => undefined, close: () => {} };
  }
  const needle = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  let buf = Buffer.allocUnsafe(16 * 1024);
  const read = (): number | undefined => {
    if (fd === undefined) return undefined;
    let n = 0;
    try {
      for (;;) {
        if (n === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger);
          buf = bigger;
        }
        const got = readSync(fd, buf, n, buf.length - n, n);
        if (got === 0) break;
        n += got;
      }
    } catch {
      return undefined;
    }
    const text = buf.toString('latin1', 0, n);
    // "  sl  local_address rem_address   st tx_queue rx_queue ...": the local address is the 2nd field.
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
      const lineStart = text.lastIndexOf('\n', at) + 1;
      const fields = text.slice(lineStart, text.indexOf('\n', at)).trim().split(/\s+/);
      if (!fields[1]?.endsWith(needle.trim())) continue;
      const queues = fields[4]?.split(':');
      const rx = queues?.[1] === undefined ? Number.NaN : Number.parseInt(queues[1], 16);
      if (Number.isFinite(rx)) return rx;
    }
    return undefined;
  };
  return {
    read,
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
