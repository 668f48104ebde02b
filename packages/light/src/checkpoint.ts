/**
 * A checkpoint names one block of one chain by its hash and state root; a full node that runs or
 * fully trusts that chain signs it with its wallet key as EIP-712 typed data. Light nodes accept a
 * checkpoint once enough of the full nodes they trust signed it (see checkpoint-store.ts).
 */
import {
  type Address,
  getAddress,
  type Hex,
  hashTypedData,
  isAddress,
  hexToBytes,
  recoverTypedDataAddress,
  type TypedDataDomain,
  toHex,
} from 'viem';
import { CHECKPOINT_DOMAIN_NAME, CHECKPOINT_DOMAIN_VERSION } from './constants.ts';
import { LightError } from './errors.ts';

/** One block of one chain, as a full node saw it. */
export interface Checkpoint {
  chainId: number;
  number: bigint;
  blockHash: Hex;
  stateRoot: Hex;
}

/** A checkpoint with one full node's signature. */
export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  /** The signing full node's address (recovered from the signature; never trusted as sent). */
  signer: Address;
  signature: Hex;
}

/** What signs checkpoints: a wallet that signs a 32-byte digest (65-byte r‖s‖v) for an address. */
export interface CheckpointSigningKey {
  readonly address: string;
  signDigest(digest: Uint8Array): Uint8Array;
}

/** The EIP-712 types of a checkpoint. */
export const CHECKPOINT_TYPES = {
  Checkpoint: [
    { name: 'chainId', type: 'uint256' },
    { name: 'number', type: 'uint256' },
    { name: 'blockHash', type: 'bytes32' },
    { name: 'stateRoot', type: 'bytes32' },
  ],
} as const;

/** The EIP-712 domain: bound to the chain and to the deployment's Registry, so a signature counts nowhere else. */
export function checkpointDomain(chainId: number, registry: Address): TypedDataDomain {
  return {
    name: CHECKPOINT_DOMAIN_NAME,
    version: CHECKPOINT_DOMAIN_VERSION,
    chainId,
    verifyingContract: registry,
  };
}

function typedData(checkpoint: Checkpoint, registry: Address) {
  return {
    domain: checkpointDomain(checkpoint.chainId, registry),
    types: CHECKPOINT_TYPES,
    primaryType: 'Checkpoint' as const,
    message: {
      chainId: BigInt(checkpoint.chainId),
      number: checkpoint.number,
      blockHash: checkpoint.blockHash,
      stateRoot: checkpoint.stateRoot,
    },
  };
}

/** Signs `checkpoint` for the deployment whose Registry is `registry`. */
export function signCheckpoint(
  key: CheckpointSigningKey,
  checkpoint: Checkpoint,
  registry: Address,
): SignedCheckpoint {
  checkCheckpoint(checkpoint);
  const digest = hashTypedData(typedData(checkpoint, registry));
  const signature = key.signDigest(hexToBytes(digest));
  return { checkpoint, signer: getAddress(key.address), signature: toHex(signature) };
}

/** The address that signed `signature` over `checkpoint`; throws BAD_SIGNATURE when it is not a signature at all. */
export async function recoverCheckpointSigner(
  checkpoint: Checkpoint,
  signature: Hex,
  registry: Address,
): Promise<Address> {
  try {
    return await recoverTypedDataAddress({ ...typedData(checkpoint, registry), signature });
  } catch (err) {
    throw new LightError('BAD_SIGNATURE', 'checkpoint signature does not recover to any address', {
      cause: err,
    });
  }
}

/** Checks a signed checkpoint's signature names its claimed signer; returns it with the recovered signer. */
export async function verifySignedCheckpoint(
  signed: SignedCheckpoint,
  registry: Address,
): Promise<SignedCheckpoint> {
  const signer = await recoverCheckpointSigner(signed.checkpoint, signed.signature, registry);
  if (signer !== getAddress(signed.signer)) {
    throw new LightError(
      'BAD_SIGNATURE',
      `checkpoint signature is by ${signer}, not by the claimed ${signed.signer}`,
    );
  }
  return { ...signed, signer };
}

/** Two checkpoints name the same block. */
export function sameCheckpoint(a: Checkpoint, b: Checkpoint): boolean {
  return (
    a.chainId === b.chainId &&
    a.number === b.number &&
    a.blockHash.toLowerCase() === b.blockHash.toLowerCase() &&
    a.stateRoot.toLowerCase() === b.stateRoot.toLowerCase()
  );
}

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE_RE = /^0x[0-9a-fA-F]{130}$/;
const NUMBER_RE = /^(0|[1-9][0-9]{0,19})$/;

