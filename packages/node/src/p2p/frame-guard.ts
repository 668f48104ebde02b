/**
 * A size bound on length-prefixed protocols whose handlers we do not own (libp2p's Kad-DHT reads
 * varint-prefixed protobuf frames with no limit at all): the guard watches the bytes as they arrive
 * and resets the stream as soon as a frame's announced length passes the bound, before its body is
 * buffered.
 */
import type { Stream, StreamMessageEvent } from '@libp2p/interface';
import { P2pError } from './errors.ts';

/** Longest varint length prefix accepted (4 bytes = lengths up to 256 MiB, far above any bound here). */
const MAX_PREFIX_BYTES = 4;

/** Follows the frame boundaries of a varint-length-prefixed byte stream, chunk by chunk, in O(1) memory. */
export class FrameBound {
  readonly maxFrameBytes: number;
  #inBody = 0;
  #length = 0;
  #shift = 0;
  #prefixBytes = 0;
  /** Whole frames seen so far. */
  frames = 0;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Takes the next chunk; returns why the stream breaks the bound, or undefined while it holds. */
  push(bytes: Uint8Array): string | undefined {
    let at = 0;
    while (at < bytes.length) {
      if (this.#inBody > 0) {
        const take = Math.min(this.#inBody, bytes.length - at);
        this.#inBody -= take;
        at += take;
        if (this.#inBody === 0) this.frames++;
        continue;
      }
      const b = bytes[at++]!;
      this.#length += (b & 0x7f) * 2 ** this.#shift;
      this.#shift += 7;
      this.#prefixBytes++;
      if (this.#length > this.maxFrameBytes) {
        return `a frame announces ${this.#length}+ bytes (max ${this.maxFrameBytes})`;
      }
      if (b & 0x80) {
        if (this.#prefixBytes >= MAX_PREFIX_BYTES) return 'a frame length prefix is too long';
        continue;
      }
      this.#inBody = this.#length;
      if (this.#inBody === 0) this.frames++;
      this.#length = 0;
      this.#shift = 0;
      this.#prefixBytes = 0;
    }
    return undefined;
  }
}

/** Resets `stream` when a varint-length-prefixed frame on it announces more than `maxFrameBytes`. */
export function guardFrames(
  stream: Stream,
  maxFrameBytes: number,
  onViolation?: (err: P2pError) => void,
): void {
  const bound = new FrameBound(maxFrameBytes);
  const onMessage = (evt: StreamMessageEvent) => {
    const data = evt.data;
    const problem = bound.push(data instanceof Uint8Array ? data : data.subarray());
    if (problem === undefined) return;
    stream.removeEventListener('message', onMessage);
    const err = new P2pError('FRAME_TOO_LARGE', `${stream.protocol ?? 'stream'}: ${problem}; stream reset`);
    onViolation?.(err);
    if (stream.status === 'open') stream.abort(err);
  };
  stream.addEventListener('message', onMessage);
}
