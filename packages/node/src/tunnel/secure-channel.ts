/**
 * The data channel as a Duplex: bytes written are sealed into records on a plain TCP socket, records
 * read are opened and pushed. Backpressure runs both ways (socket drain ↔ write callbacks, readable
 * buffer ↔ socket pause); a FIN record carries half-close; a TCP end without FIN is a truncation.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { CHANNEL_HIGH_WATER_MARK, MAX_RECORD_PLAINTEXT, SMALL_RECORD_BYTES } from './constants.ts';
import { TunnelError } from './errors.ts';
import { readInto, resumeOnDrain } from './read-buffer.ts';
import type { RecordOpener, RecordSealer } from './record.ts';
import { writeOwned } from './release.ts';

/** Options of {@link SecureChannel}. */
export interface SecureChannelOptions {
  socket: Socket;
  sealer: RecordSealer;
  opener: RecordOpener;
  /** Bytes already read from the socket behind the handshake. */
  leftover?: Buffer;
  /** Largest record this side sends; default MAX_RECORD_PLAINTEXT. */
  recordBytes?: number;
  /**
   * Whether small reads on this channel (and on the socket pumped into it) may start busy polling
   * (busy-poll.ts); default true. A channel met at a relay says false: its round trip crosses more
   * processes, and in bench/tunnel polling at its ends made it slower, not faster.
   */
  busyPoll?: boolean;
}

/** An encrypted, authenticated byte stream over one TCP connection. */
export class SecureChannel extends Duplex {
  readonly socket: Socket;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;
  readonly #recordBytes: number;
  readonly #busyPoll: boolean;
  /** Writes up to this size go out as one record in one buffer (interactive traffic). */
  readonly #smallRecord: number;
  #bytesIn = 0;
  #bytesOut = 0;
  #remoteEnded = false;
  #full = false;
  /** Where opened plaintext goes straight to, once pumpTo() took over from the Readable side. */
  #target: Socket | undefined;

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
    this.#busyPoll = options.busyPoll !== false;
    this.#smallRecord = Math.min(SMALL_RECORD_BYTES, recordBytes);
    const socket = this.socket;
    socket.setNoDelay(true);
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
    const leftover = options.leftover;
    // Records are opened straight from the socket's reads (into the shared read buffer where the
    // runtime allows), and reading runs ahead up to the high-water mark even before anyone reads, so a
    // close or reset is seen.
    queueMicrotask(() => {
      if (this.destroyed) return;
      if (leftover && leftover.length > 0 && !this.#onData(leftover)) socket.pause();
      if (this.destroyed) return;
      readInto(socket, this.#onData, { busyPoll: this.#busyPoll });
      if (this.readableLength >= this.readableHighWaterMark) socket.pause();
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

  /** Opens what one read brought; false = our readable side is full, stop reading for now. */
  readonly #onData = (chunk: Buffer): boolean => {
    if (this.destroyed) return false;
    this.#full = false;
    // Everything a big read opens reaches the target in one batch (one writev, not one per record);
    // a small one (an interactive message) is written as it is, without the batching's cost.
    const batch = this.#target !== undefined && chunk.length > SMALL_RECORD_BYTES ? this.#target : undefined;
    try {
      batch?.cork();
      try {
        this.#opener.feed(chunk, this.#onRecord);
      } finally {
        batch?.uncork();
      }
    } catch (err) {
      // A bad record ends the channel at once; nothing it carried reaches the other side.
      this.socket.destroy();
      this.destroy(err as Error);
      return false;
    }
    return !this.#full;
  };

  readonly #onRecord = (parts: Buffer[], fin: boolean): void => {
    if (this.destroyed) return;
    if (fin) {
      this.#remoteEnded = true;
      this.#target?.end();
      this.push(null);
      return;
    }
    const target = this.#target;
    for (const part of parts) {
      if (part.length === 0) continue;
      this.#bytesIn += part.length;
      if (target) {
        // Opened plaintext is this channel's own buffer: freed as soon as the target took it.
        if (!writeOwned(target, part)) this.#full = true;
      } else if (!this.push(part)) this.#full = true;
    }
  };

  override _read(): void {
    // A pumped channel reads as fast as its target takes the bytes, not as its Readable is read.
    if (this.#target) return;
    if (this.socket.isPaused()) this.socket.resume();
  }

  /**
   * Writes every byte opened from now on straight to `target` (after what the Readable side already
   * holds) and ends it at the peer's final record: the data path's `channel.pipe(target)`, without the
   * stream hop per record. Backpressure: a full target stops reading the data socket until it drains.
   */
  pumpTo(target: Socket): void {
    for (let c = this.read() as Buffer | null; c !== null; c = this.read() as Buffer | null) target.write(c);
    this.#target = target;
    target.on('drain', () => {
      if (!this.destroyed && this.socket.isPaused()) this.socket.resume();
    });
    // Flowing with no reader, so the end of the Readable side (after the final record) is emitted.
    this.resume();
    if (this.#remoteEnded) target.end();
    else if (this.socket.isPaused() && target.writableLength < target.writableHighWaterMark)
      this.socket.resume();
  }

  /**
   * Seals everything `source` sends into records on this channel straight from its reads (no copy of
   * the plaintext, no buffer per read) and ends the channel's sending side when `source` ends: the
   * data path's `source.pipe(channel)`. While it runs nothing else may write to the channel.
   * Backpressure: a full data socket stops reading `source` until the socket drains.
   */
  pumpFrom(source: Socket): void {
    const waitForDrain = resumeOnDrain(source, this.socket);
    readInto(
      source,
      (chunk) => {
        if (this.destroyed || this.writableEnded) return false;
        let ok: boolean;
        try {
          ok = this.#seal([chunk]);
        } catch (err) {
          this.destroy(err as Error);
          return false;
        }
        if (!ok) waitForDrain();
        return ok;
      },
      { busyPoll: this.#busyPoll },
    );
    source.once('end', () => {
      if (!this.destroyed) this.end();
    });
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
    let ok: boolean;
    try {
      ok = this.#seal(chunks);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (ok) callback();
    else this.socket.once('drain', () => callback());
  }

  /**
   * Seals `chunks` into records of up to recordBytes (small writes gathered, big ones split) and
   * writes them in one corked batch; returns whether the socket wants more now. The chunks are not
   * kept: the cipher copies them.
   */
  #seal(chunks: Buffer[]): boolean {
    const socket = this.socket;
    const first = chunks[0];
    if (chunks.length === 1 && first && first.length > 0 && first.length <= this.#smallRecord) {
      // One small write (an interactive message): one record in one buffer, one write, no batching.
      const [record] = this.#sealer.seal(first);
      this.#bytesOut += first.length;
      return socket.write(record!);
    }
    let ok = true;
    socket.cork();
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        if (pendingBytes === 0) return;
        const plain = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        for (const part of this.#sealer.seal(plain)) ok = writeOwned(socket, part);
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
    } finally {
      socket.uncork();
    }
    return ok;
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
    // A polite end closes the connection once our side is flushed: the peer's final record came in,
    // so nothing more may be read, and a socket left half-open (its reading paused by backpressure
    // when that record arrived) would otherwise never see the peer's TCP FIN and stay open.
    if (error || !(this.#remoteEnded && this.writableFinished)) this.socket.destroy();
    else this.socket.end(() => this.socket.destroy());
    callback(error);
  }
}
