/**
 * Strict CBOR codecs of the three ticket structures. Each is a fixed-arity CBOR array whose first
 * element is the wire version. Encoding uses cborg (canonical). Decoding is a single pass of a strict
 * reader that checks the size bound before touching the bytes and accepts only shortest-form heads of
 * the expected types, so the one accepted encoding of a value is its canonical one; decoders throw only
 * TicketError with a DECODE_ERROR_CODES code.
 */
import { encode as cborEncode } from 'cborg';
import {
  ADDRESS_BYTES,
  AEAD_TAG_BYTES,
  KIND_NETWORK,
  KIND_SERVICE,
  MAC_BYTES,
  MAX_AUTHENTICATOR_BYTES,
  MAX_CHALLENGE_BYTES,
  MAX_ID_BYTES,
  MAX_PEER_ID_BYTES,
  MAX_SERVICE_TYPE_BYTES,
  MAX_TICKET_BYTES,
  NONCE_BYTES,
  SESSION_KEY_BYTES,
  TICKET_HASH_BYTES,
  TICKET_SALT_BYTES,
  TICKET_VERSION,
} from './constants.ts';
import { TicketError } from './errors.ts';

/** A lowercase 0x-prefixed EVM address. */
export type Address = `0x${string}`;

/** Network ticket (joining the overlay) or service ticket (one service on one host). */
export type TicketKind = 'network' | 'service';

/** The clear part of a sealed ticket; its encoding is the AEAD associated data. */
export interface TicketHeader {
  v: number;
  kind: TicketKind;
  chainId: number;
  clientAddress: Address;
  /** Random per-ticket salt: makes this ticket's sealing key unique under the pairwise key. */
  salt: Uint8Array;
}

/** A decoded (still encrypted) ticket. */
export interface SealedTicket {
  header: TicketHeader;
  /** Canonical encoding of the header: the AEAD associated data and the HKDF-Expand info. */
  headerBytes: Uint8Array;
  ciphertext: Uint8Array;
}

/** The encrypted body of a ticket. Times are Unix milliseconds. */
export interface TicketBody {
  v: number;
  kind: TicketKind;
  grantId: bigint;
  chainId: number;
  /** AccessGrants contract address. */
  contract: Address;
  clientAddress: Address;
  serviceId: bigint;
  serviceType: string;
  /** Binary PeerId of the node the ticket is for. */
  servicePeerId: Uint8Array;
  issuedAt: number;
  expiresAt: number;
  nonce: Uint8Array;
  sessionKey: Uint8Array;
}

/** The fields of an authenticator covered by its MAC. */
export interface AuthenticatorFields {
  v: number;
  /** SHA-256 of the exact ticket bytes. */
  ticketHash: Uint8Array;
  /** Unix milliseconds at the client. */
  timestamp: number;
  nonce: Uint8Array;
  clientPeerId: Uint8Array;
  servicePeerId: Uint8Array;
  /** The verifier's per-connection challenge, empty for one-shot use. */
  challenge: Uint8Array;
}

/** A decoded authenticator. */
export interface Authenticator extends AuthenticatorFields {
  mac: Uint8Array;
  /** Canonical encoding of the MAC'd fields (what the MAC covers). */
  macInput: Uint8Array;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of `bytes` without prefix. */
export function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
}

/** A compact Map key of `bytes` (one char per byte): cheaper to build and hash than hex. */
export function bytesKey(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** `0x` address string of 20 address bytes. */
export function addressFromBytes(bytes: Uint8Array): Address {
  return `0x${hexOf(bytes)}`;
}

/** 20 bytes of an address string (any case); throws INVALID_ARGUMENT when it is not one. */
export function addressToBytes(address: string): Uint8Array {
  if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new TicketError(
      'INVALID_ARGUMENT',
      `"${String(address)}" is not an EVM address; pass 0x + 40 hex digits`,
    );
  }
  const out = new Uint8Array(ADDRESS_BYTES);
  for (let i = 0; i < ADDRESS_BYTES; i++) out[i] = Number.parseInt(address.slice(2 + i * 2, 4 + i * 2), 16);
  return out;
}

/** Lowercase form of an address string; throws INVALID_ARGUMENT when it is not one. */
export function normalizeAddress(address: string): Address {
  if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new TicketError(
      'INVALID_ARGUMENT',
      `"${String(address)}" is not an EVM address; pass 0x + 40 hex digits`,
    );
  }
  return address.toLowerCase() as Address;
}

