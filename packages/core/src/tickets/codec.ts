/**
 * Strict CBOR codecs of the three ticket structures. Each is a fixed-arity CBOR array whose first
 * element is the wire version. Decoders check the size bound before touching the bytes, refuse
 * indefinite lengths, tags, floats, undefined and non-minimal encodings (the input must equal its own
 * canonical re-encoding), and throw only TicketError with a DECODE_ERROR_CODES code.
 */
import { decode, encode as cborEncode } from 'cborg';
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
  TICKET_VERSION,
  X25519_KEY_BYTES,
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
  /** The client's ephemeral X25519 public key for this ticket. */
  ephemeralPublicKey: Uint8Array;
}

/** A decoded (still encrypted) ticket. */
export interface SealedTicket {
  header: TicketHeader;
  /** Canonical encoding of the header: the AEAD associated data and part of the HKDF info. */
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

const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  useMaps: false,
  rejectDuplicateMapKeys: true,
  tags: [],
};

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of `bytes` without prefix. */
export function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]!;
  return out;
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

function decodeError(what: string, detail: string, cause?: unknown): TicketError {
  return new TicketError(
    'DECODE',
    `malformed ${what}: ${detail}; the sender must produce a v${TICKET_VERSION} DIBS ${what}`,
    {
      cause,
    },
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function decodeArray(bytes: unknown, max: number, arity: number, what: string): unknown[] {
  if (!(bytes instanceof Uint8Array)) throw decodeError(what, 'input is not a Uint8Array');
  // The bound comes first so that oversized input costs nothing.
  if (bytes.length > max) {
    throw new TicketError(
      'TOO_LARGE',
      `${what} is ${bytes.length} bytes, more than the ${max}-byte limit; refused unread`,
    );
  }
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (cause) {
    throw decodeError(what, 'not strict CBOR', cause);
  }
  if (!Array.isArray(value)) throw decodeError(what, 'not a CBOR array');
  if (value[0] !== TICKET_VERSION) {
    if (typeof value[0] === 'number') {
      throw new TicketError(
        'UNSUPPORTED_VERSION',
        `${what} version ${value[0]} is not supported; this verifier speaks v${TICKET_VERSION}`,
      );
    }
    throw decodeError(what, 'missing version');
  }
  if (value.length !== arity) throw decodeError(what, `expected ${arity} fields, got ${value.length}`);
  return value;
}

function checkCanonical(bytes: Uint8Array, value: unknown[], what: string): void {
  if (!bytesEqual(encode(value), bytes)) throw decodeError(what, 'not canonically encoded');
}

function bytesField(value: unknown, what: string, field: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) {
    throw decodeError(what, `${field} must be ${min === max ? min : `${min}–${max}`} bytes`);
  }
  return value;
}

function uintField(value: unknown, what: string, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw decodeError(what, `${field} must be a non-negative integer`);
  }
  return value;
}

function kindField(value: unknown, what: string): TicketKind {
  if (value === KIND_NETWORK) return 'network';
  if (value === KIND_SERVICE) return 'service';
  throw decodeError(what, 'unknown ticket kind');
}

