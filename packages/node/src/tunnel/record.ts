/**
 * Data-channel records: AES-256-GCM under per-direction keys from HKDF-SHA256, a 96-bit counter nonce,
 * and the 4-byte header (FIN flag + length) as additional data. Any record that does not open under
 * the next counter (forged, altered, replayed, reordered, cut) is refused and the channel closes.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import {
  DATA_KEY_LABEL,
  MAX_RECORD_PLAINTEXT,
  MAX_RECORDS_PER_DIRECTION,
  RECORD_FIN,
  RECORD_HEADER_BYTES,
  RECORD_TAG_BYTES,
} from './constants.ts';
import { TunnelError } from './errors.ts';

/** The two data-channel keys of one tunnel. */
export interface DataKeys {
  clientToServer: Buffer;
  serverToClient: Buffer;
}

/** Inputs of {@link deriveDataKeys}: everything both sides know after the open exchange. */
export interface DataKeyInput {
  sessionKey: Uint8Array;
  challenge: Uint8Array;
  clientNonce: Uint8Array;
  serverNonce: Uint8Array;
  clientPeerId: Uint8Array;
  serverPeerId: Uint8Array;
  sessionId: Uint8Array;
}

/**
 * HKDF-SHA256: IKM = the ticket's session key; salt = SHA-256(challenge ‖ client nonce ‖ server nonce),
 * fresh from both sides; info = label ‖ both PeerIds (length-prefixed) ‖ session id. 64 bytes out:
 * client→server key, then server→client key.
 */
export function deriveDataKeys(input: DataKeyInput): DataKeys {
  const salt = createHash('sha256')
    .update(input.challenge)
    .update(input.clientNonce)
    .update(input.serverNonce)
    .digest();
  const info = Buffer.concat([
    Buffer.from(DATA_KEY_LABEL),
    Buffer.of(input.clientPeerId.length),
    input.clientPeerId,
    Buffer.of(input.serverPeerId.length),
    input.serverPeerId,
    input.sessionId,
  ]);
  const okm = Buffer.from(hkdfSync('sha256', input.sessionKey, salt, info, 64));
  return { clientToServer: okm.subarray(0, 32), serverToClient: okm.subarray(32, 64) };
}

function nonceFor(counter: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 6, 6);
  return nonce;
}

/** Seals outgoing records under one direction's key. */
export class RecordSealer {
  readonly #key: Buffer;
  #counter = 0;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** One record as buffers to write in order: header, ciphertext, tag. */
  seal(plaintext: Uint8Array, fin = false): Buffer[] {
    if (plaintext.length > MAX_RECORD_PLAINTEXT) {
      throw new TunnelError(
        'TOO_LARGE',
        `record of ${plaintext.length} bytes exceeds ${MAX_RECORD_PLAINTEXT}`,
      );
    }
    if (this.#counter >= MAX_RECORDS_PER_DIRECTION) {
      throw new TunnelError('CLOSED', 'this data channel used up its record counter; open a new tunnel');
    }
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    header.writeUInt32BE((fin ? RECORD_FIN : 0) + plaintext.length);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonceFor(this.#counter++));
    cipher.setAAD(header);
    const body = plaintext.length > 0 ? cipher.update(plaintext) : Buffer.alloc(0);
    cipher.final();
    return [header, body, cipher.getAuthTag()];
  }
}

/** One opened record. */
export interface OpenedRecord {
  fin: boolean;
  plaintext: Buffer;
}

/**
 * Parses and opens incoming records from a byte stream, buffering at most one record
 * (MAX_RECORD_PLAINTEXT + header + tag) at a time.
 */
export class RecordOpener {
  readonly #key: Buffer;
  #counter = 0;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** True once a FIN record was opened; nothing may follow it. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes held waiting for the rest of a record. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feeds bytes; returns the records they complete, or throws RECORD_REJECTED / TOO_LARGE. */
  push(chunk: Buffer): OpenedRecord[] {
    if (chunk.length === 0) return [];
    if (this.#ended) throw rejected('bytes after the final record');
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: OpenedRecord[] = [];
    for (;;) {
      if (this.#buffered < RECORD_HEADER_BYTES) break;
      const header = this.#peekHeader();
      const length = header & 0x7fff_ffff;
      const fin = (header & RECORD_FIN) !== 0;
      if (length > MAX_RECORD_PLAINTEXT) {
        throw new TunnelError('TOO_LARGE', `record announces ${length} bytes, over ${MAX_RECORD_PLAINTEXT}`);
      }
      if (fin && length !== 0) throw rejected('a final record carries data');
      const total = RECORD_HEADER_BYTES + length + RECORD_TAG_BYTES;
      if (this.#buffered < total) break;
      const record = this.#take(total);
      out.push({ fin, plaintext: this.#open(record, length) });
      if (fin) {
        this.#ended = true;
        if (this.#buffered > 0) throw rejected('bytes after the final record');
        break;
      }
    }
    return out;
  }

  #open(record: Buffer, length: number): Buffer {
    if (this.#counter >= MAX_RECORDS_PER_DIRECTION) throw rejected('record counter exhausted');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonceFor(this.#counter++));
    decipher.setAAD(record.subarray(0, RECORD_HEADER_BYTES));
    decipher.setAuthTag(record.subarray(RECORD_HEADER_BYTES + length));
    const plaintext =
      length > 0
        ? decipher.update(record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + length))
        : Buffer.alloc(0);
    try {
      decipher.final();
    } catch (err) {
      throw rejected('authentication failed (forged, altered, replayed or reordered)', err);
    }
    return plaintext;
  }

  #peekHeader(): number {
    const first = this.#chunks[0]!;
    if (first.length >= RECORD_HEADER_BYTES) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined.readUInt32BE(0);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0]!;
        const take = Math.min(c.length, n - at);
        c.copy(out, at, 0, take);
        at += take;
        if (take === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(take);
      }
    }
    this.#buffered -= n;
    return out;
  }
}

function rejected(detail: string, cause?: unknown): TunnelError {
  return new TunnelError(
    'RECORD_REJECTED',
    `data-channel record rejected: ${detail}; the channel is closed`,
    cause === undefined ? undefined : { cause },
  );
}
