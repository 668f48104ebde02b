/**
 * The X25519 and randomness backend of tickets. Everything else (HKDF, HMAC, SHA-256,
 * ChaCha20-Poly1305) uses @noble directly: measured on small inputs it is as fast as node:crypto or
 * faster. X25519 in pure JavaScript is ~15× slower than OpenSSL, so Node gets an OpenSSL backend,
 * reached through `process.getBuiltinModule` so that browsers never see a `node:` import.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import type * as NodeCrypto from 'node:crypto';
import { X25519_KEY_BYTES } from './constants.ts';
import { TicketError } from './errors.ts';

/** An X25519 private key prepared for repeated Diffie-Hellman. */
export interface X25519Key {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte shared secret with `peerPublicKey`; throws TicketError TAMPERED for low-order points. */
  sharedSecret(peerPublicKey: Uint8Array): Uint8Array;
}

/** Pluggable X25519 + randomness implementation (noble everywhere, OpenSSL on Node). */
export interface TicketCrypto {
  /** Short name for logs and benchmarks. */
  readonly name: string;
  /** Prepares a raw 32-byte X25519 private key. */
  x25519Key(privateKey: Uint8Array): X25519Key;
  /** A fresh random X25519 key. */
  generateX25519Key(): X25519Key;
  /** `length` cryptographically random bytes. */
  randomBytes(length: number): Uint8Array;
}

function checkSecret(secret: Uint8Array): Uint8Array {
  let acc = 0;
  for (let i = 0; i < secret.length; i++) acc |= secret[i]!;
  if (acc === 0 || secret.length !== X25519_KEY_BYTES) {
    throw new TicketError(
      'TAMPERED',
      'X25519 produced a zero shared secret: a public key is a low-order point',
    );
  }
  return secret;
}

function checkKeyLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new TicketError(
      'INVALID_ARGUMENT',
      `${what} must be ${X25519_KEY_BYTES} bytes; pass a raw X25519 key`,
    );
  }
}

function nobleKey(privateKey: Uint8Array): X25519Key {
  checkKeyLength(privateKey, 'X25519 private key');
  const secret = new Uint8Array(privateKey);
  return {
    publicKey: x25519.getPublicKey(secret),
    sharedSecret(peer) {
      checkKeyLength(peer, 'X25519 public key');
      let out: Uint8Array;
      try {
        out = x25519.getSharedSecret(secret, peer);
      } catch (cause) {
        throw new TicketError('TAMPERED', 'X25519 rejected the public key: it is a low-order point', {
          cause,
        });
      }
      return checkSecret(out);
    },
  };
}

/** Pure-JavaScript backend (@noble/curves); works in every runtime. */
export const nobleTicketCrypto: TicketCrypto = {
  name: 'noble',
  x25519Key: nobleKey,
  generateX25519Key: () => nobleKey(x25519.utils.randomSecretKey()),
  randomBytes: (length) => nobleRandomBytes(length),
};

// DER wrappers of raw X25519 keys (RFC 8410), for runtimes without the 'raw-public' key format.
const SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00);
const PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** OpenSSL backend built on a `node:crypto` module object. */
export function nodeTicketCrypto(nc: typeof NodeCrypto): TicketCrypto {
  let rawPublic = true;
  try {
    nc.createPublicKey({
      key: new Uint8Array(32).fill(9),
      format: 'raw-public',
      asymmetricKeyType: 'x25519',
    } as never);
  } catch {
    rawPublic = false;
  }
  const importPublic = (raw: Uint8Array): NodeCrypto.KeyObject =>
    rawPublic
      ? nc.createPublicKey({ key: raw, format: 'raw-public', asymmetricKeyType: 'x25519' } as never)
      : nc.createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, raw)), format: 'der', type: 'spki' });
  const exportPublic = (key: NodeCrypto.KeyObject): Uint8Array =>
    new Uint8Array(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
  const wrap = (privateKey: NodeCrypto.KeyObject, publicKey: Uint8Array): X25519Key => ({
    publicKey,
    sharedSecret(peer) {
      checkKeyLength(peer, 'X25519 public key');
      let out: Uint8Array;
      try {
        const secret = nc.diffieHellman({ privateKey, publicKey: importPublic(peer) });
        out = new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
      } catch (cause) {
        // OpenSSL refuses derivations that yield the all-zero secret (low-order points).
        throw new TicketError('TAMPERED', 'X25519 rejected the public key: it is a low-order point', {
          cause,
        });
      }
      return checkSecret(out);
    },
  });
  return {
    name: 'node',
    x25519Key(privateKey) {
      checkKeyLength(privateKey, 'X25519 private key');
      const key = nc.createPrivateKey({
        key: Buffer.from(concat(PKCS8_PREFIX, privateKey)),
        format: 'der',
        type: 'pkcs8',
      });
      return wrap(key, exportPublic(nc.createPublicKey(key)));
    },
    generateX25519Key() {
      const pair = nc.generateKeyPairSync('x25519');
      return wrap(pair.privateKey, exportPublic(pair.publicKey));
    },
    randomBytes: (length) => new Uint8Array(nc.randomBytes(length)),
  };
}

let defaultBackend: TicketCrypto | undefined;

/** The fastest backend this runtime offers: OpenSSL on Node ≥ 22.3, noble elsewhere. */
export function defaultTicketCrypto(): TicketCrypto {
  if (defaultBackend) return defaultBackend;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const nc = proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;
  defaultBackend = nc?.diffieHellman ? nodeTicketCrypto(nc) : nobleTicketCrypto;
  return defaultBackend;
}
