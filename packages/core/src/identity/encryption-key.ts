/**
 * The ticket encryption key: an X25519 key pair derived from the wallet key with HKDF-SHA256 under a
 * domain-separation label, so one keystore protects both keys and the X25519 key reveals nothing
 * about the wallet key. Its public half is what the Registry stores (`registerIdentity(bytes32)`).
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { ENCRYPTION_KEY_LABEL, KEY_BYTES } from './constants.ts';
import { EncryptionKeyError } from './errors.ts';
import { type Hex, parseHex, toHex } from './hex.ts';
import type { Wallet } from './wallet.ts';

/** An X25519 key pair (raw 32-byte keys). */
export interface EncryptionKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** Derives the wallet's X25519 encryption key pair (deterministic: same wallet, same keys). */
export function encryptionKeyFromWallet(wallet: Wallet): EncryptionKeyPair {
  const walletKey = wallet.exportPrivateKey();
  try {
    const privateKey = hkdf(sha256, walletKey, undefined, utf8ToBytes(ENCRYPTION_KEY_LABEL), KEY_BYTES);
    return { publicKey: x25519.getPublicKey(privateKey), privateKey };
  } finally {
    walletKey.fill(0);
  }
}

/** The X25519 public key of a 32-byte X25519 private key. */
export function encryptionPublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(assertEncryptionKey(privateKey, 'private'));
}

function assertEncryptionKey(key: Uint8Array, kind: 'public' | 'private'): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new EncryptionKeyError('INVALID_ENCRYPTION_KEY', `an X25519 ${kind} key must be 32 bytes`);
  }
  return key;
}

/** The bytes32 hex form of an X25519 public key, as passed to `registerIdentity` / `updateEncryptionKey`. */
export function encryptionKeyToBytes32(publicKey: Uint8Array): Hex {
  assertEncryptionKey(publicKey, 'public');
  if (publicKey.every((b) => b === 0)) {
    throw new EncryptionKeyError(
      'INVALID_ENCRYPTION_KEY',
      'the all-zero key means "not registered" on chain and cannot be registered; derive a real key',
    );
  }
  return toHex(publicKey);
}

/**
 * The raw X25519 public key from a bytes32 value read from the Registry (hex, 0x optional), or null
 * for the all-zero value, which the Registry uses for "not registered".
 */
export function encryptionKeyFromBytes32(value: string | Uint8Array): Uint8Array | null {
  const bytes = typeof value === 'string' ? parseHex(value, KEY_BYTES) : value;
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    throw new EncryptionKeyError(
      'INVALID_ENCRYPTION_KEY',
      'a bytes32 encryption key must be 32 bytes (64 hex digits)',
    );
  }
  if (bytes.every((b) => b === 0)) return null;
  return Uint8Array.from(bytes);
}
