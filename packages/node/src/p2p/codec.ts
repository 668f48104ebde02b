/** A small, strict binary codec for DIBS wire messages: fixed field order, explicit lengths, hard bounds. */
import { P2pError } from './errors.ts';

const TEXT_DECODER = new TextDecoder('utf-8', { fatal: true });
const TEXT_ENCODER = new TextEncoder();

/** Appends fields to a growing buffer; every variable-length field carries its length. */
export class Writer {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** One byte. */
  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw malformed(`u8 out of range: ${value}`);
    return this.#push(Uint8Array.of(value));
  }

  /** Two bytes, big-endian. */
  u16(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff)
      throw malformed(`u16 out of range: ${value}`);
    return this.#push(Uint8Array.of(value >> 8, value & 0xff));
  }

  /** Eight bytes, big-endian, unsigned. */
  u64(value: bigint): this {
    if (value < 0n || value >= 1n << 64n) throw malformed(`u64 out of range: ${value}`);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, value);
    return this.#push(out);
  }

  /** Bytes of an exact, known length (no length prefix). */
  fixed(bytes: Uint8Array, length: number): this {
    if (bytes.length !== length) throw malformed(`expected ${length} bytes, got ${bytes.length}`);
    return this.#push(bytes);
  }

  /** Bytes with a u16 length prefix, at most `max` long. */
  bytes(bytes: Uint8Array, max: number): this {
    if (bytes.length > max) throw malformed(`field of ${bytes.length} bytes exceeds ${max}`);
    return this.u16(bytes.length).#push(bytes);
  }

  /** UTF-8 text with a u16 length prefix, at most `max` bytes. */
  text(value: string, max: number): this {
    return this.bytes(TEXT_ENCODER.encode(value), max);
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  #push(bytes: Uint8Array): this {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
    return this;
  }
}

/** Reads fields in order from a message; any overrun, bad length or trailing byte is MALFORMED_MESSAGE. */
export class Reader {
  readonly #buf: Uint8Array;
  #at = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  /** One byte. */
  u8(): number {
    return this.#take(1)[0]!;
  }

  /** Two bytes, big-endian. */
  u16(): number {
    const b = this.#take(2);
    return (b[0]! << 8) | b[1]!;
  }

  /** Eight bytes, big-endian, unsigned. */
  u64(): bigint {
    const b = this.#take(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  }

  /** Exactly `length` bytes (a copy). */
  fixed(length: number): Uint8Array {
    return this.#take(length).slice();
  }

  /** A u16-length-prefixed field of at most `max` bytes (a copy). */
  bytes(max: number): Uint8Array {
    const length = this.u16();
    if (length > max) throw malformed(`field of ${length} bytes exceeds ${max}`);
    return this.fixed(length);
  }

  /** A u16-length-prefixed UTF-8 string of at most `max` bytes. */
  text(max: number): string {
    const raw = this.bytes(max);
    try {
      return TEXT_DECODER.decode(raw);
    } catch (err) {
      throw malformed('text field is not valid UTF-8', err);
    }
  }

  /** Asserts the whole message was consumed. */
  end(): void {
    if (this.#at !== this.#buf.length) throw malformed(`${this.#buf.length - this.#at} trailing bytes`);
  }

  #take(n: number): Uint8Array {
    if (this.#at + n > this.#buf.length) throw malformed('message ends early');
    const out = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
}

function malformed(detail: string, cause?: unknown): P2pError {
  return new P2pError(
    'MALFORMED_MESSAGE',
    `malformed message: ${detail}; the peer sent bytes that do not follow the DIBS schema`,
    cause === undefined ? undefined : { cause },
  );
}
