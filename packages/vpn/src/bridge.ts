/**
 * The datagram bridge for relayed paths: a loopback UDP socket in the node that WireGuard uses as its
 * peer's endpoint; each datagram crosses the DIBS tunnel channel (already authenticated and encrypted,
 * possibly through a relay) with a 2-byte big-endian length in front, and leaves the other node's
 * bridge towards its WireGuard port. WireGuard's own crypto stays end to end; the bridge only moves
 * opaque datagrams, as DERP does.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import {
  BRIDGE_BATCH_BYTES,
  BRIDGE_DELIVERY_QUEUE_BYTES,
  BRIDGE_DELIVERY_RETRY_MS,
  BRIDGE_DELIVERY_WINDOW_SHARE,
  BRIDGE_FRAME_HEADER_BYTES,
  BRIDGE_QUEUE_BYTES,
  BRIDGE_SOCKET_BUFFER_BYTES,
  MAX_BRIDGE_DATAGRAM_BYTES,
  MIN_BRIDGE_DATAGRAM_BYTES,
} from './constants.ts';
import { VpnError } from './errors.ts';
import { DeliveryPacer, udpReceiveQueue } from './pacer.ts';

/** Counters of one bridge. */
export interface BridgeStats {
  /** Datagrams from the channel delivered to WireGuard. */
  datagramsIn: number;
  /** Datagrams from WireGuard sent on the channel. */
  datagramsOut: number;
  /** Datagrams dropped because the channel was backed up. */
  dropped: number;
  /** Datagrams from the channel that waited for room in WireGuard's receive buffer (pacer.ts). */
  paced: number;
  /** Writes to the channel (each a batch of datagrams, one record). */
  batches: number;
}

/**
 * Splits a byte stream into length-prefixed datagrams; throws MALFORMED on a bad length. A datagram that
 * lies whole in one chunk comes out as a view of that chunk (no copy): the caller must not reuse a
 * chunk's memory while it holds the datagrams cut from it. Only a datagram split across chunks is
 * gathered into a buffer of its own.
 */
export class FrameReader {
  readonly #head = Buffer.alloc(BRIDGE_FRAME_HEADER_BYTES);
  #headHave = 0;
  /** The datagram being gathered across chunks, and how much of it arrived. */
  #partial: Buffer | undefined;
  #partialHave = 0;

