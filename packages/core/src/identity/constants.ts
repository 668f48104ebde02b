/** Limits, labels and defaults for wallet identities, keystores, DIDs and PeerIds. */

/** Byte length of a secp256k1 private key, an X25519 key and a keccak/sha256 digest. */
export const KEY_BYTES = 32;
/** Byte length of an EVM address. */
export const ADDRESS_BYTES = 20;
/** Byte length of an EIP-191 signature: r (32) || s (32) || v (1). */
export const SIGNATURE_BYTES = 65;
/** Prefix that EIP-191 (version 0x45, "personal_sign") puts before a signed message. */
export const EIP191_PREFIX = '\x19Ethereum Signed Message:\n';

/** HKDF-SHA256 `info` label that separates the ticket encryption key from every other use of the wallet key. */
export const ENCRYPTION_KEY_LABEL = 'dibs/encryption-key/v1';

/** Keystore V3 defaults: scrypt parameters as geth and ethers write them. */
export const KEYSTORE_VERSION = 3;
export const KEYSTORE_DEFAULT_SCRYPT_N = 131072;
export const KEYSTORE_DEFAULT_SCRYPT_R = 8;
export const KEYSTORE_DEFAULT_SCRYPT_P = 1;
export const KEYSTORE_DKLEN = 32;
export const KEYSTORE_SALT_BYTES = 32;
export const KEYSTORE_IV_BYTES = 16;
export const KEYSTORE_CIPHER = 'aes-128-ctr';

/**
 * Decoder bounds for keystores read from outside: a file larger than this, or KDF parameters past
 * these limits, is refused before any memory or CPU is spent on it.
 */
export const KEYSTORE_MAX_BYTES = 64 * 1024;
/** Largest scrypt N accepted (geth "standard" writes 2^18). */
export const KEYSTORE_MAX_SCRYPT_N = 2 ** 20;
export const KEYSTORE_MAX_SCRYPT_R = 16;
export const KEYSTORE_MAX_SCRYPT_P = 16;
/** Largest scrypt working memory (128 · N · r bytes) accepted: 1 GiB. */
export const KEYSTORE_MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;
/** Largest scrypt work factor N · r · p accepted (the default is 2^20, geth "standard" 2^21). */
export const KEYSTORE_MAX_SCRYPT_WORK = 2 ** 24;
/** Largest PBKDF2 iteration count accepted (geth writes 262144). */
export const KEYSTORE_MAX_PBKDF2_C = 10_000_000;
export const KEYSTORE_MAX_SALT_BYTES = 1024;
/** Keystore ciphertext: a 32-byte private key. */
export const KEYSTORE_CIPHERTEXT_BYTES = 32;
/** Permission bits of a keystore file: readable and writable by its owner only. */
export const KEYSTORE_FILE_MODE = 0o600;
/** Permission bits of a directory created to hold keystore files. */
export const KEYSTORE_DIR_MODE = 0o700;

/** Longest DID string accepted by the parser (did:pkh:eip155:<32-char reference>:0x + 40 hex fits well inside). */
export const DID_MAX_LENGTH = 128;
/** Longest CAIP-2 reference (chain id) allowed by CAIP-2. */
export const CAIP2_REFERENCE_MAX_LENGTH = 32;
/** Largest EVM chain id accepted in a DID (fits a JS safe integer). */
export const DID_MAX_CHAIN_ID = Number.MAX_SAFE_INTEGER;
/** Verification method fragment used by did:pkh for the account key. */
export const DID_ACCOUNT_FRAGMENT = 'blockchainAccountId';
/** Key agreement fragment for the X25519 key registered on chain. */
export const DID_ENCRYPTION_KEY_FRAGMENT = 'encryptionKey';
/** JSON-LD contexts of the documents `resolveDid` produces. */
export const DID_CONTEXT_V1 = 'https://www.w3.org/ns/did/v1';
export const DID_CONTEXT_X25519_2020 = 'https://w3id.org/security/suites/x25519-2020/v1';
export const DID_CONTEXT_PKH_TERMS = {
  blockchainAccountId: 'https://w3id.org/security#blockchainAccountId',
  EcdsaSecp256k1RecoveryMethod2020:
    'https://identity.foundation/EcdsaSecp256k1RecoverySignature2020#EcdsaSecp256k1RecoveryMethod2020',
} as const;
/** Multicodec prefix (varint of 0xec, x25519-pub) put before a raw X25519 key in publicKeyMultibase. */
export const MULTICODEC_X25519_PUB = Uint8Array.of(0xec, 0x01);

/** Longest PeerId string accepted (an inlined secp256k1 key is 53 characters in base58btc). */
export const PEER_ID_MAX_LENGTH = 256;
/** Longest base58btc string the decoder accepts. */
export const BASE58_MAX_LENGTH = 1024;