function idField(value: unknown, what: string, field: string): bigint {
  const b = bytesField(value, what, field, 1, MAX_ID_BYTES);
  if (b[0] === 0) throw decodeError(what, `${field} has a leading zero byte`);
  let n = 0n;
  for (let i = 0; i < b.length; i++) n = (n << 8n) | BigInt(b[i]!);
  return n;
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

/** Canonical encoding of a ticket header (the AEAD associated data). */
export function encodeTicketHeader(header: TicketHeader): Uint8Array {
  return encode([
    header.v,
    kindToWire(header.kind),
    header.chainId,
    addressToBytes(header.clientAddress),
    header.ephemeralPublicKey,
  ]);
}

/** Encodes a sealed ticket: header fields followed by the ciphertext. */
export function encodeSealedTicket(header: TicketHeader, ciphertext: Uint8Array): Uint8Array {
  return encode([
    header.v,
    kindToWire(header.kind),
    header.chainId,
    addressToBytes(header.clientAddress),
    header.ephemeralPublicKey,
    ciphertext,
  ]);
}

const TICKET = 'ticket';

/** Strictly decodes a sealed ticket (≤ MAX_TICKET_BYTES) without decrypting it. */
export function decodeSealedTicket(bytes: Uint8Array): SealedTicket {
  const a = decodeArray(bytes, MAX_TICKET_BYTES, 6, TICKET);
  const header: TicketHeader = {
    v: TICKET_VERSION,
    kind: kindField(a[1], TICKET),
    chainId: uintField(a[2], TICKET, 'chainId'),
    clientAddress: addressFromBytes(bytesField(a[3], TICKET, 'clientAddress', ADDRESS_BYTES, ADDRESS_BYTES)),
    ephemeralPublicKey: bytesField(a[4], TICKET, 'ephemeralPublicKey', X25519_KEY_BYTES, X25519_KEY_BYTES),
  };
  const ciphertext = bytesField(a[5], TICKET, 'ciphertext', AEAD_TAG_BYTES, MAX_TICKET_BYTES);
  const headerBytes = encode(a.slice(0, 5));
  // Canonical iff the header re-encodes to the same prefix: the ciphertext item is minimal under strict mode.
  if (bytes[0] !== 0x86 || !bytesEqual(headerBytes.subarray(1), bytes.subarray(1, headerBytes.length))) {
    throw decodeError(TICKET, 'not canonically encoded');
  }
  return { header, headerBytes, ciphertext };
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
const utf8 = new TextEncoder();

/** Strictly decodes a decrypted ticket body. */
export function decodeTicketBody(bytes: Uint8Array): TicketBody {
  const a = decodeArray(bytes, MAX_TICKET_BYTES, 13, BODY);
  checkCanonical(bytes, a, BODY);
  const serviceType = a[7];
  if (
    typeof serviceType !== 'string' ||
    serviceType.length === 0 ||
    utf8.encode(serviceType).length > MAX_SERVICE_TYPE_BYTES
  ) {
    throw decodeError(BODY, `serviceType must be 1–${MAX_SERVICE_TYPE_BYTES} bytes of text`);
  }
  const body: TicketBody = {
    v: TICKET_VERSION,
    kind: kindField(a[1], BODY),
    grantId: idField(a[2], BODY, 'grantId'),
    chainId: uintField(a[3], BODY, 'chainId'),
    contract: addressFromBytes(bytesField(a[4], BODY, 'contract', ADDRESS_BYTES, ADDRESS_BYTES)),
    clientAddress: addressFromBytes(bytesField(a[5], BODY, 'clientAddress', ADDRESS_BYTES, ADDRESS_BYTES)),
    serviceId: idField(a[6], BODY, 'serviceId'),
    serviceType,
    servicePeerId: bytesField(a[8], BODY, 'servicePeerId', 1, MAX_PEER_ID_BYTES),
    issuedAt: uintField(a[9], BODY, 'issuedAt'),
    expiresAt: uintField(a[10], BODY, 'expiresAt'),
    nonce: bytesField(a[11], BODY, 'nonce', NONCE_BYTES, NONCE_BYTES),
    sessionKey: bytesField(a[12], BODY, 'sessionKey', SESSION_KEY_BYTES, SESSION_KEY_BYTES),
  };
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

/** Strictly decodes an authenticator (≤ MAX_AUTHENTICATOR_BYTES); the MAC is checked by the verifier. */
export function decodeAuthenticator(bytes: Uint8Array): Authenticator {
  const a = decodeArray(bytes, MAX_AUTHENTICATOR_BYTES, 8, AUTH);
  const fields: AuthenticatorFields = {
    v: TICKET_VERSION,
    ticketHash: bytesField(a[1], AUTH, 'ticketHash', TICKET_HASH_BYTES, TICKET_HASH_BYTES),
    timestamp: uintField(a[2], AUTH, 'timestamp'),
    nonce: bytesField(a[3], AUTH, 'nonce', NONCE_BYTES, NONCE_BYTES),
    clientPeerId: bytesField(a[4], AUTH, 'clientPeerId', 1, MAX_PEER_ID_BYTES),
    servicePeerId: bytesField(a[5], AUTH, 'servicePeerId', 1, MAX_PEER_ID_BYTES),
    challenge: bytesField(a[6], AUTH, 'challenge', 0, MAX_CHALLENGE_BYTES),
  };
  const mac = bytesField(a[7], AUTH, 'mac', MAC_BYTES, MAC_BYTES);
  const macInput = encodeAuthenticatorFields(fields);
  // The full encoding is 0x88 ‖ macInput[1..] ‖ 0x58 0x20 ‖ mac; anything else is not canonical.
  const n = bytes.length;
  if (
    bytes[0] !== 0x88 ||
    n !== macInput.length + 2 + MAC_BYTES ||
    !bytesEqual(macInput.subarray(1), bytes.subarray(1, macInput.length))
  ) {
    throw decodeError(AUTH, 'not canonically encoded');
  }
  return { ...fields, mac, macInput };
}
