/** Per-session WireGuard keys: X25519 from node:crypto (WireGuard's own curve), never written to disk. */
import { generateKeyPairSync } from 'node:crypto';
import { WG_KEY_BYTES } from './constants.ts';

/** A WireGuard key pair, raw 32-byte keys. */
export interface WireGuardKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh key pair for one session. */
export function generateWireGuardKeyPair(): WireGuardKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const priv = privateKey.export({ format: 'jwk' }).d;
  const pub = publicKey.export({ format: 'jwk' }).x;
  if (!priv || !pub) throw new Error('node:crypto gave an X25519 key without its raw parts');
  const out = { privateKey: Buffer.from(priv, 'base64url'), publicKey: Buffer.from(pub, 'base64url') };
  if (out.privateKey.length !== WG_KEY_BYTES || out.publicKey.length !== WG_KEY_BYTES) {
    throw new Error('node:crypto gave an X25519 key of the wrong size');
  }
  return { privateKey: new Uint8Array(out.privateKey), publicKey: new Uint8Array(out.publicKey) };
}

/** Hex, as the UAPI wants keys. */
export function keyHex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}

/** Base64, as `wg` and humans show keys. */
export function keyBase64(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}
