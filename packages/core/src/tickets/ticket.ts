/** Client-side ticket issuance and the sealing scheme both sides share. */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  AEAD_NONCE_BYTES,
  DEFAULT_TICKET_LIFETIME_MS,
  MAX_PEER_ID_BYTES,
  MAX_SERVICE_TYPE_BYTES,
  MAX_TICKET_BYTES,
  MAX_TICKET_LIFETIME_MS,
  NETWORK_SERVICE_TYPE,
  NONCE_BYTES,
  SESSION_KEY_BYTES,
  TICKET_SALT_BYTES,
  TICKET_VERSION,
  X25519_KEY_BYTES,
} from './constants.ts';
import {
  decodeTicketBody,
  encodeSealedTicket,
  encodeTicketBody,
  encodeTicketHeader,
  idToBytes,
  normalizeAddress,
  type SealedTicket,
  type TicketBody,
  type TicketHeader,
  type TicketKind,
} from './codec.ts';
import { defaultTicketCrypto, type TicketCrypto, type X25519Key } from './crypto.ts';
import { TicketError } from './errors.ts';
import { clientPairKey, type PairKey, ticketSealKey } from './pairwise.ts';

/** The on-chain grant a ticket is made from. `expiresAt` is Unix seconds, as AccessGrants stores it. */
export interface TicketGrant {
  grantId: bigint;
  serviceId: bigint;
  expiresAt: bigint | number;
}

/** Arguments of {@link issueTicket}. */
export interface IssueTicketOptions {
  kind: TicketKind;
  grant: TicketGrant;
  chainId: number;
  /** AccessGrants contract address. */
  contract: string;
  client: {
    address: string;
    /** Raw 32-byte X25519 private key whose public key is registered for `address`, or a prepared key. */
    encryptionPrivateKey: Uint8Array | X25519Key;
  };
  service: {
    serviceId: bigint;
    serviceType: string;
    /** Binary PeerId of the node the ticket will be presented to. */
    peerId: Uint8Array;
    /** The node's registered X25519 public key. */
    encryptionPublicKey: Uint8Array;
  };
  /** Requested lifetime; capped by the grant expiry. Default DEFAULT_TICKET_LIFETIME_MS. */
  lifetimeMs?: number;
  /** Clock (Unix ms); default Date.now. */
  now?: number;
  crypto?: TicketCrypto;
}

/** A freshly issued ticket and the secret the client keeps to make authenticators. */
export interface IssuedTicket {
  ticket: Uint8Array;
  sessionKey: Uint8Array;
  ticketHash: Uint8Array;
  issuedAt: number;
  expiresAt: number;
}

/** SHA-256 of the exact ticket bytes: what authenticators and caches refer to. */
export function hashTicket(ticket: Uint8Array): Uint8Array {
  return sha256(ticket);
}

// Each ticket key seals exactly one message (the salt makes it unique), so a fixed nonce is safe.
const AEAD_NONCE = new Uint8Array(AEAD_NONCE_BYTES);

/** AEAD-seals a ticket body under its per-ticket key, with the clear header as associated data. */
export function sealTicketBody(pair: PairKey, headerBytes: Uint8Array, body: Uint8Array): Uint8Array {
  return chacha20poly1305(ticketSealKey(pair, headerBytes), AEAD_NONCE, headerBytes).encrypt(body);
}

const rawKeys = new WeakMap<Uint8Array, { copy: Uint8Array; key: X25519Key }>();

// Prepares (once per key array) the client's X25519 key, so repeated issues reuse its pairwise-key cache.
function preparedClientKey(raw: Uint8Array, crypto: TicketCrypto): X25519Key {
  const known = rawKeys.get(raw);
  if (known && known.copy.length === raw.length && known.copy.every((b, i) => b === raw[i])) return known.key;
  const key = crypto.x25519Key(raw);
  rawKeys.set(raw, { copy: new Uint8Array(raw), key });
  return key;
}

function invalid(message: string): TicketError {
  return new TicketError('INVALID_ARGUMENT', message);
}

/**
 * Builds a ticket for `service`, encrypted to the service node's registered key and provably made
 * by the holder of the client's registered key. Returns the session key the client must keep secret.
 */
