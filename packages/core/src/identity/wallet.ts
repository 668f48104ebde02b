/** secp256k1 wallets: keys, EIP-55 addresses and EIP-191 message signatures compatible with viem and ethers. */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { ADDRESS_BYTES, EIP191_PREFIX, KEY_BYTES, SIGNATURE_BYTES } from './constants.ts';
import { WalletError } from './errors.ts';
import { type Hex, parseHex, toHex } from './hex.ts';

/** An EIP-55 checksummed, 0x-prefixed EVM address. */
export type Address = `0x${string}`;

/** A message to sign: a string is signed as its UTF-8 bytes, bytes as they are (as viem's `{ raw }`). */
export type SignableMessage = string | Uint8Array;

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const HALF_ORDER = secp256k1.Point.CURVE().n >> 1n;

/**
 * A secp256k1 key pair. The private key lives in a private field: `toJSON`, `toString` and
 * `util.inspect` show only the address, so a wallet logged or serialised by mistake leaks nothing.
 */
export class Wallet {
  readonly #privateKey: Uint8Array;
  /** EIP-55 checksummed address. */
  readonly address: Address;
  readonly #publicKey: Uint8Array;

  /** Use {@link Wallet.generate} or {@link Wallet.fromPrivateKey}. */
  constructor(privateKey: Uint8Array) {
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== KEY_BYTES) {
      throw new WalletError('INVALID_PRIVATE_KEY', 'a private key must be 32 bytes; check the key material');
    }
    if (!secp256k1.utils.isValidSecretKey(privateKey)) {
      throw new WalletError(
        'INVALID_PRIVATE_KEY',
        'the private key is not a valid secp256k1 scalar (zero or not below the curve order); use another key',
      );
    }
    this.#privateKey = Uint8Array.from(privateKey);
    this.#publicKey = secp256k1.getPublicKey(this.#privateKey, true);
    this.address = publicKeyToAddress(this.#publicKey);
  }

  /** A new wallet from the platform's cryptographically secure random source. */
  static generate(): Wallet {
    return new Wallet(secp256k1.utils.randomSecretKey());
  }

  /** A wallet from a 32-byte private key given as bytes or hex (with or without 0x). */
  static fromPrivateKey(privateKey: string | Uint8Array): Wallet {
    if (typeof privateKey === 'string') {
      const bytes = parseHex(privateKey.trim(), KEY_BYTES);
      if (!bytes || bytes.length !== KEY_BYTES) {
        throw new WalletError(
          'INVALID_PRIVATE_KEY',
          'a private key must be 64 hex digits (0x prefix optional)',
        );
      }
      return new Wallet(bytes);
    }
    return new Wallet(privateKey);
  }

