/**
 * Ethereum V3 keystores (scrypt or PBKDF2, aes-128-ctr, keccak MAC), interoperable with geth, ethers
 * and @ethereumjs/wallet. Isomorphic: the KDF is injectable so Node can use node:crypto (see
 * keystore-file.ts) while browsers use @noble/hashes.
 */
import { ctr } from '@noble/ciphers/aes.js';
import { pbkdf2Async } from '@noble/hashes/pbkdf2.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  ADDRESS_BYTES,
  KEYSTORE_CIPHER,
  KEYSTORE_CIPHERTEXT_BYTES,
  KEYSTORE_DEFAULT_SCRYPT_N,
  KEYSTORE_DEFAULT_SCRYPT_P,
  KEYSTORE_DEFAULT_SCRYPT_R,
  KEYSTORE_DKLEN,
  KEYSTORE_IV_BYTES,
  KEYSTORE_MAX_BYTES,
  KEYSTORE_MAX_PBKDF2_C,
  KEYSTORE_MAX_SALT_BYTES,
  KEYSTORE_MAX_SCRYPT_MEMORY,
  KEYSTORE_MAX_SCRYPT_N,
  KEYSTORE_MAX_SCRYPT_P,
  KEYSTORE_MAX_SCRYPT_R,
  KEYSTORE_MAX_SCRYPT_WORK,
  KEYSTORE_SALT_BYTES,
  KEYSTORE_VERSION,
} from './constants.ts';
import { KeystoreError } from './errors.ts';
import { equalBytes, parseHex, toHex } from './hex.ts';
import { type Address, toChecksumAddress, Wallet } from './wallet.ts';

/** The label used in error messages when a keystore did not come from a named file. */
export const KEYSTORE_INPUT_SOURCE = '<input>';

/** scrypt parameters as a keystore states them. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  dkLen: number;
}

/** An scrypt implementation: node:crypto in Node, @noble/hashes elsewhere. */
export type ScryptFunction = (
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams,
) => Promise<Uint8Array>;

/** A PBKDF2-HMAC-SHA256 implementation. */
export type Pbkdf2Function = (
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  dkLen: number,
) => Promise<Uint8Array>;

/** The pluggable key derivation functions. */
export interface KeystoreKdf {
  scrypt?: ScryptFunction;
  pbkdf2?: Pbkdf2Function;
}

/** Memory bound handed to scrypt implementations: the accepted maximum plus the p-block overhead. */
export function scryptMaxmem(r: number, p: number): number {
  return KEYSTORE_MAX_SCRYPT_MEMORY + 128 * r * (p + 2);
}

/** scrypt from @noble/hashes (pure JS, runs in browsers). */
export const nobleScrypt: ScryptFunction = (password, salt, { N, r, p, dkLen }) =>
  scryptAsync(password, salt, { N, r, p, dkLen, maxmem: scryptMaxmem(r, p) });

/** PBKDF2-HMAC-SHA256 from @noble/hashes. */
export const noblePbkdf2: Pbkdf2Function = (password, salt, c, dkLen) =>
  pbkdf2Async(sha256, password, salt, { c, dkLen });

/** A V3 keystore as JSON (what ethers, geth and @ethereumjs/wallet write and read). */
export interface KeystoreV3 {
  version: 3;
  id: string;
  address: string;
  crypto: {
    cipher: 'aes-128-ctr';
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: 'scrypt';
    kdfparams: { dklen: number; n: number; r: number; p: number; salt: string };
    mac: string;
  };
}

/** Options of {@link encryptKeystore}. */
export interface EncryptKeystoreOptions extends KeystoreKdf {
  /** scrypt N (power of two ≥ 2); default 131072. Lower values are for tests only. */
  scryptN?: number;
  scryptR?: number;
  scryptP?: number;
}

/** Options of {@link decryptKeystore}. */
export interface DecryptKeystoreOptions extends KeystoreKdf {
  /** Names the keystore (usually its file path) in error messages. */
  source?: string;
}