export function issueTicket(options: IssueTicketOptions): IssuedTicket {
  const { kind, grant, chainId, client, service } = options;
  const crypto = options.crypto ?? defaultTicketCrypto();
  const now = options.now ?? Date.now();
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_TICKET_LIFETIME_MS;
  if (!Number.isSafeInteger(chainId) || chainId < 1)
    throw invalid(`chainId ${chainId} must be a positive integer`);
  if (!Number.isSafeInteger(now) || now < 0) throw invalid('now must be Unix milliseconds');
  if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 1 || lifetimeMs > MAX_TICKET_LIFETIME_MS) {
    throw invalid(`lifetimeMs must be 1..${MAX_TICKET_LIFETIME_MS}`);
  }
  if (grant.serviceId !== service.serviceId) {
    throw invalid(
      `grant ${grant.grantId} is for service ${grant.serviceId}, not service ${service.serviceId}`,
    );
  }
  idToBytes(grant.grantId);
  idToBytes(service.serviceId);
  const typeBytes = new TextEncoder().encode(service.serviceType);
  if (typeBytes.length < 1 || typeBytes.length > MAX_SERVICE_TYPE_BYTES) {
    throw invalid(`serviceType must be 1..${MAX_SERVICE_TYPE_BYTES} bytes`);
  }
  if ((kind === 'network') !== (service.serviceType === NETWORK_SERVICE_TYPE)) {
    throw invalid(`a ${kind} ticket cannot be made for a "${service.serviceType}" service`);
  }
  if (
    !(service.peerId instanceof Uint8Array) ||
    service.peerId.length < 1 ||
    service.peerId.length > MAX_PEER_ID_BYTES
  ) {
    throw invalid(`service peerId must be 1..${MAX_PEER_ID_BYTES} bytes (a binary PeerId)`);
  }
  if (
    !(service.encryptionPublicKey instanceof Uint8Array) ||
    service.encryptionPublicKey.length !== X25519_KEY_BYTES
  ) {
    throw invalid('service encryptionPublicKey must be the 32-byte X25519 key registered on chain');
  }
  const grantExpiryMs = Number(grant.expiresAt) * 1000;
  const expiresAt = Math.min(now + lifetimeMs, grantExpiryMs);
  if (!(expiresAt > now))
    throw new TicketError('EXPIRED', `grant ${grant.grantId} has expired; request a new grant`);

  const clientAddress = normalizeAddress(client.address);
  const clientKey =
    client.encryptionPrivateKey instanceof Uint8Array
      ? preparedClientKey(client.encryptionPrivateKey, crypto)
      : client.encryptionPrivateKey;
  const header: TicketHeader = {
    v: TICKET_VERSION,
    kind,
    chainId,
    clientAddress,
    salt: crypto.randomBytes(TICKET_SALT_BYTES),
  };
  const headerBytes = encodeTicketHeader(header);
  const sessionKey = crypto.randomBytes(SESSION_KEY_BYTES);
  const body: TicketBody = {
    v: TICKET_VERSION,
    kind,
    grantId: grant.grantId,
    chainId,
    contract: normalizeAddress(options.contract),
    clientAddress,
    serviceId: service.serviceId,
    serviceType: service.serviceType,
    servicePeerId: service.peerId,
    issuedAt: now,
    expiresAt,
    nonce: crypto.randomBytes(NONCE_BYTES),
    sessionKey,
  };
  const pair = clientPairKey(clientKey, service.encryptionPublicKey);
  const ciphertext = sealTicketBody(pair, headerBytes, encodeTicketBody(body));
  const ticket = encodeSealedTicket(header, ciphertext);
  if (ticket.length > MAX_TICKET_BYTES)
    throw invalid(`ticket would be ${ticket.length} bytes, over ${MAX_TICKET_BYTES}`);
  return { ticket, sessionKey, ticketHash: hashTicket(ticket), issuedAt: now, expiresAt };
}

/**
 * Decrypts a sealed ticket with the pairwise key of its client and this service (which a verifier
 * caches per client identity). Throws TAMPERED when the AEAD check fails.
 */
export function openTicket(sealed: SealedTicket, pair: PairKey): TicketBody {
  let plaintext: Uint8Array;
  try {
    plaintext = chacha20poly1305(
      ticketSealKey(pair, sealed.headerBytes),
      AEAD_NONCE,
      sealed.headerBytes,
    ).decrypt(sealed.ciphertext);
  } catch (cause) {
    throw new TicketError(
      'TAMPERED',
      'ticket does not decrypt: it was altered, or not made by the registered key of its client for this node',
      { cause },
    );
  }
  const body = decodeTicketBody(plaintext);
  const h = sealed.header;
  if (body.kind !== h.kind || body.chainId !== h.chainId || body.clientAddress !== h.clientAddress) {
    throw new TicketError(
      'TAMPERED',
      'ticket body disagrees with its header; the ticket was not made by a DIBS client',
    );
  }
  return body;
}
