/**
 * did:pkh DIDs for EVM accounts (`did:pkh:eip155:<chainId>:<address>`) and their resolution to W3C DID
 * documents, with the X25519 encryption key from the Registry as keyAgreement when one is registered.
 */
import { base58btcDecode, base58btcEncode } from './base58.ts';
import {
  CAIP2_REFERENCE_MAX_LENGTH,
  DID_ACCOUNT_FRAGMENT,
  DID_CONTEXT_PKH_TERMS,
  DID_CONTEXT_V1,
  DID_CONTEXT_X25519_2020,
  DID_ENCRYPTION_KEY_FRAGMENT,
  DID_MAX_CHAIN_ID,
  DID_MAX_LENGTH,
  KEY_BYTES,
  MULTICODEC_X25519_PUB,
} from './constants.ts';
import { DidError, WalletError } from './errors.ts';
import { type Address, toChecksumAddress } from './wallet.ts';

/** A parsed did:pkh for an EVM account. */
export interface ParsedDid {
  /** The DID in canonical form (EIP-55 checksummed address). */
  did: string;
  chainId: number;
  address: Address;
}

/** What the resolver needs from the chain: the Registry's identity record of an address. */
export interface IdentityReader {
  /** The chain the Registry lives on; when set, DIDs for other chains are refused (CHAIN_MISMATCH). */
  readonly chainId?: number;
  /** The identity of `address` (checksummed), or null when it never registered. */
  getIdentity(address: string): Promise<{ encryptionKey: Uint8Array; registeredAt: number } | null>;
}

/** A verification method of a did:pkh document. */
export interface DidVerificationMethod {
  id: string;
  type: 'EcdsaSecp256k1RecoveryMethod2020' | 'X25519KeyAgreementKey2020';
  controller: string;
  blockchainAccountId?: string;
  publicKeyMultibase?: string;
}

/** A W3C DID Core document as JSON. */
export interface DidDocument {
  '@context': (string | Record<string, string>)[];
  id: string;
  verificationMethod: DidVerificationMethod[];
  authentication: string[];
  assertionMethod: string[];
  keyAgreement?: DidVerificationMethod[];
}

const CHAIN_ID_RE = /^[1-9][0-9]*$/;

function checkChainId(chainId: number | bigint): number {
  const n = typeof chainId === 'bigint' ? Number(chainId) : chainId;
  if (!Number.isSafeInteger(n) || n < 1 || n > DID_MAX_CHAIN_ID || BigInt(n) !== BigInt(chainId)) {
    throw new DidError('INVALID_CHAIN_ID', `chain id ${String(chainId)} is not a positive safe integer`);
  }
  return n;
}

/** `did:pkh:eip155:<chainId>:<checksummed address>` for an address on a chain. */
export function formatDid(address: string, chainId: number | bigint): string {
  const id = checkChainId(chainId);
  let checksummed: Address;
  try {
    checksummed = toChecksumAddress(address);
  } catch (err) {
    throw new DidError('INVALID_DID_ADDRESS', (err as Error).message, { cause: err });
  }
  return `did:pkh:eip155:${id}:${checksummed}`;
}

/**
 * Parses a did:pkh for an EVM account. The address may be lowercase (CAIP-10 allows it) or
 * checksummed; mixed case with a wrong checksum is refused. DID URLs (path, query, fragment) are not DIDs.
 */
export function parseDid(did: string): ParsedDid {
  if (typeof did !== 'string' || did.length === 0 || did.length > DID_MAX_LENGTH) {
    throw new DidError('INVALID_DID', `a DID must be a string of 1..${DID_MAX_LENGTH} characters`);
  }
  const parts = did.split(':');
  if (parts[0] !== 'did' || parts.length < 3) {
    throw new DidError('INVALID_DID', `"${did}" is not a DID (expected did:<method>:<id>)`);
  }
  if (parts[1] !== 'pkh') {
    throw new DidError('UNSUPPORTED_DID_METHOD', `DID method "${parts[1]}" is not supported; use did:pkh`);
  }
  if (parts[2] !== 'eip155') {
    throw new DidError(
      'UNSUPPORTED_DID_METHOD',
      `did:pkh namespace "${parts[2]}" is not supported; use did:pkh:eip155:<chainId>:<address>`,
    );
  }
  if (parts.length !== 5) {
    throw new DidError('INVALID_DID', `"${did}" must have the form did:pkh:eip155:<chainId>:<address>`);
  }
  const [, , , reference, account] = parts as [string, string, string, string, string];
  if (reference.length > CAIP2_REFERENCE_MAX_LENGTH || !CHAIN_ID_RE.test(reference)) {
    throw new DidError(
      'INVALID_CHAIN_ID',
      `chain id "${reference}" must be a decimal integer without leading zeros`,
    );
  }
  const chainId = checkChainId(Number(reference));
  let address: Address;
  try {
    address = toChecksumAddress(account);
  } catch (err) {
    if (!(err instanceof WalletError)) throw err;
    throw new DidError('INVALID_DID_ADDRESS', `DID "${did}": ${err.message}`, { cause: err });
  }
  return { did: `did:pkh:eip155:${chainId}:${address}`, chainId, address };
}

