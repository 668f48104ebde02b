/**
 * Verification of chain answers against a checkpoint: the block header's hash recomputed from its
 * fields (@ethereumjs/block), then the account proof against the header's state root and each storage
 * proof against the account's storage root (EIP-1186 proofs, @ethereumjs/mpt). An answer that does
 * not verify throws HEADER_MISMATCH or PROOF_INVALID.
 */
import { createBlockHeaderFromRPC, type JSONRPCBlock } from '@ethereumjs/block';
import { createCustomCommon, Hardfork, Mainnet } from '@ethereumjs/common';
import { verifyMerkleProof } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import { type Address, bytesToBigInt, bytesToHex, type Hex, hexToBytes, isHex } from 'viem';
import type { Checkpoint } from './checkpoint.ts';
import { LightError } from './errors.ts';

/** The root of an empty trie (an account without storage). */
export const EMPTY_TRIE_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';

/** An eth_getProof answer (EIP-1186), as the RPC sent it. */
export interface RpcProof {
  address: string;
  accountProof: string[];
  storageHash: string;
  storageProof: Array<{ key: string; value: string; proof: string[] }>;
}

const commons = new Map<string, ReturnType<typeof createCustomCommon>>();

/** The hardfork a header's fields say it was built under (fields appear with forks). */
function hardforkOf(raw: Record<string, unknown>): Hardfork {
  if (raw.requestsHash !== undefined) return Hardfork.Prague;
  if (raw.parentBeaconBlockRoot !== undefined) return Hardfork.Cancun;
  if (raw.withdrawalsRoot !== undefined) return Hardfork.Shanghai;
  if (raw.baseFeePerGas !== undefined) return Hardfork.London;
  return Hardfork.Berlin;
}

function commonFor(chainId: number, hardfork: Hardfork) {
  const key = `${chainId}/${hardfork}`;
  let common = commons.get(key);
  if (!common) {
    common = createCustomCommon({ chainId }, Mainnet, { hardfork });
    commons.set(key, common);
  }
  return common;
}

/**
 * Checks an RPC's block header against `checkpoint`: the hash recomputed from the header's own fields
 * must be the checkpoint's block hash, and its number and state root the checkpoint's.
 */
export function verifyHeader(raw: unknown, checkpoint: Checkpoint): void {
  if (typeof raw !== 'object' || raw === null) {
    throw new LightError('HEADER_MISMATCH', `the RPC has no block ${checkpoint.number}`);
  }
  const r = raw as Record<string, unknown>;
  let hash: Hex;
  let stateRoot: Hex;
  let number: bigint;
  try {
    const header = createBlockHeaderFromRPC(r as unknown as JSONRPCBlock, {
      common: commonFor(checkpoint.chainId, hardforkOf(r)),
      setHardfork: false,
    });
    hash = bytesToHex(header.hash());
    stateRoot = bytesToHex(header.stateRoot);
    number = header.number;
  } catch (err) {
    throw new LightError('HEADER_MISMATCH', `the block header does not parse: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof r.hash === 'string' && r.hash.toLowerCase() !== hash) {
    throw new LightError(
      'HEADER_MISMATCH',
      `the header's fields hash to ${hash}, not to the ${r.hash} it claims`,
    );
  }
  if (hash !== checkpoint.blockHash.toLowerCase() || number !== checkpoint.number) {
    throw new LightError(
      'HEADER_MISMATCH',
      `block ${number} hashes to ${hash}; the accepted checkpoint is block ${checkpoint.number} ${checkpoint.blockHash}`,
    );
  }
  if (stateRoot !== checkpoint.stateRoot.toLowerCase()) {
    throw new LightError(
      'HEADER_MISMATCH',
      `header state root ${stateRoot} is not the checkpoint's ${checkpoint.stateRoot}`,
    );
  }
}