/** Throws INVALID_CHECKPOINT unless every field is well-formed. */
export function checkCheckpoint(c: Checkpoint): void {
  if (!Number.isSafeInteger(c.chainId) || c.chainId < 1) {
    throw new LightError(
      'INVALID_CHECKPOINT',
      `checkpoint chainId ${String(c.chainId)} is not a positive integer`,
    );
  }
  if (typeof c.number !== 'bigint' || c.number < 0n || c.number >= 2n ** 64n) {
    throw new LightError('INVALID_CHECKPOINT', 'checkpoint number must be a uint64');
  }
  if (!HASH_RE.test(c.blockHash))
    throw new LightError('INVALID_CHECKPOINT', 'checkpoint blockHash must be 32 bytes of hex');
  if (!HASH_RE.test(c.stateRoot))
    throw new LightError('INVALID_CHECKPOINT', 'checkpoint stateRoot must be 32 bytes of hex');
}

/** The JSON form of a signed checkpoint (bigints as decimal strings). */
export interface SignedCheckpointJson {
  chainId: number;
  number: string;
  blockHash: string;
  stateRoot: string;
  signer: string;
  signature: string;
}

/** To its JSON form (wire, database, API). */
export function signedCheckpointToJson(s: SignedCheckpoint): SignedCheckpointJson {
  return {
    chainId: s.checkpoint.chainId,
    number: s.checkpoint.number.toString(),
    blockHash: s.checkpoint.blockHash,
    stateRoot: s.checkpoint.stateRoot,
    signer: s.signer,
    signature: s.signature,
  };
}

/** Parses the JSON form strictly (exact keys, formats); throws MALFORMED. The signature is not checked here. */
export function signedCheckpointFromJson(value: unknown): SignedCheckpoint {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LightError('MALFORMED', 'a signed checkpoint must be a JSON object');
  }
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'blockHash,chainId,number,signature,signer,stateRoot') {
    throw new LightError(
      'MALFORMED',
      `a signed checkpoint has exactly chainId, number, blockHash, stateRoot, signer, signature; got ${keys}`,
    );
  }
  if (typeof v.number !== 'string') throw new LightError('MALFORMED', 'number must be a decimal string');
  if (typeof v.signer !== 'string' || !isAddress(v.signer, { strict: false }))
    throw new LightError('MALFORMED', 'signer must be an address');
  if (typeof v.signature !== 'string' || !SIGNATURE_RE.test(v.signature)) {
    throw new LightError('MALFORMED', 'signature must be 65 bytes of hex');
  }
  const checkpoint = checkpointFromJson({
    chainId: v.chainId,
    number: v.number,
    blockHash: v.blockHash,
    stateRoot: v.stateRoot,
  });
  return { checkpoint, signer: getAddress(v.signer), signature: v.signature.toLowerCase() as Hex };
}

/** A checkpoint's JSON without a signature (config files, join bundles). */
export function checkpointFromJson(value: unknown): Checkpoint {
  if (typeof value !== 'object' || value === null)
    throw new LightError('MALFORMED', 'a checkpoint must be a JSON object');
  const v = value as Record<string, unknown>;
  const n = typeof v.number === 'number' ? String(v.number) : v.number;
  if (typeof n !== 'string' || !NUMBER_RE.test(n))
    throw new LightError('MALFORMED', 'checkpoint number must be a decimal string');
  if (typeof v.chainId !== 'number' || typeof v.blockHash !== 'string' || typeof v.stateRoot !== 'string') {
    throw new LightError(
      'MALFORMED',
      'a checkpoint has chainId (number), number, blockHash and stateRoot (hex)',
    );
  }
  const c: Checkpoint = {
    chainId: v.chainId,
    number: BigInt(n),
    blockHash: v.blockHash.toLowerCase() as Hex,
    stateRoot: v.stateRoot.toLowerCase() as Hex,
  };
  try {
    checkCheckpoint(c);
  } catch (err) {
    throw new LightError('MALFORMED', (err as Error).message);
  }
  return c;
}

/** A checkpoint's JSON form. */
export function checkpointToJson(c: Checkpoint): {
  chainId: number;
  number: string;
  blockHash: Hex;
  stateRoot: Hex;
} {
  return { chainId: c.chainId, number: c.number.toString(), blockHash: c.blockHash, stateRoot: c.stateRoot };
}