  /** Adds bytes; returns every datagram completed by them. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.feed(chunk, (d) => out.push(d));
    return out;
  }

  /** Adds bytes; calls `onDatagram` for each datagram they complete, in order. */
  feed(chunk: Buffer, onDatagram: (datagram: Buffer) => void): void {
    const n = chunk.length;
    let at = 0;
    while (at < n) {
      const partial = this.#partial;
      if (partial !== undefined) {
        const take = Math.min(partial.length - this.#partialHave, n - at);
        chunk.copy(partial, this.#partialHave, at, at + take);
        this.#partialHave += take;
        at += take;
        if (this.#partialHave < partial.length) return;
        this.#partial = undefined;
        onDatagram(partial);
        continue;
      }
      let length: number;
      if (this.#headHave === 0 && n - at >= BRIDGE_FRAME_HEADER_BYTES) {
        length = chunk.readUInt16BE(at);
        at += BRIDGE_FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(BRIDGE_FRAME_HEADER_BYTES - this.#headHave, n - at);
        chunk.copy(this.#head, this.#headHave, at, at + take);
        this.#headHave += take;
        at += take;
        if (this.#headHave < BRIDGE_FRAME_HEADER_BYTES) return;
        this.#headHave = 0;
        length = this.#head.readUInt16BE(0);
      }
      if (length < MIN_BRIDGE_DATAGRAM_BYTES) {
        throw new VpnError(
          'MALFORMED',
          `bridged datagram of ${length} bytes is shorter than any WireGuard message`,
        );
      }
      if (n - at >= length) {
        onDatagram(chunk.subarray(at, at + length));
        at += length;
      } else {
        this.#partial = Buffer.allocUnsafe(length);
        this.#partialHave = 0;
      }
    }
  }
}

/** Frames one datagram. */
export function frameDatagram(datagram: Buffer): Buffer {
  if (datagram.length > MAX_BRIDGE_DATAGRAM_BYTES) {
    throw new VpnError('TOO_LARGE', `datagram of ${datagram.length} bytes is too large to bridge`);
  }
  const out = Buffer.allocUnsafe(BRIDGE_FRAME_HEADER_BYTES + datagram.length);
  out.writeUInt16BE(datagram.length, 0);
  datagram.copy(out, BRIDGE_FRAME_HEADER_BYTES);
  return out;
}

/**
 * The receive buffer a socket gets unless it asks for another (net.core.rmem_default): what
 * wireguard-go's socket has. Read once per bridge; 208 KiB, Linux's default, where it cannot be read.
 */
function receiveBufferBytes(): number {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/net/core/rmem_default', 'latin1'), 10);
    if (Number.isSafeInteger(n) && n > 0) return n;
  } catch {}
  return DEFAULT_RECEIVE_BUFFER_BYTES;
}
const DEFAULT_RECEIVE_BUFFER_BYTES = 212_992;

/** Options of {@link DatagramBridge.open}. */
export interface BridgeOptions {
  /** The tunnel channel (a byte stream both ways). */
  channel: Duplex;
  /** The local WireGuard's UDP port (the only source the bridge accepts, and where it delivers). */
  wireguardPort: number;
  /** Called once when the bridge stops working (channel closed or garbage on it). */
  onClose?: (error: Error | undefined) => void;
}

/** One bridge between a local WireGuard port and a tunnel channel. */
export class DatagramBridge {
  readonly #socket: Socket;
  readonly #channel: Duplex;
  readonly #wgPort: number;
  readonly #reader = new FrameReader();
  readonly #stats = { datagramsIn: 0, datagramsOut: 0, dropped: 0 };
  #pacer: DeliveryPacer | undefined;
  #receiver: { close: () => void } | undefined;
  #closed = false;
  /**
   * Frames read from WireGuard in this turn of the event loop, gathered in one buffer (each datagram
   * copied once, behind its length) and written to the channel as one write, one sealed record.
   */
  #batch: Buffer | undefined;
  #batchBytes = 0;
  #flushScheduled = false;
  #flushes = 0;
  #onClose: ((error: Error | undefined) => void) | undefined;

  private constructor(socket: Socket, options: BridgeOptions) {
    this.#socket = socket;
    this.#channel = options.channel;
    this.#wgPort = options.wireguardPort;
    this.#onClose = options.onClose;
  }

  /** Binds the loopback socket and starts moving datagrams both ways. */
  static async open(options: BridgeOptions): Promise<DatagramBridge> {
    const socket = createSocket({
      type: 'udp4',
      recvBufferSize: BRIDGE_SOCKET_BUFFER_BYTES,
      sendBufferSize: BRIDGE_SOCKET_BUFFER_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        // Connected to WireGuard's port: the kernel drops datagrams from anyone else, sends skip a lookup.
        socket.connect(options.wireguardPort, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
    });
    const bridge = new DatagramBridge(socket, options);
    bridge.#start();
    return bridge;
  }

  /** Counters so far. */
  get stats(): BridgeStats {
    return { ...this.#stats, paced: this.#pacer?.delayed ?? 0, batches: this.#flushes };
  }

  /** The loopback port WireGuard should send to. */
  get port(): number {
    return this.#socket.address().port;
  }

  /** `127.0.0.1:port`, as a WireGuard endpoint. */
  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  #start(): void {
    const channel = this.#channel;
    this.#socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      // Only our own WireGuard may use the bridge.
      if (rinfo.port !== this.#wgPort || rinfo.address !== '127.0.0.1' || this.#closed) return;
      if (channel.writableLength > BRIDGE_QUEUE_BYTES) {
        this.#stats.dropped++;
        return;
      }
      this.#stats.datagramsOut++;
      this.#gather(msg);
    });
    this.#socket.on('error', (err) =>
      this.close(new VpnError('BRIDGE_FAILED', `bridge socket: ${err.message}`)),
    );
    // Each datagram is a view of the opened record it came in (the channel's own buffer, not reused),
    // sent as it is (the kernel copies it), paced so that a burst from the channel does not overflow
    // WireGuard's receive buffer.
    const socket = this.#socket;
    const receiver = udpReceiveQueue(this.#wgPort);
    this.#receiver = receiver;
    const pacer = new DeliveryPacer({
      send: (d) => socket.send(d),
      onFull: (full) => (full ? channel.pause() : channel.resume()),
      windowBytes: Math.floor(receiveBufferBytes() * BRIDGE_DELIVERY_WINDOW_SHARE),
      queueBytes: BRIDGE_DELIVERY_QUEUE_BYTES,
      receiverQueue: receiver.read,
      retryMs: BRIDGE_DELIVERY_RETRY_MS,
    });
    this.#pacer = pacer;
    const onDatagram = (d: Buffer) => {
      this.#stats.datagramsIn++;
      pacer.push(d);
    };
    channel.on('data', (chunk: Buffer) => {
      try {
        this.#reader.feed(chunk, onDatagram);
      } catch (err) {
        this.close(err as Error);
      }
    });
    channel.once('close', () => this.close(undefined));
    channel.once('end', () => this.close(undefined));
    channel.on('error', (err: Error) => this.close(err));
  }

  /** Adds one datagram from WireGuard to this turn's batch. */
  #gather(msg: Buffer): void {
    const need = BRIDGE_FRAME_HEADER_BYTES + msg.length;
    if (this.#batch !== undefined && this.#batchBytes + need > this.#batch.length) this.#flush();
    if (this.#batch === undefined) {
      this.#batch = Buffer.allocUnsafe(Math.max(BRIDGE_BATCH_BYTES, need));
      this.#batchBytes = 0;
    }
    const batch = this.#batch;
    batch.writeUInt16BE(msg.length, this.#batchBytes);
    msg.copy(batch, this.#batchBytes + BRIDGE_FRAME_HEADER_BYTES);
    this.#batchBytes += need;
    if (!this.#flushScheduled) {
      // The datagrams that arrived together leave together.
      this.#flushScheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  readonly #flushLater = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const batch = this.#batch;
    const bytes = this.#batchBytes;
    this.#batch = undefined;
    this.#batchBytes = 0;
    if (this.#closed || batch === undefined || bytes === 0) return;
    this.#flushes++;
    // The channel owns the batch from here on (a new one is allocated for the next datagrams).
    this.#channel.write(bytes === batch.length ? batch : batch.subarray(0, bytes));
  }

  /** Stops the bridge and closes the channel. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pacer?.close();
    this.#receiver?.close();
    this.#socket.close();
    if (!this.#channel.destroyed) this.#channel.destroy();
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.(error);
  }
}
