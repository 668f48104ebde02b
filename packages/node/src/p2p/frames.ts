/** Length-prefixed frames over a libp2p stream, each bounded in size and in the time it may take to arrive. */
import type { Stream } from '@libp2p/interface';
import * as lp from 'it-length-prefixed';
import type { Uint8ArrayList } from 'uint8arraylist';
import { P2pError } from './errors.ts';

/** Reads and writes whole messages on one stream; the reader never buffers a frame larger than its bound. */
export class FramedStream {
  readonly stream: Stream;
  readonly maxFrameBytes: number;
  readonly #frames: AsyncIterator<Uint8ArrayList>;

  constructor(stream: Stream, maxFrameBytes: number) {
    this.stream = stream;
    this.maxFrameBytes = maxFrameBytes;
    // The decoder rejects an oversized length prefix before reading its body, so memory stays bounded.
    this.#frames = lp
      .decode(stream, { maxDataLength: maxFrameBytes, maxLengthLength: 4 })
      [Symbol.asyncIterator]();
  }

  /** The next frame; rejects with FRAME_TIMEOUT, FRAME_TOO_LARGE or STREAM_ENDED (the stream is then reset). */
  async read(timeoutMs: number, what: string): Promise<Uint8Array> {
    let timer: NodeJS.Timeout | undefined;
    const next = this.#frames.next();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new P2pError(
              'FRAME_TIMEOUT',
              `no complete ${what} within ${timeoutMs} ms; the peer is too slow or stalled`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      const result = await Promise.race([next, timeout]);
      if (result.done) {
        throw new P2pError('STREAM_ENDED', `the stream ended before the ${what}; the peer closed it early`);
      }
      return result.value.subarray();
    } catch (err) {
      next.catch(() => {});
      const error = toFrameError(err, what, this.maxFrameBytes);
      this.reset(error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one frame, waiting for the stream to drain when its buffer is full. */
  async write(frame: Uint8Array, timeoutMs: number): Promise<void> {
    if (frame.length > this.maxFrameBytes) {
      throw new P2pError(
        'FRAME_TOO_LARGE',
        `refusing to send a ${frame.length}-byte frame (max ${this.maxFrameBytes})`,
      );
    }
    if (!this.stream.send(lp.encode.single(frame))) {
      await this.stream.onDrain({ signal: AbortSignal.timeout(timeoutMs) });
    }
  }

  /** Ends the stream abruptly with a reason the peer sees as a reset. */
  reset(reason: Error): void {
    if (this.stream.status === 'open') this.stream.abort(reason);
  }

  /** Closes our side gracefully. */
  async close(timeoutMs: number): Promise<void> {
    try {
      await this.stream.close({ signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      this.reset(err as Error);
    }
  }
}

function toFrameError(err: unknown, what: string, max: number): P2pError {
  if (err instanceof P2pError) return err;
  const name = (err as Error)?.name ?? '';
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
    return new P2pError('FRAME_TOO_LARGE', `the ${what} frame is larger than ${max} bytes; stream reset`, {
      cause: err,
    });
  }
  if (name === 'InvalidMessageLengthError' || name === 'UnexpectedEOFError') {
    return new P2pError('STREAM_ENDED', `the stream ended inside the ${what} frame`, { cause: err });
  }
  return new P2pError('STREAM_ENDED', `reading the ${what} failed: ${(err as Error)?.message ?? err}`, {
    cause: err,
  });
}
