/**
 * One key, three names: the wallet's secp256k1 key is also the node's libp2p identity, so a PeerId
 * (which inlines a secp256k1 public key) maps to exactly one Ethereum address and back.
 */
import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  peerIdFromPrivateKey,
  peerIdFromString,
  peerIdFromPublicKey as peerIdOfPublicKey,
} from '@libp2p/peer-id';
import { PEER_ID_MAX_LENGTH } from './constants.ts';
import { PeerIdError, WalletError } from './errors.ts';
import { type Address, publicKeyToAddress, type Wallet } from './wallet.ts';

/** The libp2p private key type `libp2pPrivateKey` returns. */
export type Libp2pPrivateKey = ReturnType<typeof privateKeyFromRaw>;
/** The PeerId type of @libp2p/peer-id. */
export type Libp2pPeerId = ReturnType<typeof peerIdFromString>;

/** The wallet key as a libp2p secp256k1 private key (for `createLibp2p({ privateKey })`). */
export function libp2pPrivateKey(wallet: Wallet): Libp2pPrivateKey {
  // The libp2p key keeps a reference to this copy, so it must not be wiped here.
  return privateKeyFromRaw(wallet.exportPrivateKey());
}

/** The libp2p PeerId of a wallet's key. */
export function peerIdFromWallet(wallet: Wallet): Libp2pPeerId {
  return peerIdFromPrivateKey(libp2pPrivateKey(wallet)) as Libp2pPeerId;
}

/** The PeerId of a secp256k1 public key (33-byte compressed; 65-byte uncompressed is compressed first). */
export function peerIdFromPublicKey(publicKey: Uint8Array): Libp2pPeerId {
  let key: ReturnType<typeof publicKeyFromRaw>;
  try {
    if (!(publicKey instanceof Uint8Array) || (publicKey.length !== 33 && publicKey.length !== 65)) {
      throw new Error('length must be 33 or 65 bytes');
    }
    // libp2p's raw secp256k1 form is the 33-byte compressed key.
    key = publicKeyFromRaw(secp256k1.Point.fromBytes(publicKey).toBytes(true));
  } catch (err) {
    throw new WalletError(
      'INVALID_PUBLIC_KEY',
      `not a valid secp256k1 public key: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return peerIdOfPublicKey(key) as Libp2pPeerId;
}

/**
 * The Ethereum address of a PeerId (object or string). secp256k1 PeerIds inline their public key, so
 * no lookup is needed; any other key type has no address and is refused with NOT_SECP256K1_PEER_ID.
 */
export function addressFromPeerId(peerId: string | { toString(): string }): Address {
  const text = typeof peerId === 'string' ? peerId : String(peerId);
  if (text.length === 0 || text.length > PEER_ID_MAX_LENGTH) {
    throw new PeerIdError('INVALID_PEER_ID', `a PeerId must be 1..${PEER_ID_MAX_LENGTH} characters`);
  }
  let parsed: Libp2pPeerId;
  try {
    parsed = peerIdFromString(text);
  } catch (err) {
    throw new PeerIdError('INVALID_PEER_ID', `"${text}" is not a valid PeerId: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (parsed.type !== 'secp256k1' || !parsed.publicKey) {
    throw new PeerIdError(
      'NOT_SECP256K1_PEER_ID',
      `PeerId ${text} has a ${parsed.type} key, not secp256k1, so it has no Ethereum address; DIBS nodes use their wallet key`,
    );
  }
  try {
    return publicKeyToAddress(parsed.publicKey.raw);
  } catch (err) {
    throw new PeerIdError('INVALID_PEER_ID', `PeerId ${text} carries an invalid secp256k1 key`, {
      cause: err,
    });
  }
}
