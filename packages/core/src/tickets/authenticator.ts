/** Authenticators: fresh per connection or stream, MAC'd with a key derived from the session key. */
import { expand } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  AUTHENTICATOR_KEY_LABEL,
  MAC_BYTES,
  MAX_CHALLENGE_BYTES,
  MAX_PEER_ID_BYTES,
  NONCE_BYTES,
  SESSION_KEY_BYTES,
  TICKET_HASH_BYTES,
  TICKET_VERSION,
} from './constants.ts';
import { type AuthenticatorFields, encodeAuthenticator, encodeAuthenticatorFields } from './codec.ts';
import { defaultTicketCrypto, type TicketCrypto } from './crypto.ts';
import { TicketError } from './errors.ts';
import type { HmacState } from './pairwise.ts';
import { hashTicket } from './ticket.ts';

const KEY_INFO = new TextEncoder().encode(AUTHENTICATOR_KEY_LABEL);

/**
 * MAC key of a ticket's authenticators: HKDF-Expand(PRK = session key, info = label ‖ ticket hash).
 * The session key is 32 uniformly random bytes, a valid PRK as it is (RFC 5869 §3.3), so no Extract.
 */
export function deriveAuthenticatorKey(sessionKey: Uint8Array, ticketHash: Uint8Array): Uint8Array {
  const info = new Uint8Array(KEY_INFO.length + ticketHash.length);
  info.set(KEY_INFO, 0);
  info.set(ticketHash, KEY_INFO.length);
  return expand(sha256, sessionKey, info, MAC_BYTES);
}

/** HMAC-SHA256 of the canonical authenticator fields. */
export function authenticatorMac(authKey: Uint8Array, macInput: Uint8Array): Uint8Array {
  return hmac(sha256, authKey, macInput);
}

/** HMAC midstate keyed with an authenticator key, so a verifier checks each new MAC without re-keying. */
export function authenticatorMacState(authKey: Uint8Array): HmacState {
  return hmac.create(sha256, authKey);
}

/** Arguments of {@link createAuthenticator}: give the ticket or its hash. */
export interface CreateAuthenticatorOptions {
  ticket?: Uint8Array;
  ticketHash?: Uint8Array;
  sessionKey: Uint8Array;
  /** Binary PeerId of the client's own libp2p identity (the connection's local peer). */
  clientPeerId: Uint8Array;
  /** Binary PeerId of the node being connected to. */
  servicePeerId: Uint8Array;
  /** The verifier's challenge for this connection; empty or omitted for one-shot use. */
  challenge?: Uint8Array;
  /** Clock (Unix ms); default Date.now. */
  now?: number;
  crypto?: TicketCrypto;
}

function checkBytes(value: unknown, name: string, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) {
    throw new TicketError(
      'INVALID_ARGUMENT',
      `${name} must be ${min === max ? min : `${min}..${max}`} bytes`,
    );
  }
  return value;
}

/** A fresh authenticator proving possession of the ticket's session key on this connection. */
export function createAuthenticator(options: CreateAuthenticatorOptions): Uint8Array {
  const crypto = options.crypto ?? defaultTicketCrypto();
  const ticketHash =
    options.ticketHash ?? (options.ticket instanceof Uint8Array ? hashTicket(options.ticket) : undefined);
  const now = options.now ?? Date.now();
  if (!Number.isSafeInteger(now) || now < 0)
    throw new TicketError('INVALID_ARGUMENT', 'now must be Unix milliseconds');
  const fields: AuthenticatorFields = {
    v: TICKET_VERSION,
    ticketHash: checkBytes(ticketHash, 'ticketHash (or ticket)', TICKET_HASH_BYTES, TICKET_HASH_BYTES),
    timestamp: now,
    nonce: crypto.randomBytes(NONCE_BYTES),
    clientPeerId: checkBytes(options.clientPeerId, 'clientPeerId', 1, MAX_PEER_ID_BYTES),
    servicePeerId: checkBytes(options.servicePeerId, 'servicePeerId', 1, MAX_PEER_ID_BYTES),
    challenge: checkBytes(options.challenge ?? new Uint8Array(0), 'challenge', 0, MAX_CHALLENGE_BYTES),
  };
  const sessionKey = checkBytes(options.sessionKey, 'sessionKey', SESSION_KEY_BYTES, SESSION_KEY_BYTES);
  const mac = authenticatorMac(
    deriveAuthenticatorKey(sessionKey, fields.ticketHash),
    encodeAuthenticatorFields(fields),
  );
  return encodeAuthenticator(fields, mac);
}
