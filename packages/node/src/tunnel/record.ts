/**
 * Data-channel records under per-direction keys from HKDF-SHA256, a 96-bit counter nonce and the
 * 4-byte header (FIN flag, compact flag, length) as additional data. Bulk records are AES-128-GCM
 * (node:crypto); compact ones (up to COMPACT_RECORD_BYTES, interactive traffic) are ChaCha20-Poly1305
 * under a key of their own (chacha20-poly1305.ts). Both draw on one counter per direction, so no
 * nonce repeats under either key. Any record that does not open under the next counter (forged,
 * altered, replayed, reordered, cut, flag flipped) is refused and the channel closes.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type DecipherGCM,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import {
  COMPACT_RECORD_BYTES,
  DATA_KEY_BYTES,
  DATA_KEY_LABEL,
  GCM_KEY_BYTES,
  MAX_RECORD_PLAINTEXT,
  MAX_RECORDS_PER_DIRECTION,
  RECORD_COMPACT,
  RECORD_FIN,
  RECORD_HEADER_BYTES,
  RECORD_LENGTH_MASK,
  RECORD_TAG_BYTES,
  SMALL_RECORD_BYTES,
} from './constants.ts';
import { ChaCha20Poly1305 } from './chacha20-poly1305.ts';
import { TunnelError } from './errors.ts';

/** The two data-channel keys of one tunnel (DATA_KEY_BYTES each: AES-GCM key, then ChaCha20 key). */
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
  /** The network label the channel carries (constants' dataLabel); empty or absent in the public network. */
  networkLabel?: string;
}

/**
 * HKDF-SHA256: IKM = the ticket's session key; salt = SHA-256(challenge ‖ client nonce ‖ server nonce),
 * fresh from both sides; info = label ‖ both PeerIds (length-prefixed) ‖ session id ‖ the network label
 * (length-prefixed, organization networks only). 2 × DATA_KEY_BYTES out: client→server key, then
 * server→client key.
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
    ...(input.networkLabel
      ? [Buffer.of(Buffer.byteLength(input.networkLabel)), Buffer.from(input.networkLabel)]
      : []),
  ]);
  const okm = Buffer.from(hkdfSync('sha256', input.sessionKey, salt, info, 2 * DATA_KEY_BYTES));
  return {
    clientToServer: okm.subarray(0, DATA_KEY_BYTES),
    serverToClient: okm.subarray(DATA_KEY_BYTES, 2 * DATA_KEY_BYTES),
  };
}

const ALGORITHM = 'aes-128-gcm';

/** One direction's ciphers; key material of any length but DATA_KEY_BYTES is a programming error. */
function importKey(key: Buffer): { bulk: KeyObject; compact: ChaCha20Poly1305 } {
  if (key.length !== DATA_KEY_BYTES) {
    throw new TunnelError('INTERNAL', `a data-channel key has ${DATA_KEY_BYTES} bytes, not ${key.length}`);
  }
  return {
    bulk: createSecretKey(key.subarray(0, GCM_KEY_BYTES)),
    compact: new ChaCha20Poly1305(key.subarray(GCM_KEY_BYTES)),
  };
}
/** GCM nonce: 96 bits, the record counter in its low 48. */
const NONCE_LENGTH = 12;

/**
 * Seals outgoing records under one direction's key. The key is imported once as a KeyObject: passing
 * raw key bytes to every createCipheriv re-imports them, which costs more than sealing a small record.
 */
export class RecordSealer {
  readonly #key: KeyObject;
  readonly #compact: ChaCha20Poly1305;
  // createCipheriv copies the IV, so one buffer serves every record.
  readonly #nonce = Buffer.alloc(NONCE_LENGTH);
  #counter = 0;

  constructor(key: Buffer) {
    const keys = importKey(key);
    this.#key = keys.bulk;
    this.#compact = keys.compact;
  }

