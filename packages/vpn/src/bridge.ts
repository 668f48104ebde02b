/**
 * The datagram bridge for relayed paths: a loopback UDP socket in the node that WireGuard uses as its
 * peer's endpoint; each datagram crosses the DIBS tunnel channel (already authenticated and encrypted,
 * possibly through a relay) with a 2-byte big-endian length in front, and leaves the other node's
 * bridge towards its WireGuard port. WireGuard's own crypto stays end to end; the bridge only moves
 * opaque datagrams, as DERP does.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Duplex } from 'node:stream';
import {
  BRIDGE_FRAME_HEADER_BYTES,
  BRIDGE_QUEUE_BYTES,
  MAX_BRIDGE_DATAGRAM_BYTES,
  MIN_BRIDGE_DATAGRAM_BYTES,
} from './constants.ts';
import { VpnError } from './errors.ts';

/** Counters of one bridge. */
export interface BridgeStats {
  /** Datagrams from the channel delivered to WireGuard. */
  datagramsIn: number;
  /** Datagrams from WireGuard sent on the channel. */
  datagramsOut: number;
  /** Datagrams dropped because the channel was backed up. */
  dropped: number;
}

/** Splits a byte stream into length-prefixed datagrams; throws MALFORMED on a bad length. */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns every datagram completed by them. */
  push(chunk: Buffer): Buffer[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: Buffer[] = [];
    let offset = 0;
    while (this.#buffer.length - offset >= BRIDGE_FRAME_HEADER_BYTES) {
      const length = this.#buffer.readUInt16BE(offset);
      if (length < MIN_BRIDGE_DATAGRAM_BYTES) {
        throw new VpnError(
          'MALFORMED',
          `bridged datagram of ${length} bytes is shorter than any WireGuard message`,
        );
      }
      if (this.#buffer.length - offset - BRIDGE_FRAME_HEADER_BYTES < length) break;
      const start = offset + BRIDGE_FRAME_HEADER_BYTES;
      out.push(Buffer.from(this.#buffer.subarray(start, start + length)));
      offset = start + length;
    }
    this.#buffer = offset === this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(offset);
    return out;
  }
}

/** Frames one datagram. */
export function frameDatagram(datagram: Buffer): Buffer {
  if (datagram.length > MAX_BRIDGE_DATAGRAM_BYTES) {
    throw new VpnError('TOO_LARGE', `datagram of ${datagram.length} bytes is too large to bridge`);
  }
  const header = Buffer.allocUnsafe(BRIDGE_FRAME_HEADER_BYTES);
  header.writeUInt16BE(datagram.length, 0);
  return Buffer.concat([header, datagram]);
}

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
  readonly stats: BridgeStats = { datagramsIn: 0, datagramsOut: 0, dropped: 0 };
  #closed = false;
  /** Frames read from WireGuard in this turn of the event loop, written to the channel as one batch. */
  #batch: Buffer[] = [];
  #flushScheduled = false;
  #onClose: ((error: Error | undefined) => void) | undefined;

  private constructor(socket: Socket, options: BridgeOptions) {
    this.#socket = socket;
    this.#channel = options.channel;
    this.#wgPort = options.wireguardPort;
    this.#onClose = options.onClose;
  }

  /** Binds the loopback socket and starts moving datagrams both ways. */
  static async open(options: BridgeOptions): Promise<DatagramBridge> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
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
        this.stats.dropped++;
        return;
      }
      this.stats.datagramsOut++;
      this.#batch.push(frameDatagram(msg));
      if (!this.#flushScheduled) {
        // The datagrams that arrived together leave together: one channel write, one sealed record.
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
    this.#socket.on('error', (err) =>
      this.close(new VpnError('BRIDGE_FAILED', `bridge socket: ${err.message}`)),
    );
    channel.on('data', (chunk: Buffer) => {
      let datagrams: Buffer[];
      try {
        datagrams = this.#reader.push(chunk);
      } catch (err) {
        this.close(err as Error);
        return;
      }
      for (const d of datagrams) {
        this.stats.datagramsIn++;
        this.#socket.send(d);
      }
    });
    channel.once('close', () => this.close(undefined));
    channel.once('end', () => this.close(undefined));
    channel.on('error', (err: Error) => this.close(err));
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#batch;
    this.#batch = [];
    if (this.#closed || batch.length === 0) return;
    this.#channel.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  }

  /** Stops the bridge and closes the channel. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    if (!this.#channel.destroyed) this.#channel.destroy();
    const cb = this.#onClose;
    this.#onClose = undefined;
    cb?.(error);
  }
}