  /** SEC1 compressed public key (33 bytes); a copy, so callers cannot alter the wallet. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey);
  }

  /** SEC1 uncompressed public key (65 bytes, 0x04 prefix). */
  get uncompressedPublicKey(): Uint8Array {
    return secp256k1.Point.fromBytes(this.#publicKey).toBytes(false);
  }

  /** A copy of the raw private key; callers own it and should wipe it when done. */
  exportPrivateKey(): Uint8Array {
    return Uint8Array.from(this.#privateKey);
  }

  /** The private key as 0x-prefixed hex (for tools that want it that way; never log it). */
  exportPrivateKeyHex(): Hex {
    return toHex(this.#privateKey);
  }

  /** EIP-191 personal_sign signature (r || s || v, v = 27/28) as hex, byte-identical to viem and ethers. */
  signMessage(message: SignableMessage): Hex {
    return toHex(this.signDigest(hashMessage(message)));
  }

  /** Signs a 32-byte digest as it is (no prefix): 65 bytes r || s || v with v = 27/28, low-S, RFC 6979. */
  signDigest(digest: Uint8Array): Uint8Array {
    if (!(digest instanceof Uint8Array) || digest.length !== KEY_BYTES) {
      throw new WalletError('INVALID_SIGNATURE', 'a digest to sign must be 32 bytes');
    }
    const recovered = secp256k1.sign(digest, this.#privateKey, { prehash: false, format: 'recovered' });
    const out = new Uint8Array(SIGNATURE_BYTES);
    out.set(recovered.subarray(1, 65), 0);
    out[64] = 27 + recovered[0]!;
    return out;
  }

  /** ECDH with another secp256k1 public key: the 32-byte x coordinate of the shared point. */
  sharedSecret(publicKey: Uint8Array): Uint8Array {
    let shared: Uint8Array;
    try {
      shared = secp256k1.getSharedSecret(this.#privateKey, publicKey, true);
    } catch (err) {
      throw new WalletError('INVALID_PUBLIC_KEY', 'the peer public key is not a valid secp256k1 point', {
        cause: err,
      });
    }
    return shared.subarray(1);
  }

  toJSON(): { address: Address } {
    return { address: this.address };
  }

  toString(): string {
    return `Wallet(${this.address})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** EIP-191 hash of a message: keccak256("\x19Ethereum Signed Message:\n" + length + message). */
export function hashMessage(message: SignableMessage): Uint8Array {
  const bytes = typeof message === 'string' ? utf8ToBytes(message) : message;
  if (!(bytes instanceof Uint8Array)) {
    throw new WalletError('INVALID_SIGNATURE', 'a message must be a string or a Uint8Array');
  }
  const prefix = utf8ToBytes(`${EIP191_PREFIX}${bytes.length}`);
  const data = new Uint8Array(prefix.length + bytes.length);
  data.set(prefix, 0);
  data.set(bytes, prefix.length);
  return keccak_256(data);
}

/** Decodes a 65-byte r || s || v signature (v = 27/28 or 0/1, low-S only) into noble's recovered form. */
function decodeSignature(signature: Hex | string | Uint8Array): Uint8Array {
  const bytes = typeof signature === 'string' ? parseHex(signature, SIGNATURE_BYTES) : signature;
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNATURE_BYTES) {
    throw new WalletError('INVALID_SIGNATURE', 'a signature must be 65 bytes (r || s || v) as bytes or hex');
  }
  const v = bytes[64]!;
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) {
    throw new WalletError('INVALID_SIGNATURE', `signature recovery byte v=${v} is not 27, 28, 0 or 1`);
  }
  let s = 0n;
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(bytes[i]!);
  if (s > HALF_ORDER) {
    throw new WalletError('INVALID_SIGNATURE', 'signature has a high S value (malleable form); re-sign it');
  }
  const recovered = new Uint8Array(SIGNATURE_BYTES);
  recovered[0] = recovery;
  recovered.set(bytes.subarray(0, 64), 1);
  return recovered;
}

/** Recovers the signer's address from a 32-byte digest and a 65-byte signature. */
export function recoverDigestAddress(digest: Uint8Array, signature: Hex | string | Uint8Array): Address {
  if (!(digest instanceof Uint8Array) || digest.length !== KEY_BYTES) {
    throw new WalletError('INVALID_SIGNATURE', 'a signed digest must be 32 bytes');
  }
  const recovered = decodeSignature(signature);
  let publicKey: Uint8Array;
  try {
    publicKey = secp256k1.recoverPublicKey(recovered, digest, { prehash: false });
  } catch (err) {
    throw new WalletError('INVALID_SIGNATURE', 'no public key can be recovered from this signature', {
      cause: err,
    });
  }
  return publicKeyToAddress(publicKey);
}

/** Recovers the address that signed `message` with EIP-191 personal_sign. */
export function recoverMessageAddress(
  message: SignableMessage,
  signature: Hex | string | Uint8Array,
): Address {
  return recoverDigestAddress(hashMessage(message), signature);
}

/** True when `signature` over `message` recovers to `address`; false for any malformed input. */
export function verifyMessage(
  address: string,
  message: SignableMessage,
  signature: Hex | string | Uint8Array,
): boolean {
  try {
    return recoverMessageAddress(message, signature) === toChecksumAddress(address);
  } catch (err) {
    if (err instanceof WalletError) return false;
    throw err;
  }
}

/** The address of a secp256k1 public key (33-byte compressed or 65-byte uncompressed). */
export function publicKeyToAddress(publicKey: Uint8Array): Address {
  let uncompressed: Uint8Array;
  try {
    uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  } catch (err) {
    throw new WalletError('INVALID_PUBLIC_KEY', 'not a valid secp256k1 public key (33 or 65 bytes)', {
      cause: err,
    });
  }
  return checksumLowerHex(toHex(keccak_256(uncompressed.subarray(1)).subarray(32 - ADDRESS_BYTES)).slice(2));
}

function checksumLowerHex(lower: string): Address {
  const hash = keccak_256(utf8ToBytes(lower));
  let out = '0x';
  for (let i = 0; i < lower.length; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 15;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out as Address;
}

/**
 * The EIP-55 form of an address. All-lowercase and all-uppercase input is accepted; mixed case must
 * already carry a correct checksum (it is how a mistyped address is caught).
 */
export function toChecksumAddress(address: string): Address {
  if (typeof address !== 'string' || !ADDRESS_RE.test(address)) {
    throw new WalletError('INVALID_ADDRESS', 'an address must be 0x followed by 40 hex digits');
  }
  const digits = address.slice(2);
  const checksummed = checksumLowerHex(digits.toLowerCase());
  const mixed = digits !== digits.toLowerCase() && digits !== digits.toUpperCase();
  if (mixed && checksummed !== address) {
    throw new WalletError(
      'INVALID_ADDRESS',
      `address ${address} has a wrong EIP-55 checksum; check it for typing errors`,
    );
  }
  return checksummed;
}

/** True when `address` is a well-formed address (mixed case only with a valid checksum). */
export function isAddress(address: unknown): address is Address {
  if (typeof address !== 'string') return false;
  try {
    toChecksumAddress(address);
    return true;
  } catch {
    return false;
  }
}
