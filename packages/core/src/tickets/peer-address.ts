/**
 * Ethereum address of a libp2p PeerId that inlines a secp256k1 key (the DIBS node/client identity:
 * one wallet key is both). Cached, because decompressing the key is the costly part.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { type Address, addressFromBytes, bytesKey } from './codec.ts';
import { DEFAULT_PEER_ADDRESS_CACHE_ENTRIES } from './constants.ts';

// identity multihash (0x00, length 37) of the protobuf PublicKey { Type: Secp256k1 (2), Data: 33 bytes }.
const SECP256K1_PEER_ID_PREFIX = Uint8Array.of(0x00, 0x25, 0x08, 0x02, 0x12, 0x21);
const PEER_ID_BYTES = SECP256K1_PEER_ID_PREFIX.length + 33;

/** Maps a binary PeerId to the address of its key, or undefined when it carries no secp256k1 key. */
export type PeerIdToAddress = (peerId: Uint8Array) => Address | undefined;

/** Address of a binary secp256k1 PeerId, or undefined for any other PeerId. */
export function secp256k1PeerIdToAddress(peerId: Uint8Array): Address | undefined {
  if (peerId.length !== PEER_ID_BYTES) return undefined;
  for (let i = 0; i < SECP256K1_PEER_ID_PREFIX.length; i++) {
    if (peerId[i] !== SECP256K1_PEER_ID_PREFIX[i]) return undefined;
  }
  try {
    const point = secp256k1.Point.fromBytes(peerId.subarray(SECP256K1_PEER_ID_PREFIX.length));
    const uncompressed = point.toBytes(false);
    return addressFromBytes(keccak_256(uncompressed.subarray(1)).subarray(12));
  } catch {
    return undefined;
  }
}

/** Wraps a mapper with a bounded cache (oldest entry dropped first). */
export function cachedPeerIdToAddress(
  map: PeerIdToAddress = secp256k1PeerIdToAddress,
  maxEntries = DEFAULT_PEER_ADDRESS_CACHE_ENTRIES,
): PeerIdToAddress {
  const cache = new Map<string, Address | undefined>();
  return (peerId) => {
    const key = bytesKey(peerId);
    if (cache.has(key)) return cache.get(key);
    const address = map(peerId);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(key, address);
    return address;
  };
}
