/**
 * Pairwise keys: the long-term secret one client encryption key shares with one service encryption
 * key (static-static X25519), and the per-ticket sealing keys expanded from it. Both sides cache the
 * pairwise key, so sealing or opening a ticket costs HMACs, not a Diffie-Hellman.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  AEAD_KEY_BYTES,
  DEFAULT_SERVICE_KEY_CACHE_ENTRIES,
  TICKET_PAIR_LABEL,
  TICKET_SEAL_LABEL,
} from './constants.ts';
import type { X25519Key } from './crypto.ts';

/** A keyed HMAC-SHA256 midstate; `clone()` it for each message. */
export type HmacState = ReturnType<typeof hmac.create>;

const PAIR_SALT = new TextEncoder().encode(TICKET_PAIR_LABEL);
const SEAL_INFO = new TextEncoder().encode(TICKET_SEAL_LABEL);
const COUNTER_1 = Uint8Array.of(1);

/** The pairwise key of one (client key, service key) pair, prepared for HKDF-Expand. */
export interface PairKey {
  readonly clientPublicKey: Uint8Array;
  readonly servicePublicKey: Uint8Array;
  /** HMAC midstate keyed with the pairwise PRK; cloned for every expansion, never updated itself. */
  readonly prk: HmacState;
}

/**
 * PRK = HKDF-Extract(salt = "dibs/ticket/v2/pair", ikm = X25519(C, S) ‖ C_pub ‖ S_pub): binds the
 * pairwise secret to both registered public keys.
 */
export function derivePairKey(
  staticShared: Uint8Array,
  clientPublicKey: Uint8Array,
  servicePublicKey: Uint8Array,
): PairKey {
  const prk = hmac
    .create(sha256, PAIR_SALT)
    .update(staticShared)
    .update(clientPublicKey)
    .update(servicePublicKey)
    .digest();
  const state = hmac.create(sha256, prk);
  prk.fill(0);
  return { clientPublicKey, servicePublicKey, prk: state };
}

/**
 * One ticket's AEAD key: HKDF-Expand(PRK, info = "dibs/ticket/v2/seal" ‖ header, 32). The header
 * carries the random per-ticket salt, version, kind, chain id and client address, so every ticket
 * gets its own key and the clear header is bound into it.
 */
export function ticketSealKey(pair: PairKey, headerBytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(AEAD_KEY_BYTES);
  pair.prk.clone().update(SEAL_INFO).update(headerBytes).update(COUNTER_1).digestInto(out);
  return out;
}

const clientCaches = new WeakMap<X25519Key, Map<string, PairKey>>();

function keyString(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/**
 * The client-side pairwise key of `clientKey` with `servicePublicKey`, cached per prepared client key
 * (bounded, least recently used dropped first) so repeated tickets to a service skip the X25519.
 */
export function clientPairKey(clientKey: X25519Key, servicePublicKey: Uint8Array): PairKey {
  let cache = clientCaches.get(clientKey);
  if (!cache) {
    cache = new Map();
    clientCaches.set(clientKey, cache);
  }
  const id = keyString(servicePublicKey);
  const hit = cache.get(id);
  if (hit) {
    cache.delete(id);
    cache.set(id, hit);
    return hit;
  }
  const pair = derivePairKey(
    clientKey.sharedSecret(servicePublicKey),
    clientKey.publicKey,
    new Uint8Array(servicePublicKey),
  );
  if (cache.size >= DEFAULT_SERVICE_KEY_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(id, pair);
  return pair;
}
