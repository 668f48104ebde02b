/**
 * The data channel as a Duplex: bytes written are sealed into records on a plain TCP socket, records
 * read are opened and pushed. Backpressure runs both ways (socket drain ↔ write callbacks, readable
 * buffer ↔ socket pause); a FIN record carries half-close; a TCP end without FIN is a truncation.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { CHANNEL_HIGH_WATER_MARK, MAX_RECORD_PLAINTEXT } from './constants.ts';
import { TunnelError } from './errors.ts';
import type { RecordOpener, RecordSealer } from './record.ts';

/** Options of {@link SecureChannel}. */
export interface SecureChannelOptions {
  socket: Socket;
  sealer: RecordSealer;
  opener: RecordOpener;
  /** Bytes already read from the socket behind the handshake. */
  leftover?: Buffer;
  /** Largest record this side sends; default MAX_RECORD_PLAINTEXT. */
  recordBytes?: number;
}

/** An encrypted, authenticated byte stream over one TCP connection. */
export class SecureChannel extends Duplex {
  readonly socket: Socket;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;
  readonly #recordBytes: number;
  #bytesIn = 0;
  #bytesOut = 0;
  #remoteEnded = false;
  #full = false;

  constructor(options: SecureChannelOptions) {
    const recordBytes = Math.min(options.recordBytes ?? MAX_RECORD_PLAINTEXT, MAX_RECORD_PLAINTEXT);
    super({
      allowHalfOpen: true,
      writableHighWaterMark: CHANNEL_HIGH_WATER_MARK,
      readableHighWaterMark: CHANNEL_HIGH_WATER_MARK,
    });
    this.socket = options.socket;
    this.#sealer = options.sealer;
    this.#opener = options.opener;
    this.#recordBytes = recordBytes;
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      if (!this.#remoteEnded) {
        this.destroy(
          new TunnelError(
            'TRUNCATED',
            'the data connection ended without a final record; the tunnel was cut',
          ),
        );
      }
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.destroyed && !(this.#remoteEnded && this.writableFinished)) {
        this.destroy(new TunnelError('CLOSED', 'the data connection closed'));
      }
    });
    if (options.leftover && options.leftover.length > 0) {
      const leftover = options.leftover;
      queueMicrotask(() => this.#onData(leftover));
    }
    // Read ahead up to the high-water mark even before anyone reads, so a close or reset is seen.
    queueMicrotask(() => {
      if (!this.destroyed && socket.isPaused() && this.readableLength < this.readableHighWaterMark)
        socket.resume();
    });
  }

  /** Plaintext bytes received from the peer. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Plaintext bytes sent to the peer. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  #onData(chunk: Buffer): void {
    if (this.destroyed) return;
    this.#full = false;
    try {
      this.#opener.feed(chunk, this.#onRecord);
    } catch (err) {
      // A bad record ends the channel at once; nothing it carried reaches the other side.
      this.socket.destroy();
      this.destroy(err as Error);
      return;
    }
    if (this.#full && !this.destroyed) this.socket.pause();
  }

  readonly #onRecord = (parts: Buffer[], fin: boolean): void => {
    if (this.destroyed) return;
    if (fin) {
      this.#remoteEnded = true;
      this.push(null);
      return;
    }
    for (const part of parts) {
      if (part.length === 0) continue;
      this.#bytesIn += part.length;
      if (!this.push(part)) this.#full = true;
    }
  };

  override _read(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send([chunk], callback);
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  #send(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    const socket = this.socket;
    let ok = true;
    try {
      socket.cork();
      // Small writes are gathered into records of up to recordBytes; big ones are split.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        if (pendingBytes === 0) return;
        const plain = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        for (const part of this.#sealer.seal(plain)) ok = socket.write(part);
        this.#bytesOut += pendingBytes;
        pending = [];
        pendingBytes = 0;
      };
      for (const chunk of chunks) {
        for (let at = 0; at < chunk.length; ) {
          const take = Math.min(chunk.length - at, this.#recordBytes - pendingBytes);
          pending.push(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
          pendingBytes += take;
          at += take;
          if (pendingBytes === this.#recordBytes) flush();
        }
      }
      flush();
    } catch (err) {
      socket.uncork();
      callback(err as Error);
      return;
    }
    socket.uncork();
    if (ok) callback();
    else socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      for (const part of this.#sealer.seal(new Uint8Array(0), true)) this.socket.write(part);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Only a channel that finished both ways ends politely; anything else is cut so the peer sees it.
    if (error || !(this.#remoteEnded && this.writableFinished)) this.socket.destroy();
    else this.socket.end();
    callback(error);
  }
}