async function proven(
  key: Uint8Array,
  proof: string[],
  root: Uint8Array,
  what: string,
): Promise<Uint8Array | null> {
  if (!Array.isArray(proof) || proof.some((p) => typeof p !== 'string' || !isHex(p))) {
    throw new LightError('PROOF_INVALID', `${what}: the proof is not a list of hex trie nodes`);
  }
  try {
    return await verifyMerkleProof(
      key,
      proof.map((p) => hexToBytes(p as Hex)),
      { root, useKeyHashing: true },
    );
  } catch (err) {
    throw new LightError('PROOF_INVALID', `${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Storage roots already proven, keyed by state root and account: a light node proves a contract's
 * account once per checkpoint, then checks each later answer's storageHash against the proven root
 * and verifies only its storage proofs. Bounded (cleared when full).
 */
export class ProvenStorageRoots {
  readonly #roots = new Map<string, Hex>();
  readonly #max: number;
  constructor(max = 64) {
    this.#max = max;
  }
  get(stateRoot: Hex, address: Address): Hex | undefined {
    return this.#roots.get(`${stateRoot.toLowerCase()} ${address.toLowerCase()}`);
  }
  set(stateRoot: Hex, address: Address, storageRoot: Hex): void {
    if (this.#roots.size >= this.#max) this.#roots.clear();
    this.#roots.set(`${stateRoot.toLowerCase()} ${address.toLowerCase()}`, storageRoot);
  }
}

/**
 * Verifies an eth_getProof answer for `address` and `keys` against `stateRoot`; returns the proven value
 * of every key (0n for an absent slot). The answer's own value fields must agree with the proofs.
 * With `roots`, an account proven before at this state root is not proven again.
 */
export async function verifyProof(
  stateRoot: Hex,
  address: Address,
  keys: readonly Hex[],
  answer: unknown,
  roots?: ProvenStorageRoots,
): Promise<Map<Hex, bigint>> {
  if (typeof answer !== 'object' || answer === null)
    throw new LightError('PROOF_INVALID', 'eth_getProof returned no proof');
  const p = answer as RpcProof;
  if (typeof p.address !== 'string' || p.address.toLowerCase() !== address.toLowerCase()) {
    throw new LightError('PROOF_INVALID', `the proof is for account ${String(p.address)}, not ${address}`);
  }
  let storageRoot = roots?.get(stateRoot, address) ?? EMPTY_TRIE_ROOT;
  const known = roots?.get(stateRoot, address) !== undefined;
  const account = known
    ? null
    : await proven(hexToBytes(address), p.accountProof, hexToBytes(stateRoot), `account ${address}`);
  if (account !== null) {
    const fields = RLP.decode(account) as Uint8Array[];
    if (!Array.isArray(fields) || fields.length !== 4)
      throw new LightError('PROOF_INVALID', `account ${address} is not an RLP account`);
    storageRoot = bytesToHex(fields[2]!);
  }
  if (typeof p.storageHash !== 'string' || p.storageHash.toLowerCase() !== storageRoot) {
    throw new LightError(
      'PROOF_INVALID',
      `account ${address}: storageHash ${String(p.storageHash)} is not the proven ${storageRoot}`,
    );
  }
  if (!known) roots?.set(stateRoot, address, storageRoot);
  if (!Array.isArray(p.storageProof) || p.storageProof.length !== keys.length) {
    throw new LightError(
      'PROOF_INVALID',
      `asked for ${keys.length} storage proofs, got ${String(p.storageProof?.length)}`,
    );
  }
  const values = new Map<Hex, bigint>();
  const root = hexToBytes(storageRoot);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const entry = p.storageProof[i]!;
    if (typeof entry?.key !== 'string' || !isHex(entry.key) || BigInt(entry.key) !== BigInt(key)) {
      throw new LightError(
        'PROOF_INVALID',
        `storage proof ${i} is for slot ${String(entry?.key)}, not ${key}`,
      );
    }
    const leaf = await proven(hexToBytes(key, { size: 32 }), entry.proof, root, `slot ${key} of ${address}`);
    const value = leaf === null || leaf.length === 0 ? 0n : storageValue(leaf, key);
    if (typeof entry.value !== 'string' || !isHex(entry.value) || BigInt(entry.value) !== value) {
      throw new LightError(
        'PROOF_INVALID',
        `slot ${key} of ${address}: the RPC says ${String(entry.value)}, the proof says ${value}`,
      );
    }
    values.set(key, value);
  }
  return values;
}

/** A storage leaf is the RLP of the value's minimal big-endian bytes (at most 32). */
function storageValue(leaf: Uint8Array, key: Hex): bigint {
  let bytes: unknown;
  try {
    bytes = RLP.decode(leaf);
  } catch (err) {
    throw new LightError('PROOF_INVALID', `slot ${key}: the leaf is not RLP`, { cause: err });
  }
  if (!(bytes instanceof Uint8Array) || bytes.length > 32) {
    throw new LightError('PROOF_INVALID', `slot ${key}: the leaf is not a 32-byte value`);
  }
  return bytes.length === 0 ? 0n : bytesToBigInt(bytes);
}
