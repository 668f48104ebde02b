/** Typed errors of the identity module: each has a stable `code` and a message saying what to do. */

/** Codes of {@link WalletError}. */
export type WalletErrorCode =
  | 'INVALID_PRIVATE_KEY'
  | 'INVALID_PUBLIC_KEY'
  | 'INVALID_SIGNATURE'
  | 'INVALID_ADDRESS';

/** A key, address or signature that cannot be used. */
export class WalletError extends Error {
  override name = 'WalletError';
  readonly code: WalletErrorCode;
  constructor(code: WalletErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Codes of {@link KeystoreError}. */
export type KeystoreErrorCode =
  | 'WRONG_PASSPHRASE'
  | 'CORRUPT_KEYSTORE'
  | 'UNSUPPORTED_KEYSTORE'
  | 'KEYSTORE_NOT_FOUND'
  | 'KEYSTORE_UNREADABLE'
  | 'KEYSTORE_EXISTS'
  | 'KEYSTORE_WRITE_FAILED'
  | 'INVALID_OPTIONS';

/** A keystore that cannot be read, decrypted or written; `source` names the file (or "<input>"). */
export class KeystoreError extends Error {
  override name = 'KeystoreError';
  readonly code: KeystoreErrorCode;
  readonly source: string;
  constructor(code: KeystoreErrorCode, message: string, source: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.source = source;
  }
}

/** Codes of {@link EncryptionKeyError}. */
export type EncryptionKeyErrorCode = 'INVALID_ENCRYPTION_KEY';

/** An X25519 encryption key of the wrong size or value. */
export class EncryptionKeyError extends Error {
  override name = 'EncryptionKeyError';
  readonly code: EncryptionKeyErrorCode;
  constructor(code: EncryptionKeyErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Codes of {@link DidError}. */
export type DidErrorCode =
  | 'INVALID_DID'
  | 'UNSUPPORTED_DID_METHOD'
  | 'INVALID_CHAIN_ID'
  | 'INVALID_DID_ADDRESS'
  | 'CHAIN_MISMATCH'
  | 'REGISTRY_UNAVAILABLE'
  | 'INVALID_REGISTRY_DATA';

/** A DID that does not parse, or cannot be resolved against the given registry. */
export class DidError extends Error {
  override name = 'DidError';
  readonly code: DidErrorCode;
  constructor(code: DidErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Codes of {@link PeerIdError}. */
export type PeerIdErrorCode = 'INVALID_PEER_ID' | 'NOT_SECP256K1_PEER_ID';

/** A PeerId that does not parse or does not carry a secp256k1 key (so has no Ethereum address). */
export class PeerIdError extends Error {
  override name = 'PeerIdError';
  readonly code: PeerIdErrorCode;
  constructor(code: PeerIdErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
