/**
 * A published service's access policy after publishing: read it (policy, organization, holder token
 * and threshold, price, grant duration, allowlist) and change it with the owner's transactions
 * (Services.update, Services.setTokenThreshold and Services.setAllowlist). Holders who no longer meet the policy lose their live tunnels at the host's
 * next chain poll (the chain mirror re-checks their standing).
 */
import { Policy } from '@dibs/contracts';
import { type Address, formatUnits, getAddress, zeroAddress } from 'viem';
import { MAX_ALLOWLIST } from './constants.ts';
import { ServiceError } from './errors.ts';
import type { ServiceDirectory } from './publish.ts';
import { parseTokenAmount } from './token-amount.ts';
import type { ServicePolicy } from './types.ts';

/** What policy reads and changes need: the chain (signing as the owner for changes) and who we are. */
export type PolicyDirectory = Pick<ServiceDirectory, 'registry' | 'self'>;

/** A service's policy and terms as the chain holds them now. */
export interface ServicePolicyView {
  serviceId: bigint;
  name: string;
  policy: ServicePolicy;
  /** organization and organization-network policies. */
  organizationId: bigint | null;
  /** token-holders policy: the ERC-20 an account must hold at least `holderThreshold` of. */
  holderToken: Address | null;
  /** token-holders policy: the least balance admitted, in holderToken's units (e.g. "2.5"). */
  holderThreshold: string | null;
  /** token-holders policy: the same in base units (at least 1: the contract reads 0 as 1). */
  holderThresholdBaseUnits: bigint | null;
  /** token-holders policy: holderToken's decimals (0 when the token does not say). */
  holderTokenDecimals: number | null;
  price: bigint;
  paymentToken: Address | null;
  grantDurationSeconds: bigint;
  allowlist: Address[];
}

/** What a policy change sets; omitted fields stay as they are. */
export interface PolicyChange {
  policy?: ServicePolicy;
  organizationId?: bigint;
  holderToken?: Address;
  /**
   * token-holders policy: the least balance admitted, as a decimal amount in the holder token's units
   * (its `decimals()`; e.g. "2.5"). "0" restores the default, one base unit.
   */
  tokenThreshold?: string;
  price?: bigint;
  grantDurationSeconds?: bigint;
}

const POLICY_NAMES: Record<number, ServicePolicy> = {
  [Policy.Public]: 'public',
  [Policy.Allowlist]: 'allowlist',
  [Policy.OrgMembers]: 'organization',
  [Policy.OrgNetwork]: 'organization-network',
  [Policy.TokenHolders]: 'token-holders',
};
const POLICY_NUMBERS: Record<ServicePolicy, number> = {
  public: Policy.Public,
  allowlist: Policy.Allowlist,
  organization: Policy.OrgMembers,
  'organization-network': Policy.OrgNetwork,
  'token-holders': Policy.TokenHolders,
};

const isOrgPolicy = (p: number) => p === Policy.OrgMembers || p === Policy.OrgNetwork;

/**
 * Reads a service's policy, terms and allowlist (allowlist events since `fromBlock`; default the
 * deployment's block when the registry knows it).
 */
export async function readServicePolicy(
  dir: PolicyDirectory,
  serviceId: bigint,
  fromBlock = (dir.registry.addresses as { deployedAtBlock?: bigint }).deployedAtBlock ?? 0n,
): Promise<ServicePolicyView> {
  const s = await dir.registry.getService(serviceId);
  if (!s) throw unknown(serviceId);
  const allowlist = await dir.registry.getAllowlist(serviceId, fromBlock, MAX_ALLOWLIST * 4);
  const holderToken = s.policy === Policy.TokenHolders ? tokenAddress(s.policyRef) : null;
  const decimals = holderToken ? await dir.registry.tokenDecimals(holderToken) : null;
  const threshold = s.tokenThreshold === 0n ? 1n : s.tokenThreshold;
  return {
    serviceId,
    name: s.name,
    policy: POLICY_NAMES[s.policy] ?? 'public',
    organizationId: isOrgPolicy(s.policy) ? s.policyRef : null,
    holderToken,
    holderThreshold: decimals !== null ? formatUnits(threshold, decimals) : null,
    holderThresholdBaseUnits: holderToken ? threshold : null,
    holderTokenDecimals: decimals,
    price: s.price,
    paymentToken: s.paymentToken === zeroAddress ? null : s.paymentToken,
    grantDurationSeconds: s.grantDuration,
    allowlist,
  };
}

