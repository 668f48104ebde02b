/**
 * Signed checkpoints in the DHT: each full node keeps its newest signed checkpoint under
 * `/dibs-checkpoint/<its address>`. The record is the signed checkpoint's JSON; its EIP-712 signature
 * is its authentication, so a DHT node validates it (signer = the key's address) and, among copies,
 * keeps the highest.
 */
import { type Address, getAddress } from 'viem';
import {
  type SignedCheckpoint,
  signedCheckpointFromJson,
  signedCheckpointToJson,
  verifySignedCheckpoint,
} from './checkpoint.ts';
import { MAX_CHECKPOINT_MESSAGE_BYTES } from './constants.ts';
import { LightError } from './errors.ts';

/** DHT key namespace of checkpoint records. */
export const CHECKPOINT_RECORD_NAMESPACE = 'dibs-checkpoint';

/** The DHT key of `signer`'s newest checkpoint. */
export function checkpointRecordKey(signer: string): Uint8Array {
  return new TextEncoder().encode(`/${CHECKPOINT_RECORD_NAMESPACE}/${getAddress(signer).toLowerCase()}`);
}

/** A signed checkpoint as a DHT record value. */
export function encodeCheckpointRecord(signed: SignedCheckpoint): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(signedCheckpointToJson(signed)));
}

/** Decodes and verifies a record under `key` for the deployment whose Registry is `registry`; throws LightError. */
export async function decodeCheckpointRecord(
  key: Uint8Array,
  value: Uint8Array,
  registry: Address,
): Promise<SignedCheckpoint> {
  if (value.length > MAX_CHECKPOINT_MESSAGE_BYTES)
    throw new LightError('TOO_LARGE', `checkpoint record of ${value.length} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value));
  } catch {
    throw new LightError('MALFORMED', 'checkpoint record is not UTF-8 JSON');
  }
  const signed = await verifySignedCheckpoint(signedCheckpointFromJson(json), registry);
  if (new TextDecoder().decode(key) !== new TextDecoder().decode(checkpointRecordKey(signed.signer))) {
    throw new LightError(
      'UNTRUSTED_SIGNER',
      `checkpoint record signed by ${signed.signer} sits under another node's key`,
    );
  }
  return signed;
}

/** The DHT validator and selector of checkpoint records for one deployment. */
export function checkpointRecordRules(registry: Address) {
  return {
    validate: async (key: Uint8Array, value: Uint8Array): Promise<void> => {
      await decodeCheckpointRecord(key, value, registry);
    },
    select: async (key: Uint8Array, values: Uint8Array[]): Promise<number> => {
      let best = 0;
      let bestNumber = -1n;
      for (let i = 0; i < values.length; i++) {
        try {
          const s = await decodeCheckpointRecord(key, values[i]!, registry);
          if (s.checkpoint.number > bestNumber) {
            best = i;
            bestNumber = s.checkpoint.number;
          }
        } catch {
          // an invalid copy never wins
        }
      }
      return best;
    },
  };
}