/** Minimal big-endian bytes of a positive uint256 id. */
export function idToBytes(id: bigint): Uint8Array {
  if (typeof id !== 'bigint' || id < 1n || id >= 1n << BigInt(MAX_ID_BYTES * 8)) {
    throw new TicketError(
      'INVALID_ARGUMENT',
      `id ${String(id)} is not a uint256 ≥ 1; on-chain ids start at 1`,
    );
  }
  let hex = id.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

// cborg returns Node Buffers on Node, whose slice() is a view; hand out plain Uint8Arrays only.
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encode(value: unknown[]): Uint8Array {
  return plain(cborEncode(value));
}

function decodeError(what: string, detail: string): TicketError {
  return new TicketError(
    'DECODE',
    `malformed ${what}: ${detail}; the sender must produce a v${TICKET_VERSION} DIBS ${what}`,
  );
}

const MAJOR_UINT = 0;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;

/**
 * A strict reader of the only CBOR the ticket structures use: unsigned integers, byte and text
 * strings and one definite outer array. Every head must use the shortest form, so each value has
 * exactly one accepted encoding (the canonical one cborg writes) and no re-encoding is needed.
 * Anything else — tags, floats, simple values, maps, negative numbers, indefinite lengths — is DECODE.
 */
class Reader {
  readonly bytes: Uint8Array;
  readonly what: string;
  pos = 0;
  constructor(bytes: Uint8Array, what: string) {
    this.bytes = bytes;
    this.what = what;
  }

  /** Reads an item head of `major` and returns its argument (a safe integer). */
  head(major: number, field: string): number {
    const b = this.bytes;
    const n = b.length;
    if (this.pos >= n) throw decodeError(this.what, `${field} is missing`);
    const first = b[this.pos++]!;
    if (first >> 5 !== major) throw decodeError(this.what, `${field} has the wrong CBOR type`);
    const ai = first & 31;
    if (ai < 24) return ai;
    let value: number;
    let min: number;
    const p = this.pos;
    if (ai === 24) {
      if (p + 1 > n) throw decodeError(this.what, `${field} is truncated`);
      value = b[p]!;
      min = 24;
      this.pos = p + 1;
    } else if (ai === 25) {
      if (p + 2 > n) throw decodeError(this.what, `${field} is truncated`);
      value = (b[p]! << 8) | b[p + 1]!;
      min = 0x100;
      this.pos = p + 2;
    } else if (ai === 26) {
      if (p + 4 > n) throw decodeError(this.what, `${field} is truncated`);
      value = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      min = 0x10000;
      this.pos = p + 4;
    } else if (ai === 27) {
      if (p + 8 > n) throw decodeError(this.what, `${field} is truncated`);
      const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
      if (hi > 0x1fffff) throw decodeError(this.what, `${field} is larger than 2^53`);
      value = hi * 0x100000000 + lo;
      min = 0x100000000;
      this.pos = p + 8;
    } else {
      throw decodeError(this.what, `${field} uses an indefinite or reserved length`);
    }
    if (value < min) throw decodeError(this.what, `${field} is not minimally encoded`);
    return value;
  }

  uint(field: string): number {
    return this.head(MAJOR_UINT, field);
  }

  bytesField(field: string, min: number, max: number): Uint8Array {
    const len = this.head(MAJOR_BYTES, field);
    if (len < min || len > max) {
      throw decodeError(this.what, `${field} must be ${min === max ? min : `${min}–${max}`} bytes`);
    }
    const start = this.pos;
    if (start + len > this.bytes.length) throw decodeError(this.what, `${field} is truncated`);
    this.pos = start + len;
    const b = this.bytes;
    return new Uint8Array(b.buffer, b.byteOffset + start, len);
  }

  /** Opens the outer array: checks its arity and the version that must come first. */
  open(arity: number): void {
    const b = this.bytes;
    if (b.length === 0 || b[0]! >> 5 !== MAJOR_ARRAY) throw decodeError(this.what, 'not a CBOR array');
    const count = this.head(MAJOR_ARRAY, 'array');
    if (this.pos >= b.length || b[this.pos]! >> 5 !== MAJOR_UINT)
      throw decodeError(this.what, 'missing version');
    const v = this.uint('version');
    if (v !== TICKET_VERSION) {
      throw new TicketError(
        'UNSUPPORTED_VERSION',
        `${this.what} version ${v} is not supported; this verifier speaks v${TICKET_VERSION}`,
      );
    }
    if (count !== arity) throw decodeError(this.what, `expected ${arity} fields, got ${count}`);
  }

  end(): void {
    if (this.pos !== this.bytes.length) throw decodeError(this.what, 'trailing bytes after the array');
  }
}

function reader(bytes: unknown, max: number, what: string): Reader {
  if (!(bytes instanceof Uint8Array)) throw decodeError(what, 'input is not a Uint8Array');
  // The bound comes first so that oversized input costs nothing.
  if (bytes.length > max) {
    throw new TicketError(
      'TOO_LARGE',
      `${what} is ${bytes.length} bytes, more than the ${max}-byte limit; refused unread`,
    );
  }
  return new Reader(bytes, what);
}

function kindField(value: number, what: string): TicketKind {
  if (value === KIND_NETWORK) return 'network';
  if (value === KIND_SERVICE) return 'service';
  throw decodeError(what, 'unknown ticket kind');
}

function idField(r: Reader, field: string): bigint {
  const b = r.bytesField(field, 1, MAX_ID_BYTES);
  if (b[0] === 0) throw decodeError(r.what, `${field} has a leading zero byte`);
  if (b.length <= 6) {
    let n = 0;
    for (let i = 0; i < b.length; i++) n = n * 256 + b[i]!;
    return BigInt(n);
  }
  return BigInt(`0x${hexOf(b)}`);
}

/** Wire number of a ticket kind. */
export function kindToWire(kind: TicketKind): number {
  if (kind === 'network') return KIND_NETWORK;
  if (kind === 'service') return KIND_SERVICE;
  throw new TicketError(
    'INVALID_ARGUMENT',
    `ticket kind "${String(kind)}" is neither "network" nor "service"`,
  );
}

/** Canonical encoding of a ticket header (the AEAD associated data and HKDF info). */
export function encodeTicketHeader(header: TicketHeader): Uint8Array {
  return encode([
    header.v,
    kindToWire(header.kind),
    header.chainId,
    addressToBytes(header.clientAddress),
    header.salt,
  ]);
}

/** Encodes a sealed ticket: header fields followed by the ciphertext. */
export function encodeSealedTicket(header: TicketHeader, ciphertext: Uint8Array): Uint8Array {
  return encode([
    header.v,
    kindToWire(header.kind),
    header.chainId,
    addressToBytes(header.clientAddress),
    header.salt,
    ciphertext,
  ]);
}

// A copy, never a view: the caller's bytes (maybe a Node Buffer, whose slice() is a view) stay untouched.
function copyPrefix(bytes: Uint8Array, end: number): Uint8Array {
  const out = new Uint8Array(end);
  out.set(bytes.subarray(0, end));
  return out;
}

const TICKET = 'ticket';
const HEADER_ARRAY = 0x85;

/** Strictly decodes a sealed ticket (≤ MAX_TICKET_BYTES) without decrypting it. */
export function decodeSealedTicket(bytes: Uint8Array): SealedTicket {
  const r = reader(bytes, MAX_TICKET_BYTES, TICKET);
  r.open(6);
  const kind = kindField(r.uint('kind'), TICKET);
  const chainId = r.uint('chainId');
  const clientAddress = addressFromBytes(r.bytesField('clientAddress', ADDRESS_BYTES, ADDRESS_BYTES));
  const salt = r.bytesField('salt', TICKET_SALT_BYTES, TICKET_SALT_BYTES);
  const headerEnd = r.pos;
  const ciphertext = r.bytesField('ciphertext', AEAD_TAG_BYTES, MAX_TICKET_BYTES);
  r.end();
  // The header's own encoding is the ticket's prefix with the array head saying five items, not six.
  const headerBytes = copyPrefix(bytes, headerEnd);
  headerBytes[0] = HEADER_ARRAY;
  return {
    header: { v: TICKET_VERSION, kind, chainId, clientAddress, salt },
    headerBytes,
    ciphertext,
  };
}

/** Canonical encoding of a ticket body (the AEAD plaintext). */
export function encodeTicketBody(body: TicketBody): Uint8Array {
  return encode([
    body.v,
    kindToWire(body.kind),
    idToBytes(body.grantId),
    body.chainId,
    addressToBytes(body.contract),
    addressToBytes(body.clientAddress),
    idToBytes(body.serviceId),
    body.serviceType,
    body.servicePeerId,
    body.issuedAt,
    body.expiresAt,
    body.nonce,
    body.sessionKey,
  ]);
}

const BODY = 'ticket body';
// fatal: invalid UTF-8 is refused, not replaced; ignoreBOM: a leading BOM stays part of the text.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strictly decodes a decrypted ticket body. */
export function decodeTicketBody(bytes: Uint8Array): TicketBody {
  const r = reader(bytes, MAX_TICKET_BYTES, BODY);
  r.open(13);
  const kind = kindField(r.uint('kind'), BODY);
  const grantId = idField(r, 'grantId');
  const chainId = r.uint('chainId');
  const contract = addressFromBytes(r.bytesField('contract', ADDRESS_BYTES, ADDRESS_BYTES));
  const clientAddress = addressFromBytes(r.bytesField('clientAddress', ADDRESS_BYTES, ADDRESS_BYTES));
  const serviceId = idField(r, 'serviceId');
  const typeLength = r.head(MAJOR_TEXT, 'serviceType');
  if (typeLength < 1 || typeLength > MAX_SERVICE_TYPE_BYTES || r.pos + typeLength > bytes.length) {
    throw decodeError(BODY, `serviceType must be 1–${MAX_SERVICE_TYPE_BYTES} bytes of text`);
  }
  let serviceType: string;
  try {
    serviceType = utf8.decode(bytes.subarray(r.pos, r.pos + typeLength));
  } catch {
    throw decodeError(BODY, 'serviceType is not UTF-8');
  }
  r.pos += typeLength;
  const body: TicketBody = {
    v: TICKET_VERSION,
    kind,
    grantId,
    chainId,
    contract,
    clientAddress,
    serviceId,
    serviceType,
    servicePeerId: r.bytesField('servicePeerId', 1, MAX_PEER_ID_BYTES),
    issuedAt: r.uint('issuedAt'),
    expiresAt: r.uint('expiresAt'),
    nonce: r.bytesField('nonce', NONCE_BYTES, NONCE_BYTES),
    sessionKey: r.bytesField('sessionKey', SESSION_KEY_BYTES, SESSION_KEY_BYTES),
  };
  r.end();
  if (body.expiresAt <= body.issuedAt) throw decodeError(BODY, 'expiresAt must be after issuedAt');
  return body;
}

/** Canonical encoding of the MAC'd authenticator fields. */
export function encodeAuthenticatorFields(f: AuthenticatorFields): Uint8Array {
  return encode([f.v, f.ticketHash, f.timestamp, f.nonce, f.clientPeerId, f.servicePeerId, f.challenge]);
}

/** Encodes an authenticator: the MAC'd fields followed by the MAC. */
export function encodeAuthenticator(f: AuthenticatorFields, mac: Uint8Array): Uint8Array {
  return encode([f.v, f.ticketHash, f.timestamp, f.nonce, f.clientPeerId, f.servicePeerId, f.challenge, mac]);
}

const AUTH = 'authenticator';
const FIELDS_ARRAY = 0x87;

/** Strictly decodes an authenticator (≤ MAX_AUTHENTICATOR_BYTES); the MAC is checked by the verifier. */
export function decodeAuthenticator(bytes: Uint8Array): Authenticator {
  const r = reader(bytes, MAX_AUTHENTICATOR_BYTES, AUTH);
  r.open(8);
  const ticketHash = r.bytesField('ticketHash', TICKET_HASH_BYTES, TICKET_HASH_BYTES);
  const timestamp = r.uint('timestamp');
  const nonce = r.bytesField('nonce', NONCE_BYTES, NONCE_BYTES);
  const clientPeerId = r.bytesField('clientPeerId', 1, MAX_PEER_ID_BYTES);
  const servicePeerId = r.bytesField('servicePeerId', 1, MAX_PEER_ID_BYTES);
  const challenge = r.bytesField('challenge', 0, MAX_CHALLENGE_BYTES);
  const fieldsEnd = r.pos;
  const mac = r.bytesField('mac', MAC_BYTES, MAC_BYTES);
  r.end();
  // The MAC'd encoding is the authenticator's prefix with the array head saying seven items.
  const macInput = copyPrefix(bytes, fieldsEnd);
  macInput[0] = FIELDS_ARRAY;
  return {
    v: TICKET_VERSION,
    ticketHash,
    timestamp,
    nonce,
    clientPeerId,
    servicePeerId,
    challenge,
    mac,
    macInput,
  };
}