  /**
   * One record as buffers to write in order: a single buffer up to SMALL_RECORD_BYTES (one write,
   * one packet; compact up to COMPACT_RECORD_BYTES), else header, ciphertext and tag (no copy of a
   * big body).
   */
  seal(plaintext: Uint8Array, fin = false): Buffer[] {
    const n = plaintext.length;
    if (n > MAX_RECORD_PLAINTEXT) {
      throw new TunnelError('TOO_LARGE', `record of ${n} bytes exceeds ${MAX_RECORD_PLAINTEXT}`);
    }
    if (this.#counter >= MAX_RECORDS_PER_DIRECTION) {
      throw new TunnelError('CLOSED', 'this data channel used up its record counter; open a new tunnel');
    }
    this.#nonce.writeUIntBE(this.#counter++, 6, 6);
    const head = (fin ? RECORD_FIN : 0) + n;
    if (n <= COMPACT_RECORD_BYTES) {
      const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + n + RECORD_TAG_BYTES);
      out.writeUInt32BE(head + RECORD_COMPACT, 0);
      this.#compact.seal(
        this.#nonce,
        out.subarray(0, RECORD_HEADER_BYTES),
        plaintext,
        out,
        RECORD_HEADER_BYTES,
      );
      return [out];
    }
    const cipher = createCipheriv(ALGORITHM, this.#key, this.#nonce, { authTagLength: RECORD_TAG_BYTES });
    if (n <= SMALL_RECORD_BYTES) {
      const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + n + RECORD_TAG_BYTES);
      out.writeUInt32BE(head, 0);
      cipher.setAAD(out.subarray(0, RECORD_HEADER_BYTES));
      if (n > 0) cipher.update(plaintext).copy(out, RECORD_HEADER_BYTES);
      cipher.final();
      cipher.getAuthTag().copy(out, RECORD_HEADER_BYTES + n);
      return [out];
    }
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    header.writeUInt32BE(head, 0);
    cipher.setAAD(header);
    const body = cipher.update(plaintext);
    cipher.final();
    return [header, body, cipher.getAuthTag()];
  }
}

/** One opened record. */
export interface OpenedRecord {
  fin: boolean;
  plaintext: Buffer;
}

/** Receives each record that authenticated: its plaintext in pieces, in order, and the FIN flag. */
export type RecordHandler = (parts: Buffer[], fin: boolean) => void;

/**
 * Parses and opens incoming records from a byte stream. Bulk ciphertext is decrypted straight from the
 * chunks as they arrive (no reassembly copy); the plaintext of a record is held back until its tag
 * verified, so at most one record's plaintext (MAX_RECORD_PLAINTEXT) waits at a time. A compact
 * record is opened where it lies when one chunk holds all of it, else gathered first (at most
 * COMPACT_RECORD_BYTES + tag).
 */
export class RecordOpener {
  readonly #key: KeyObject;
  readonly #compact: ChaCha20Poly1305;
  readonly #nonce = Buffer.alloc(NONCE_LENGTH);
  /** The header of the record being read (kept: a chunk may be a view into a reused read buffer). */
  readonly #header = Buffer.alloc(RECORD_HEADER_BYTES);
  readonly #tag = Buffer.alloc(RECORD_TAG_BYTES);
  #counter = 0;
  #headerHave = 0;
  /** Reading a record's body: its bulk decipher, or `compact` set. */
  #decipher: DecipherGCM | undefined;
  #inCompact = false;
  /** A compact record split across chunks: its body and tag so far. */
  #gathered: Buffer | undefined;
  #gatheredHave = 0;
  #length = 0;
  #fin = false;
  #bodyLeft = 0;
  #tagHave = 0;
  #parts: Buffer[] = [];
  #ended = false;

  constructor(key: Buffer) {
    const keys = importKey(key);
    this.#key = keys.bulk;
    this.#compact = keys.compact;
  }