/** The service, when `dir.self` owns it and it is active. */
async function owned(dir: PolicyDirectory, serviceId: bigint) {
  const s = await dir.registry.getService(serviceId);
  if (!s) throw unknown(serviceId);
  if (s.owner.toLowerCase() !== dir.self.toLowerCase()) {
    throw new ServiceError(
      'NOT_SERVICE_OWNER',
      `service ${serviceId} ("${s.name}") is owned by ${s.owner}, not by this node; only its owner can change its policy`,
    );
  }
  if (!s.active) {
    throw new ServiceError(
      'SERVICE_RETIRED',
      `service ${serviceId} ("${s.name}") is retired; its policy can no longer change`,
    );
  }
  return s;
}

/** The ERC-20 address a token-holders policy's reference names. */
function tokenAddress(policyRef: bigint): Address {
  return getAddress(`0x${policyRef.toString(16).padStart(40, '0')}`);
}

/**
 * Changes an own service's policy and terms: the token threshold first (Services.setTokenThreshold,
 * so a switch to token holders never runs a moment under the old threshold), then Services.update
 * when anything else changes.
 */
export async function updateServicePolicy(
  dir: PolicyDirectory,
  serviceId: bigint,
  change: PolicyChange,
): Promise<void> {
  const s = await owned(dir, serviceId);
  const policy = change.policy !== undefined ? POLICY_NUMBERS[change.policy] : s.policy;
  let policyRef = 0n;
  if (isOrgPolicy(policy)) {
    const org = change.organizationId ?? (isOrgPolicy(s.policy) ? s.policyRef : undefined);
    if (org === undefined) {
      throw new ServiceError(
        'ORGANIZATION_REQUIRED',
        'an organization policy needs an organization id',
        'name the organization (see `dibs org list`)',
      );
    }
    policyRef = org;
  } else if (policy === Policy.TokenHolders) {
    const token = change.holderToken ?? (s.policy === Policy.TokenHolders ? s.policyRef : undefined);
    if (token === undefined) {
      throw new ServiceError(
        'HOLDER_TOKEN_REQUIRED',
        'the token-holders policy needs the token holders must hold',
        'give the ERC-20 address',
      );
    }
    policyRef = BigInt(token);
  }
  if (change.tokenThreshold !== undefined) {
    if (policy !== Policy.TokenHolders) {
      throw new ServiceError(
        'BAD_TOKEN_THRESHOLD',
        'a token threshold applies to the token-holders policy only',
        'set the policy to token-holders (with its holder token) in the same change',
      );
    }
    const threshold = parseTokenAmount(
      change.tokenThreshold,
      await dir.registry.tokenDecimals(tokenAddress(policyRef)),
    );
    if (threshold !== s.tokenThreshold) await dir.registry.setTokenThreshold(serviceId, threshold);
  }
  const { tokenThreshold: _, ...terms } = change;
  if (Object.values(terms).every((v) => v === undefined)) return;
  const price = change.price ?? s.price;
  // A priced service needs a payment token: the network's token unless it already has one.
  const paymentToken =
    price > 0n && s.paymentToken === zeroAddress ? dir.registry.addresses.token : s.paymentToken;
  await dir.registry.updateService(serviceId, {
    price,
    paymentToken,
    grantDuration: change.grantDurationSeconds ?? s.grantDuration,
    policy,
    policyRef,
  });
}

/** Adds accounts to and removes them from an own service's allowlist. */
export async function changeAllowlist(
  dir: PolicyDirectory,
  serviceId: bigint,
  change: { add?: Address[]; remove?: Address[] },
): Promise<void> {
  const add = change.add ?? [];
  const remove = change.remove ?? [];
  if (add.length === 0 && remove.length === 0) {
    throw new ServiceError('BAD_ALLOWLIST', 'no account to add or remove', 'name at least one address');
  }
  if (add.length > MAX_ALLOWLIST || remove.length > MAX_ALLOWLIST) {
    throw new ServiceError(
      'BAD_ALLOWLIST',
      `at most ${MAX_ALLOWLIST} accounts change per call`,
      'split the change',
    );
  }
  await owned(dir, serviceId);
  if (add.length > 0) await dir.registry.setAllowlist(serviceId, add, true);
  if (remove.length > 0) await dir.registry.setAllowlist(serviceId, remove, false);
}

function unknown(serviceId: bigint): ServiceError {
  return new ServiceError(
    'UNKNOWN_SERVICE',
    `there is no service ${serviceId} on chain`,
    'see `dibs service list`',
  );
}
