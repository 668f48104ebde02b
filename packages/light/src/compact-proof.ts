/**
 * EIP-1186 proofs in compact form for the checkpoint protocol: one account and its storage proofs,
 * each distinct trie node sent once and referred to by index (storage proofs of neighbouring slots
 * share most of their path). RLP-encoded; expanding gives back the eth_getProof shape, which is then
 * verified exactly like an RPC's answer — the sender is not trusted.
 */
import { RLP } from '@ethereumjs/rlp';
import { bytesToBigInt, bytesToHex, type Hex, hexToBytes, numberToHex } from 'viem';
import { LightError } from './errors.ts';
import type { RpcProof } from './proof.ts';

/** Most trie nodes and storage entries a compact proof may carry (the node set of MAX_TRUSTED_SIGNERS needs ~130 slots). */
export const MAX_COMPACT_NODES = 4_096;
export const MAX_COMPACT_SLOTS = 256;

/** RLP integers decode as minimal big-endian bytes (0 as empty). */
const bytesInt = (b: Uint8Array) => (b.length === 0 ? 0n : bytesToBigInt(b));

/** Packs an eth_getProof answer. */
export function compactProof(proof: RpcProof): Uint8Array {
  const nodes: Uint8Array[] = [];
  const seen = new Map<string, number>();
  const ref = (node: string) => {
    const k = node.toLowerCase();
    let i = seen.get(k);
    if (i === undefined) {
      i = nodes.length;
      seen.set(k, i);
      nodes.push(hexToBytes(k as Hex));
    }
    return i;
  };
  return RLP.encode([
    hexToBytes(proof.address as Hex),
    proof.accountProof.map(ref),
    hexToBytes(proof.storageHash as Hex),
    proof.storageProof.map((s) => [
      hexToBytes(s.key as Hex, { size: 32 }),
      BigInt(s.value),
      s.proof.map(ref),
    ]),
    nodes,
  ]);
}

/** Unpacks a compact proof into the eth_getProof shape; throws MALFORMED on anything out of shape or bounds. */
export function expandProof(bytes: Uint8Array): RpcProof {
  let decoded: unknown;
  try {
    decoded = RLP.decode(bytes);
  } catch (err) {
    throw new LightError('MALFORMED', 'the compact proof is not RLP', { cause: err });
  }
  const bad = (why: string): never => {
    throw new LightError('MALFORMED', `compact proof: ${why}`);
  };
  const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
  const isList = (x: unknown): x is unknown[] => Array.isArray(x);
  if (!isList(decoded) || decoded.length !== 5) return bad('not a list of five');
  const [address, accountRefs, storageHash, storage, nodes] = decoded;
  if (!isBytes(address) || address.length !== 20) return bad('address is not 20 bytes');
  if (!isBytes(storageHash) || storageHash.length !== 32) return bad('storageHash is not 32 bytes');
  if (!isList(nodes) || nodes.length > MAX_COMPACT_NODES || !nodes.every(isBytes))
    return bad('bad node table');
  if (!isList(accountRefs) || !isList(storage) || storage.length > MAX_COMPACT_SLOTS)
    return bad('bad proof lists');
  const hexNodes = nodes.map((n) => bytesToHex(n));
  const deref = (refs: unknown): string[] => {
    if (!isList(refs) || refs.length > 64) return bad('a path is not a short list');
    return refs.map((r) => {
      if (!isBytes(r) || r.length > 4) return bad('a node reference is not an index');
      const node = hexNodes[Number(bytesInt(r))];
      return node ?? bad('a node reference is out of range');
    });
  };
  return {
    address: bytesToHex(address),
    accountProof: deref(accountRefs),
    storageHash: bytesToHex(storageHash),
    storageProof: storage.map((s) => {
      if (
        !isList(s) ||
        s.length !== 3 ||
        !isBytes(s[0]) ||
        s[0].length !== 32 ||
        !isBytes(s[1]) ||
        s[1].length > 32
      ) {
        return bad('a storage entry is not [key, value, path]');
      }
      return { key: bytesToHex(s[0]), value: numberToHex(bytesInt(s[1])), proof: deref(s[2]) };
    }),
  };
}