  /** True once a FIN record was opened; nothing may follow it. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes of a record received so far and waiting for the rest of it. */
  get buffered(): number {
    if (this.#inCompact) return RECORD_HEADER_BYTES + this.#gatheredHave;
    if (!this.#decipher) return this.#headerHave;
    return RECORD_HEADER_BYTES + this.#length - this.#bodyLeft + this.#tagHave;
  }

  /** Feeds bytes; returns the records they complete, or throws RECORD_REJECTED / TOO_LARGE. */
  push(chunk: Buffer): OpenedRecord[] {
    const out: OpenedRecord[] = [];
    this.feed(chunk, (parts, fin) => {
      out.push({ fin, plaintext: parts.length === 1 ? parts[0]! : Buffer.concat(parts) });
    });
    return out;
  }

  /**
   * Feeds bytes; calls `onRecord` for each record they complete once it authenticated. Throws
   * RECORD_REJECTED / TOO_LARGE at the first bad record (records before it were delivered).
   */
  feed(chunk: Buffer, onRecord: RecordHandler): void {
    const n = chunk.length;
    let at = 0;
    while (at < n) {
      if (this.#ended) throw rejected('bytes after the final record');
      if (this.#inCompact) {
        const whole = this.#length + RECORD_TAG_BYTES;
        let plaintext: Buffer;
        if (this.#gatheredHave === 0 && n - at >= whole) {
          plaintext = this.#openCompact(chunk, at);
          at += whole;
        } else {
          this.#gathered ??= Buffer.allocUnsafe(whole);
          const gathered = this.#gathered;
          const take = Math.min(whole - this.#gatheredHave, n - at);
          chunk.copy(gathered, this.#gatheredHave, at, at + take);
          this.#gatheredHave += take;
          at += take;
          if (this.#gatheredHave < whole) break;
          plaintext = this.#openCompact(gathered, 0);
        }
        this.#inCompact = false;
        this.#gathered = undefined;
        this.#gatheredHave = 0;
        this.#deliver(plaintext.length > 0 ? [plaintext] : [], at < n, onRecord);
        continue;
      }
      const decipher = this.#decipher;
      if (decipher === undefined) {
        if (this.#headerHave === 0 && n - at >= RECORD_HEADER_BYTES) {
          chunk.copy(this.#header, 0, at, at + RECORD_HEADER_BYTES);
          at += RECORD_HEADER_BYTES;
        } else {
          const take = Math.min(RECORD_HEADER_BYTES - this.#headerHave, n - at);
          chunk.copy(this.#header, this.#headerHave, at, at + take);
          this.#headerHave += take;
          at += take;
          if (this.#headerHave < RECORD_HEADER_BYTES) break;
        }
        this.#headerHave = 0;
        this.#begin();
        continue;
      }
      if (this.#bodyLeft > 0) {
        const take = Math.min(this.#bodyLeft, n - at);
        this.#parts.push(decipher.update(chunk.subarray(at, at + take)));
        this.#bodyLeft -= take;
        at += take;
        continue;
      }
      let tag: Buffer;
      if (this.#tagHave === 0 && n - at >= RECORD_TAG_BYTES) {
        tag = chunk.subarray(at, at + RECORD_TAG_BYTES);
        at += RECORD_TAG_BYTES;
      } else {
        const take = Math.min(RECORD_TAG_BYTES - this.#tagHave, n - at);
        chunk.copy(this.#tag, this.#tagHave, at, at + take);
        this.#tagHave += take;
        at += take;
        if (this.#tagHave < RECORD_TAG_BYTES) break;
        tag = this.#tag;
      }
      decipher.setAuthTag(tag);
      try {
        decipher.final();
      } catch (err) {
        throw rejected('authentication failed (forged, altered, replayed or reordered)', err);
      }
      const parts = this.#parts;
      this.#parts = [];
      this.#decipher = undefined;
      this.#tagHave = 0;
      this.#deliver(parts, at < n, onRecord);
    }
  }

  /** Hands an authenticated record on; a FIN record must be the last bytes of the stream. */
  #deliver(parts: Buffer[], more: boolean, onRecord: RecordHandler): void {
    const fin = this.#fin;
    if (fin) {
      this.#ended = true;
      if (more) throw rejected('bytes after the final record');
    }
    onRecord(parts, fin);
  }

  /** Verifies and decrypts the compact record whose ciphertext (then tag) starts at `src[at]`. */
  #openCompact(src: Buffer, at: number): Buffer {
    const plaintext = Buffer.allocUnsafe(this.#length);
    if (!this.#compact.open(this.#nonce, this.#header, src, at, this.#length, plaintext, 0)) {
      throw rejected('authentication failed (forged, altered, replayed or reordered)');
    }
    return plaintext;
  }

  /** Starts the record whose header is in #header. */
  #begin(): void {
    const header = this.#header;
    const word = header.readUInt32BE(0);
    const length = word & RECORD_LENGTH_MASK;
    const fin = (word & RECORD_FIN) !== 0;
    const compact = (word & RECORD_COMPACT) !== 0;
    if (length > (compact ? COMPACT_RECORD_BYTES : MAX_RECORD_PLAINTEXT)) {
      throw new TunnelError(
        'TOO_LARGE',
        `${compact ? 'compact ' : ''}record announces ${length} bytes, over ${compact ? COMPACT_RECORD_BYTES : MAX_RECORD_PLAINTEXT}`,
      );
    }
    if (fin && length !== 0) throw rejected('a final record carries data');
    if (this.#counter >= MAX_RECORDS_PER_DIRECTION) throw rejected('record counter exhausted');
    this.#nonce.writeUIntBE(this.#counter++, 6, 6);
    this.#length = length;
    this.#fin = fin;
    if (compact) {
      this.#inCompact = true;
      return;
    }
    const decipher = createDecipheriv(ALGORITHM, this.#key, this.#nonce, {
      authTagLength: RECORD_TAG_BYTES,
    });
    decipher.setAAD(header);
    this.#decipher = decipher;
    this.#bodyLeft = length;
  }
}

function rejected(detail: string, cause?: unknown): TunnelError {
  return new TunnelError(
    'RECORD_REJECTED',
    `data-channel record rejected: ${detail}; the channel is closed`,
    cause === undefined ? undefined : { cause },
  );
}