/** A keystore after validation: every field decoded and within bounds, nothing decrypted yet. */
export interface ParsedKeystore {
  address: Address | null;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  mac: Uint8Array;
  kdf:
    | { kind: 'scrypt'; salt: Uint8Array; N: number; r: number; p: number; dkLen: number }
    | { kind: 'pbkdf2'; salt: Uint8Array; c: number; dkLen: number };
}

function corrupt(source: string, what: string): KeystoreError {
  return new KeystoreError(
    'CORRUPT_KEYSTORE',
    `keystore ${source} is corrupt: ${what}; restore it from a backup`,
    source,
  );
}

function unsupported(source: string, what: string): KeystoreError {
  return new KeystoreError(
    'UNSUPPORTED_KEYSTORE',
    `keystore ${source} is not supported: ${what}; re-export it as a V3 scrypt keystore`,
    source,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(obj: Record<string, unknown>, name: string): unknown {
  // ethers writes "Crypto"; geth and ethereumjs write "crypto". Match keys case-insensitively.
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

function hexField(source: string, obj: Record<string, unknown>, name: string, min: number, max: number) {
  const bytes = parseHex(field(obj, name), max);
  if (!bytes || bytes.length < min) {
    throw corrupt(source, `"${name}" must be hex of ${min === max ? min : `${min}-${max}`} bytes`);
  }
  return bytes;
}

function intField(source: string, obj: Record<string, unknown>, name: string, min: number, max: number) {
  const value = field(obj, name);
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw corrupt(source, `"${name}" must be an integer`);
  }
  if (value < min || value > max) {
    throw unsupported(source, `"${name}" = ${value} is outside ${min}..${max}`);
  }
  return value;
}

/**
 * Validates a V3 keystore (JSON text or parsed object) without decrypting it. Throws
 * `KeystoreError` CORRUPT_KEYSTORE for malformed input and UNSUPPORTED_KEYSTORE for a valid keystore
 * whose version, cipher or KDF parameters this code does not accept.
 */
export function parseKeystore(input: unknown, source: string = KEYSTORE_INPUT_SOURCE): ParsedKeystore {
  let json: unknown = input;
  if (typeof input === 'string') {
    if (input.length > KEYSTORE_MAX_BYTES) throw corrupt(source, `larger than ${KEYSTORE_MAX_BYTES} bytes`);
    try {
      json = JSON.parse(input);
    } catch {
      throw corrupt(source, 'not valid JSON');
    }
  }
  if (!isRecord(json)) throw corrupt(source, 'not a JSON object');
  const version = field(json, 'version');
  if (version !== KEYSTORE_VERSION) throw unsupported(source, `version ${String(version)} (only 3 is)`);
  const crypto = field(json, 'crypto');
  if (!isRecord(crypto)) throw corrupt(source, 'missing "crypto" object');

  let address: Address | null = null;
  const rawAddress = field(json, 'address');
  if (rawAddress !== undefined) {
    const bytes = parseHex(rawAddress, ADDRESS_BYTES);
    if (bytes?.length !== ADDRESS_BYTES) throw corrupt(source, '"address" must be 20 bytes of hex');
    address = toChecksumAddress(toHex(bytes));
  }

  const cipher = field(crypto, 'cipher');
  if (cipher !== KEYSTORE_CIPHER)
    throw unsupported(source, `cipher ${String(cipher)} (only ${KEYSTORE_CIPHER} is)`);
  const cipherparams = field(crypto, 'cipherparams');
  if (!isRecord(cipherparams)) throw corrupt(source, 'missing "cipherparams"');
  const iv = hexField(source, cipherparams, 'iv', KEYSTORE_IV_BYTES, KEYSTORE_IV_BYTES);
  const ciphertext = hexField(
    source,
    crypto,
    'ciphertext',
    KEYSTORE_CIPHERTEXT_BYTES,
    KEYSTORE_CIPHERTEXT_BYTES,
  );
  const mac = hexField(source, crypto, 'mac', 32, 32);

  const kdfName = field(crypto, 'kdf');
  const kdfparams = field(crypto, 'kdfparams');
  if (!isRecord(kdfparams)) throw corrupt(source, 'missing "kdfparams"');
  const salt = hexField(source, kdfparams, 'salt', 0, KEYSTORE_MAX_SALT_BYTES);
  // Only the first 32 bytes are used (16 for AES, 16 for the MAC); longer keys cost nothing extra to refuse.
  const dkLen = intField(source, kdfparams, 'dklen', KEYSTORE_DKLEN, KEYSTORE_DKLEN);
  if (kdfName === 'scrypt') {
    const N = intField(source, kdfparams, 'n', 2, KEYSTORE_MAX_SCRYPT_N);
    if ((N & (N - 1)) !== 0) throw corrupt(source, `scrypt n=${N} is not a power of two`);
    const r = intField(source, kdfparams, 'r', 1, KEYSTORE_MAX_SCRYPT_R);
    const p = intField(source, kdfparams, 'p', 1, KEYSTORE_MAX_SCRYPT_P);
    if (128 * N * r > KEYSTORE_MAX_SCRYPT_MEMORY) {
      throw unsupported(source, `scrypt n=${N} r=${r} needs more than ${KEYSTORE_MAX_SCRYPT_MEMORY} bytes`);
    }
    if (N * r * p > KEYSTORE_MAX_SCRYPT_WORK) {
      throw unsupported(
        source,
        `scrypt n=${N} r=${r} p=${p} is more work than the limit n·r·p ≤ ${KEYSTORE_MAX_SCRYPT_WORK}`,
      );
    }
    return { address, iv, ciphertext, mac, kdf: { kind: 'scrypt', salt, N, r, p, dkLen } };
  }
  if (kdfName === 'pbkdf2') {
    const prf = field(kdfparams, 'prf');
    if (prf !== 'hmac-sha256') throw unsupported(source, `pbkdf2 prf ${String(prf)} (only hmac-sha256 is)`);
    const c = intField(source, kdfparams, 'c', 1, KEYSTORE_MAX_PBKDF2_C);
    return { address, iv, ciphertext, mac, kdf: { kind: 'pbkdf2', salt, c, dkLen } };
  }
  throw unsupported(source, `kdf ${String(kdfName)} (scrypt and pbkdf2 are)`);
}

function macOf(derived: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const data = new Uint8Array(16 + ciphertext.length);
  data.set(derived.subarray(16, 32), 0);
  data.set(ciphertext, 16);
  return keccak_256(data);
}

async function derive(parsed: ParsedKeystore, password: Uint8Array, kdf: KeystoreKdf): Promise<Uint8Array> {
  const k = parsed.kdf;
  if (k.kind === 'scrypt') {
    return (kdf.scrypt ?? nobleScrypt)(password, k.salt, { N: k.N, r: k.r, p: k.p, dkLen: k.dkLen });
  }
  return (kdf.pbkdf2 ?? noblePbkdf2)(password, k.salt, k.c, k.dkLen);
}

/**
 * Decrypts a V3 keystore into a wallet. Wrong passphrase → `KeystoreError` WRONG_PASSPHRASE; malformed
 * input → CORRUPT_KEYSTORE or UNSUPPORTED_KEYSTORE. Never throws anything but KeystoreError.
 */
export async function decryptKeystore(
  input: unknown,
  passphrase: string,
  options: DecryptKeystoreOptions = {},
): Promise<Wallet> {
  const source = options.source ?? KEYSTORE_INPUT_SOURCE;
  if (typeof passphrase !== 'string') {
    throw new KeystoreError('INVALID_OPTIONS', 'the passphrase must be a string', source);
  }
  try {
    const parsed = parseKeystore(input, source);
    // geth and @ethereumjs/wallet use the passphrase's UTF-8 bytes as typed; ethers NFKC-normalises
    // it first. Try the bytes as typed, then the normalised form, so files from either side open.
    const candidates = [passphrase];
    const normalized = passphrase.normalize('NFKC');
    if (normalized !== passphrase) candidates.push(normalized);
    for (const candidate of candidates) {
      const derived = await derive(parsed, utf8ToBytes(candidate), options);
      if (derived.length < KEYSTORE_DKLEN) throw corrupt(source, 'the key derivation returned too few bytes');
      if (!equalBytes(macOf(derived, parsed.ciphertext), parsed.mac)) continue;
      const privateKey = ctr(derived.subarray(0, 16), parsed.iv).decrypt(parsed.ciphertext);
      derived.fill(0);
      let wallet: Wallet;
      try {
        wallet = new Wallet(privateKey);
      } finally {
        privateKey.fill(0);
      }
      if (parsed.address && parsed.address !== wallet.address) {
        throw corrupt(source, `its "address" field ${parsed.address} is not the address of the key it holds`);
      }
      return wallet;
    }
    throw new KeystoreError(
      'WRONG_PASSPHRASE',
      `wrong passphrase for keystore ${source}; check the passphrase and try again`,
      source,
    );
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    throw new KeystoreError(
      'CORRUPT_KEYSTORE',
      `keystore ${source} could not be decrypted: ${(err as Error)?.message ?? String(err)}; restore it from a backup`,
      source,
      { cause: err },
    );
  }
}

function randomUuidV4(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = toHex(b).slice(2);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Encrypts a wallet into a V3 scrypt keystore (default N=131072, r=8, p=1), as geth and ethers do. */
export async function encryptKeystore(
  wallet: Wallet,
  passphrase: string,
  options: EncryptKeystoreOptions = {},
): Promise<KeystoreV3> {
  const N = options.scryptN ?? KEYSTORE_DEFAULT_SCRYPT_N;
  const r = options.scryptR ?? KEYSTORE_DEFAULT_SCRYPT_R;
  const p = options.scryptP ?? KEYSTORE_DEFAULT_SCRYPT_P;
  const bad = (what: string) => new KeystoreError('INVALID_OPTIONS', what, KEYSTORE_INPUT_SOURCE);
  if (!(wallet instanceof Wallet)) throw bad('encryptKeystore needs a Wallet');
  if (typeof passphrase !== 'string') throw bad('the passphrase must be a string');
  if (!Number.isSafeInteger(N) || N < 2 || N > KEYSTORE_MAX_SCRYPT_N || (N & (N - 1)) !== 0) {
    throw bad(`scryptN must be a power of two in 2..${KEYSTORE_MAX_SCRYPT_N}`);
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > KEYSTORE_MAX_SCRYPT_R) {
    throw bad(`scryptR must be in 1..${KEYSTORE_MAX_SCRYPT_R}`);
  }
  if (!Number.isSafeInteger(p) || p < 1 || p > KEYSTORE_MAX_SCRYPT_P) {
    throw bad(`scryptP must be in 1..${KEYSTORE_MAX_SCRYPT_P}`);
  }
  if (128 * N * r > KEYSTORE_MAX_SCRYPT_MEMORY) throw bad('scryptN · scryptR needs too much memory');
  if (N * r * p > KEYSTORE_MAX_SCRYPT_WORK) throw bad('scryptN · scryptR · scryptP is too much work');
  const salt = randomBytes(KEYSTORE_SALT_BYTES);
  const iv = randomBytes(KEYSTORE_IV_BYTES);
  const derived = await (options.scrypt ?? nobleScrypt)(utf8ToBytes(passphrase), salt, {
    N,
    r,
    p,
    dkLen: KEYSTORE_DKLEN,
  });
  const privateKey = wallet.exportPrivateKey();
  const ciphertext = ctr(derived.subarray(0, 16), iv).encrypt(privateKey);
  privateKey.fill(0);
  const mac = macOf(derived, ciphertext);
  derived.fill(0);
  return {
    version: KEYSTORE_VERSION,
    id: randomUuidV4(),
    address: wallet.address.slice(2).toLowerCase(),
    crypto: {
      cipher: KEYSTORE_CIPHER,
      cipherparams: { iv: toHex(iv).slice(2) },
      ciphertext: toHex(ciphertext).slice(2),
      kdf: 'scrypt',
      kdfparams: { dklen: KEYSTORE_DKLEN, n: N, r, p, salt: toHex(salt).slice(2) },
      mac: toHex(mac).slice(2),
    },
  };
}

/** The address a keystore claims to hold, read without the passphrase (null when it states none). */
export function keystoreAddress(input: unknown, source: string = KEYSTORE_INPUT_SOURCE): Address | null {
  return parseKeystore(input, source).address;
}