/** The publicKeyMultibase of an X25519 key: 'z' + base58btc(0xec 0x01 || key). */
export function x25519KeyToMultibase(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) {
    throw new DidError('INVALID_REGISTRY_DATA', 'an X25519 key must be 32 bytes');
  }
  const bytes = new Uint8Array(MULTICODEC_X25519_PUB.length + KEY_BYTES);
  bytes.set(MULTICODEC_X25519_PUB, 0);
  bytes.set(publicKey, MULTICODEC_X25519_PUB.length);
  return `z${base58btcEncode(bytes)}`;
}

/** The raw X25519 key of a publicKeyMultibase, or null if it is not a base58btc x25519-pub value. */
export function x25519KeyFromMultibase(multibase: string): Uint8Array | null {
  if (typeof multibase !== 'string' || !multibase.startsWith('z')) return null;
  const bytes = base58btcDecode(multibase.slice(1));
  if (!bytes || bytes.length !== MULTICODEC_X25519_PUB.length + KEY_BYTES) return null;
  if (bytes[0] !== MULTICODEC_X25519_PUB[0] || bytes[1] !== MULTICODEC_X25519_PUB[1]) return null;
  return bytes.slice(MULTICODEC_X25519_PUB.length);
}

/** The X25519 key in a document's keyAgreement, or null when the identity has none registered. */
export function encryptionKeyFromDidDocument(document: DidDocument): Uint8Array | null {
  const method = document.keyAgreement?.find((m) => m.type === 'X25519KeyAgreementKey2020');
  if (!method?.publicKeyMultibase) return null;
  return x25519KeyFromMultibase(method.publicKeyMultibase);
}

/**
 * Resolves a did:pkh to its DID document. The account's recovery method (authentication and
 * assertion) follows from the DID alone; the keyAgreement entry comes from the Registry through
 * `reader` and is present only when the account registered an encryption key.
 */
export async function resolveDid(did: string, reader: IdentityReader): Promise<DidDocument> {
  const parsed = parseDid(did);
  if (reader.chainId !== undefined && reader.chainId !== parsed.chainId) {
    throw new DidError(
      'CHAIN_MISMATCH',
      `DID ${parsed.did} is for chain ${parsed.chainId} but the registry reader is for chain ${reader.chainId}; resolve it with a reader for that chain`,
    );
  }
  let identity: Awaited<ReturnType<IdentityReader['getIdentity']>>;
  try {
    identity = await reader.getIdentity(parsed.address);
  } catch (err) {
    throw new DidError(
      'REGISTRY_UNAVAILABLE',
      `the registry lookup for ${parsed.address} failed: ${(err as Error)?.message ?? String(err)}; check the chain connection`,
      { cause: err },
    );
  }
  const accountId = `${parsed.did}#${DID_ACCOUNT_FRAGMENT}`;
  const document: DidDocument = {
    '@context': [DID_CONTEXT_V1, { ...DID_CONTEXT_PKH_TERMS }],
    id: parsed.did,
    verificationMethod: [
      {
        id: accountId,
        type: 'EcdsaSecp256k1RecoveryMethod2020',
        controller: parsed.did,
        blockchainAccountId: `eip155:${parsed.chainId}:${parsed.address}`,
      },
    ],
    authentication: [accountId],
    assertionMethod: [accountId],
  };
  if (identity === null || identity === undefined) return document;
  const key = identity.encryptionKey;
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new DidError(
      'INVALID_REGISTRY_DATA',
      `the registry returned an encryption key for ${parsed.address} that is not 32 bytes`,
    );
  }
  if (key.every((b) => b === 0)) return document;
  document['@context'].push(DID_CONTEXT_X25519_2020);
  document.keyAgreement = [
    {
      id: `${parsed.did}#${DID_ENCRYPTION_KEY_FRAGMENT}`,
      type: 'X25519KeyAgreementKey2020',
      controller: parsed.did,
      publicKeyMultibase: x25519KeyToMultibase(key),
    },
  ];
  return document;
}
