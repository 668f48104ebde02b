/**
 * The full-node set as the Registry holds it: its approved bootstrap nodes (an OpenZeppelin
 * EnumerableSet: a length and an array of addresses) that are registered with the bootstrap role.
 * Read slot by slot through any slot reader — proven RPC answers for a light node, its own chain for
 * a full node building the proof it serves.
 */
import { type Address, getAddress, type Hex, numberToHex, toHex } from 'viem';
import { compactProof } from './compact-proof.ts';
import { MAX_TRUSTED_SIGNERS, ROLE_BOOTSTRAP } from './constants.ts';
import { LightError } from './errors.ts';
import type { RpcProof } from './proof.ts';
import { type RpcCallOptions, rpcCall } from './rpc.ts';
import { bootstrapSet, field, nodeSlots } from './slots.ts';

/** Reads storage words of the Registry by slot key. */
export type SlotReader = (keys: Hex[]) => Promise<Map<Hex, bigint>>;

function address(word: bigint): Address {
  return getAddress(numberToHex(word & ((1n << 160n) - 1n), { size: 20 }));
}

/**
 * The registered full nodes, sorted. `previous` (the set at the last checkpoint) is read in the first
 * round, so an unchanged set costs one read; changes cost at most two more.
 */
export async function nodeSetFrom(read: SlotReader, previous: readonly Address[]): Promise<Address[]> {
  const guess = previous.slice(0, MAX_TRUSTED_SIGNERS);
  const lengthKey = bootstrapSet.lengthSlot();
  const keys = [
    lengthKey,
    ...guess.map((_, i) => bootstrapSet.elementSlot(i)),
    ...guess.map((a) => nodeSlots(a).roles.slot),
  ];
  const words = await read([...new Set(keys)]);
  const length = Number(words.get(lengthKey)!);
  if (length > MAX_TRUSTED_SIGNERS) {
    throw new LightError(
      'INVALID_ARGUMENT',
      `the Registry approves ${length} bootstrap nodes, over the ${MAX_TRUSTED_SIGNERS} a light node follows`,
    );
  }
  const missing: Hex[] = [];
  for (let i = 0; i < length; i++)
    if (!words.has(bootstrapSet.elementSlot(i))) missing.push(bootstrapSet.elementSlot(i));
  if (missing.length > 0) for (const [k, v] of await read(missing)) words.set(k, v);
  const approved = Array.from({ length }, (_, i) => address(words.get(bootstrapSet.elementSlot(i))!));
  const unknown = [...new Set(approved.map((a) => nodeSlots(a).roles.slot).filter((k) => !words.has(k)))];
  if (unknown.length > 0) for (const [k, v] of await read(unknown)) words.set(k, v);
  return approved
    .filter((a) => {
      const s = nodeSlots(a);
      const w = words.get(s.roles.slot)!;
      return field(w, s.active) !== 0n && (field(w, s.roles) & ROLE_BOOTSTRAP) !== 0n;
    })
    .sort();
}

/**
 * A full node's side: the compact proof of the node set at block `number` of the chain at `rpcUrl`
 * (its own, trusted chain), for light nodes that follow its checkpoints.
 */
export async function buildNodeSetProof(
  rpcUrl: string,
  registry: Address,
  number: bigint,
  rpc?: RpcCallOptions,
): Promise<Uint8Array> {
  let combined: RpcProof | undefined;
  await nodeSetFrom(async (keys) => {
    const answer = (await rpcCall(rpcUrl, 'eth_getProof', [registry, keys, toHex(number)], rpc)) as RpcProof;
    if (!combined) combined = { ...answer, storageProof: [] };
    combined.storageProof.push(...answer.storageProof);
    return new Map(answer.storageProof.map((e, i) => [keys[i]!, BigInt(e.value)]));
  }, []);
  return compactProof(combined!);
}
