/**
 * The fallback channel: tunnel bytes carried on the libp2p stream itself (Noise-encrypted, Yamux
 * flow-controlled, possibly through a circuit relay). Same Duplex shape as the data channel.
 */
import { Duplex } from 'node:stream';
import type { Stream } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';
import { TunnelError } from './errors.ts';

/** The libp2p stream as a Duplex with backpressure and half-close. */
export class StreamChannel extends Duplex {
  readonly stream: Stream;
  #bytesIn = 0;
  #bytesOut = 0;
  #remoteEnded = false;
  readonly #onMessage: (event: { data: Uint8Array | Uint8ArrayList }) => void;

  constructor(stream: Stream) {
    super({ allowHalfOpen: true });
    this.stream = stream;
    this.#onMessage = (event) => {
      const data = event.data;
      const buf =
        data instanceof Uint8Array
          ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
          : Buffer.from(data.subarray());
      this.#bytesIn += buf.length;
      if (!this.push(buf)) stream.pause();
    };
    stream.addEventListener('message', this.#onMessage);
    const onEnd = () => {
      if (this.#remoteEnded) return;
      this.#remoteEnded = true;
      this.push(null);
    };
    stream.addEventListener('end', onEnd);
    if (stream.readableEnded) queueMicrotask(onEnd);
    stream.addEventListener('close', (event) => {
      const error = (event as { error?: Error }).error;
      if (error)
        this.destroy(
          new TunnelError('CLOSED', `the tunnel stream was reset: ${error.message}`, { cause: error }),
        );
      else if (!this.#remoteEnded) this.destroy(new TunnelError('CLOSED', 'the tunnel stream closed'));
    });
  }

  /** Bytes received from the peer. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Bytes sent to the peer. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  override _read(): void {
    if (this.stream.readStatus === 'paused') this.stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.#bytesOut += chunk.length;
      if (this.stream.send(chunk)) {
        callback();
        return;
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.stream.onDrain().then(
      () => callback(),
      (err: Error) => callback(err),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.stream.close().then(
      () => callback(),
      (err: Error) => callback(err),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stream.removeEventListener('message', this.#onMessage);
    if (this.stream.status === 'open' || this.stream.status === 'closing') {
      if (error || !(this.#remoteEnded && this.writableFinished)) {
        this.stream.abort(error ?? new TunnelError('CLOSED', 'the tunnel was closed'));
      }
    }
    callback(error);
  }
}
