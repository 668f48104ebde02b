/** An organization's services (policy OrgMembers or OrgNetwork with its id) and the grants on them. */
import { type ChainClients, type DeploymentAddresses, RegistryReader, type ServiceRecord } from '@dibs/chain';
import { accessGrantsAbi, Policy } from '@dibs/contracts';
import type { Address } from 'viem';
import { MAX_ORG_GRANTS, MAX_SERVICES_SCANNED, SERVICE_READ_BATCH } from './constants.ts';

/** A service restricted to one organization. */
export interface OrgService {
  id: bigint;
  name: string;
  type: string;
  owner: Address;
  host: Address;
  price: bigint;
  paymentToken: Address;
  /** `network`: the organization's own network service (members and member nodes); `members`: members only. */
  audience: 'network' | 'members';
  active: boolean;
}

/** A grant on one of an organization's services. */
export interface OrgGrant {
  id: bigint;
  serviceId: bigint;
  serviceName: string;
  grantee: Address;
  issuedAt: bigint;
  expiresAt: bigint;
  revoked: boolean;
}

/**
 * Services whose policy names the organization, newest first. Reads the newest
 * MAX_SERVICES_SCANNED services in batches (the Services contract keeps no index by organization).
 */
export async function organizationServices(
  clients: ChainClients,
  deployment: DeploymentAddresses,
  orgId: bigint,
): Promise<OrgService[]> {
  const reader = new RegistryReader(clients, deployment);
  const count = await reader.serviceCount();
  const first = count > BigInt(MAX_SERVICES_SCANNED) ? count - BigInt(MAX_SERVICES_SCANNED) + 1n : 1n;
  const out: OrgService[] = [];
  for (let hi = count; hi >= first; hi -= BigInt(SERVICE_READ_BATCH)) {
    const ids: bigint[] = [];
    for (let id = hi; id >= first && id > hi - BigInt(SERVICE_READ_BATCH); id--) ids.push(id);
    const records = await Promise.all(ids.map((id) => reader.getService(id)));
    for (const s of records) {
      const audience = s && audienceOf(s, orgId);
      if (s && audience) {
        out.push({
          id: s.id,
          name: s.name,
          type: s.serviceType,
          owner: s.owner,
          host: s.host,
          price: s.price,
          paymentToken: s.paymentToken,
          audience,
          active: s.active,
        });
      }
    }
  }
  return out;
}

function audienceOf(s: ServiceRecord, orgId: bigint): OrgService['audience'] | null {
  if (s.policyRef !== orgId) return null;
  if (s.policy === Policy.OrgNetwork) return 'network';
  if (s.policy === Policy.OrgMembers) return 'members';
  return null;
}

/** Grants issued on `services`, from AccessGrants' events: the newest MAX_ORG_GRANTS, newest first. */
export async function organizationGrants(
  clients: ChainClients,
  deployment: DeploymentAddresses & { deployedAtBlock?: bigint },
  services: OrgService[],
): Promise<OrgGrant[]> {
  if (services.length === 0) return [];
  const names = new Map(services.map((s) => [s.id, s.name]));
  const range = {
    address: deployment.accessGrants,
    abi: accessGrantsAbi,
    args: { serviceId: services.map((s) => s.id) },
    fromBlock: deployment.deployedAtBlock ?? 0n,
    toBlock: 'latest',
  } as const;
  const [issued, revoked] = await Promise.all([
    clients.publicClient.getContractEvents({ ...range, eventName: 'GrantIssued' } as never),
    clients.publicClient.getContractEvents({ ...range, eventName: 'GrantRevoked' } as never),
  ]);
  const revokedIds = new Set(
    (revoked as Array<{ args: { grantId?: bigint } }>)
      .map((l) => l.args.grantId)
      .filter((id) => id !== undefined),
  );
  const grants = (
    issued as Array<{
      args: {
        grantId?: bigint;
        serviceId?: bigint;
        grantee?: Address;
        issuedAt?: bigint;
        expiresAt?: bigint;
      };
    }>
  )
    .map((l) => l.args)
    .filter((a) => a.grantId !== undefined && a.serviceId !== undefined && a.grantee !== undefined)
    .map((a) => ({
      id: a.grantId as bigint,
      serviceId: a.serviceId as bigint,
      serviceName: names.get(a.serviceId as bigint) ?? '',
      grantee: a.grantee as Address,
      issuedAt: BigInt(a.issuedAt ?? 0n),
      expiresAt: BigInt(a.expiresAt ?? 0n),
      revoked: revokedIds.has(a.grantId as bigint),
    }));
  return grants.reverse().slice(0, MAX_ORG_GRANTS);
}
