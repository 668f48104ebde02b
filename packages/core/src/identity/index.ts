export { ENCRYPTION_KEY_LABEL, KEYSTORE_DEFAULT_SCRYPT_N } from './constants.ts';
export {
  DidError,
  type DidErrorCode,
  EncryptionKeyError,
  type EncryptionKeyErrorCode,
  KeystoreError,
  type KeystoreErrorCode,
  PeerIdError,
  type PeerIdErrorCode,
  WalletError,
  type WalletErrorCode,
} from './errors.ts';
export {
  type Address,
  hashMessage,
  isAddress,
  publicKeyToAddress,
  recoverDigestAddress,
  recoverMessageAddress,
  type SignableMessage,
  toChecksumAddress,
  verifyMessage,
  Wallet,
} from './wallet.ts';
export {
  type DecryptKeystoreOptions,
  decryptKeystore,
  type EncryptKeystoreOptions,
  encryptKeystore,
  KEYSTORE_INPUT_SOURCE,
  type KeystoreKdf,
  type KeystoreV3,
  keystoreAddress,
  noblePbkdf2,
  nobleScrypt,
  type ParsedKeystore,
  type Pbkdf2Function,
  parseKeystore,
  type ScryptFunction,
  type ScryptParams,
  scryptMaxmem,
} from './keystore.ts';
export {
  type EncryptionKeyPair,
  encryptionKeyFromBytes32,
  encryptionKeyFromWallet,
  encryptionKeyToBytes32,
  encryptionPublicKey,
} from './encryption-key.ts';
export { base58btcDecode, base58btcEncode } from './base58.ts';
export {
  type DidDocument,
  type DidVerificationMethod,
  encryptionKeyFromDidDocument,
  formatDid,
  type IdentityReader,
  type ParsedDid,
  parseDid,
  resolveDid,
  x25519KeyFromMultibase,
  x25519KeyToMultibase,
} from './did.ts';
export {
  addressFromPeerId,
  type Libp2pPeerId,
  type Libp2pPrivateKey,
  libp2pPrivateKey,
  peerIdFromPublicKey,
  peerIdFromWallet,
} from './peer-id.ts';
export { SecretBox } from './secret-box.ts';
