/**
 * Storage slots of the values light nodes prove, located through the storage layouts solc reported
 * when the contracts were built (@dibs/contracts' generated storage-layout.ts), never hard-coded: a
 * contract change that moves a variable moves the slot here too.
 */
import {
  accessGrantsStorageLayout,
  organizationsStorageLayout,
  registryStorageLayout,
} from '@dibs/contracts';
import { type Address, encodeAbiParameters, type Hex, keccak256, numberToHex } from 'viem';
import { LightError } from './errors.ts';

interface Variable {
  readonly label: string;
  readonly slot: string;
  readonly offset: number;
  readonly type: string;
}
interface Layout {
  readonly storage: readonly Variable[];
  readonly types: Readonly<
    Record<string, { readonly members?: readonly Variable[]; readonly numberOfBytes: string }>
  > | null;
}

/** Where one value sits: its slot, and its byte offset and width inside the slot's 32 bytes. */
export interface SlotField {
  slot: Hex;
  offset: number;
  bytes: number;
}

function variable(layout: Layout, contract: string, label: string): Variable {
  const v = layout.storage.find((s) => s.label === label);
  if (!v) throw new LightError('LAYOUT', `${contract} has no state variable ${label}; rebuild the contracts`);
  return v;
}

function member(
  layout: Layout,
  contract: string,
  structType: string,
  label: string,
): Variable & { bytes: number } {
  const m = layout.types?.[structType]?.members?.find((x) => x.label === label);
  if (!m)
    throw new LightError(
      'LAYOUT',
      `${contract}: ${structType} has no member ${label}; rebuild the contracts`,
    );
  return { ...m, bytes: Number(layout.types?.[m.type]?.numberOfBytes ?? 32) };
}

/** The value type of a `mapping(K => V)` type id. */
function mappingValue(type: string): string {
  const inner = type.slice('t_mapping('.length, -1);
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) return inner.slice(i + 1);
  }
  throw new LightError('LAYOUT', `cannot read mapping type ${type}`);
}

/** keccak256(abi.encode(key, slot)): the slot of `mapping[key]`. */
export function mappingSlot(key: bigint | Address, base: bigint): bigint {
  const encoded =
    typeof key === 'bigint'
      ? encodeAbiParameters([{ type: 'uint256' }, { type: 'uint256' }], [key, base])
      : encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [key, base]);
  return BigInt(keccak256(encoded));
}

/** A slot number as the 32-byte hex key eth_getProof takes. */
export function slotKey(slot: bigint): Hex {
  return numberToHex(slot, { size: 32 });
}

const grants = variable(accessGrantsStorageLayout, 'AccessGrants', '_grants');
const services = variable(accessGrantsStorageLayout, 'AccessGrants', '_services');
const serviceStruct = mappingValue(services.type);
const serviceFields = {
  owner: member(accessGrantsStorageLayout, 'AccessGrants', serviceStruct, 'owner'),
  active: member(accessGrantsStorageLayout, 'AccessGrants', serviceStruct, 'active'),
  policy: member(accessGrantsStorageLayout, 'AccessGrants', serviceStruct, 'policy'),
  host: member(accessGrantsStorageLayout, 'AccessGrants', serviceStruct, 'host'),
  policyRef: member(accessGrantsStorageLayout, 'AccessGrants', serviceStruct, 'policyRef'),
  serviceType: member(accessGrantsStorageLayout, 'AccessGrants', serviceStruct, 'serviceType'),
};
const identities = variable(registryStorageLayout, 'Registry', '_identities');
const identityKey = member(registryStorageLayout, 'Registry', mappingValue(identities.type), 'encryptionKey');
const nodes = variable(registryStorageLayout, 'Registry', '_nodes');
const nodeStruct = mappingValue(nodes.type);
const nodeRoles = member(registryStorageLayout, 'Registry', nodeStruct, 'roles');
const nodeActive = member(registryStorageLayout, 'Registry', nodeStruct, 'active');
const bootstrap = variable(registryStorageLayout, 'Registry', '_approvedBootstrap');
// EnumerableSet.AddressSet { Set _inner { bytes32[] _values; mapping _positions } }
const bootstrapInner = member(registryStorageLayout, 'Registry', bootstrap.type, '_inner');
const bootstrapValues = member(registryStorageLayout, 'Registry', bootstrapInner.type, '_values');
const members = variable(organizationsStorageLayout, 'Organizations', '_members');

function at(base: bigint, m: Variable & { bytes: number }): SlotField {
  return { slot: slotKey(base + BigInt(m.slot)), offset: m.offset, bytes: m.bytes };
}

/** AccessGrants: the packed word of grant `grantId` (grantee | issuedAt | expiresAt | revoked). */
export function grantSlot(grantId: bigint): Hex {
  return slotKey(mappingSlot(grantId, BigInt(grants.slot)));
}

/** AccessGrants (Services): the fields of service `serviceId` a verifier needs. */
export function serviceSlots(serviceId: bigint) {
  const base = mappingSlot(serviceId, BigInt(services.slot));
  return {
    owner: at(base, serviceFields.owner),
    active: at(base, serviceFields.active),
    policy: at(base, serviceFields.policy),
    host: at(base, serviceFields.host),
    policyRef: at(base, serviceFields.policyRef),
    serviceType: at(base, serviceFields.serviceType),
  };
}

/** Registry: the encryption key of `account`'s identity. */
export function identityKeySlot(account: Address): SlotField {
  return at(mappingSlot(account, BigInt(identities.slot)), identityKey);
}

/** Registry: the word holding a node's roles and active flag. */
export function nodeSlots(node: Address): { roles: SlotField; active: SlotField } {
  const base = mappingSlot(node, BigInt(nodes.slot));
  return { roles: at(base, nodeRoles), active: at(base, nodeActive) };
}

/** Registry: the approved-bootstrap set's length slot and the slot of its element `i`. */
export const bootstrapSet = {
  lengthSlot(): Hex {
    return slotKey(BigInt(bootstrap.slot) + BigInt(bootstrapInner.slot) + BigInt(bootstrapValues.slot));
  },
  elementSlot(i: number): Hex {
    const arraySlot = BigInt(bootstrap.slot) + BigInt(bootstrapInner.slot) + BigInt(bootstrapValues.slot);
    return slotKey(BigInt(keccak256(slotKey(arraySlot))) + BigInt(i));
  },
};

/** Organizations: whether `account` is a member of organization `orgId`. */
export function memberSlot(orgId: bigint, account: Address): Hex {
  return slotKey(mappingSlot(account, mappingSlot(orgId, BigInt(members.slot))));
}

/** The `bytes` bytes at `offset` (from the low end, as solc packs) of a 32-byte word. */
export function field(word: bigint, f: Pick<SlotField, 'offset' | 'bytes'>): bigint {
  return (word >> BigInt(8 * f.offset)) & ((1n << BigInt(8 * f.bytes)) - 1n);
}
