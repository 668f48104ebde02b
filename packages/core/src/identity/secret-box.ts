import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { Wallet } from './wallet.ts';

const LABEL = new TextEncoder().encode('dibs/database-secrets/v1');
const NONCE_BYTES = 24;

/**
 * Encrypts secrets the node keeps in its database (ticket session keys, login signing keys and client
 * secrets) under a key derived from the wallet key, so a copied database file reveals none of them
 * without the unlocked keystore.
 */
export class SecretBox {
  readonly #key: Uint8Array;

  constructor(wallet: Wallet) {
    const ikm = wallet.exportPrivateKey();
    this.#key = hkdf(sha256, ikm, undefined, LABEL, 32);
    ikm.fill(0);
  }

  /** nonce || ciphertext+tag; `context` (e.g. the grant id) is bound as associated data. */
  seal(plaintext: Uint8Array, context: string): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const sealed = xchacha20poly1305(this.#key, nonce, new TextEncoder().encode(context)).encrypt(plaintext);
    const out = new Uint8Array(NONCE_BYTES + sealed.length);
    out.set(nonce, 0);
    out.set(sealed, NONCE_BYTES);
    return out;
  }

  open(box: Uint8Array, context: string): Uint8Array {
    const nonce = box.subarray(0, NONCE_BYTES);
    return xchacha20poly1305(this.#key, nonce, new TextEncoder().encode(context)).decrypt(
      box.subarray(NONCE_BYTES),
    );
  }
}
