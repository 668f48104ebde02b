/**
 * Services on chain: publishing (catalog row first, then the Services contract, then the allowlist),
 * retiring, and reading services back as views. Shared by the running node and the CLI, which
 * publishes in-process beside a running node on the same data dir.
 */
import type { RegistryWriter, ServiceRecord } from '@dibs/chain';
import { Policy } from '@dibs/contracts';
import { cidrsOverlap, formatCidr4, MAX_VPN_ROUTES, parseCidr4, parsePool } from '@dibs/vpn';
import { base58btc } from 'multiformats/bases/base58';
import { type Address, isAddress, zeroAddress } from 'viem';
import type { ServiceCatalog } from './catalog.ts';
import {
  DEFAULT_GRANT_DURATION_SECONDS,
  MAX_ALLOW_RULES,
  MAX_ALLOWLIST,
  MAX_LISTED_SERVICES,
  MAX_SERVICE_NAME_BYTES,
  SERVICE_NAME_SUFFIX,
} from './constants.ts';
import { ServiceError } from './errors.ts';
import { parseTokenAmount } from './token-amount.ts';
import { formatAllowRule, formatHostPort, parseAllowRule, parseHostPort } from './target.ts';
import type { PublishInput, ServicePolicy, ServiceView } from './types.ts';

const SERVICE_TYPES = new Set(['tcp', 'http', 'vpn']);
const POLICY_NAMES: Record<number, ServicePolicy> = {
  [Policy.Public]: 'public',
  [Policy.Allowlist]: 'allowlist',
  [Policy.OrgMembers]: 'organization',
  [Policy.TokenHolders]: 'token-holders',
  [Policy.OrgNetwork]: 'organization-network',
};
/** The admission service of the network itself: not something to connect to. */
const NETWORK_TYPE = 'network';

/** What the publishing and reading functions work on. */
export interface ServiceDirectory {
  registry: RegistryWriter;
  catalog: ServiceCatalog;
  /** This node's address: the host of what it publishes. */
  self: Address;
}

/** Checks a publish request; returns the parsed target and rules. */
export function validatePublish(input: PublishInput): {
  target: { host: string; port: number } | undefined;
  allow: ReturnType<typeof parseAllowRule>[] | undefined;
  subnets: string[] | undefined;
  pool: string | undefined;
} {
  const nameBytes = new TextEncoder().encode(input.name).length;
  if (nameBytes === 0 || nameBytes > MAX_SERVICE_NAME_BYTES || /[\s/]|^\d+$/.test(input.name)) {
    throw new ServiceError(
      'BAD_NAME',
      `service name "${input.name.slice(0, 40)}" is not usable`,
      `give 1-${MAX_SERVICE_NAME_BYTES} bytes without spaces or "/", not all digits (ids are numbers), e.g. web`,
    );
  }
  if (input.name.toLowerCase().endsWith(SERVICE_NAME_SUFFIX)) {
    throw new ServiceError(
      'BAD_NAME',
      `service name "${input.name}" ends in ${SERVICE_NAME_SUFFIX}`,
      'drop the suffix',
    );
  }
  if (!SERVICE_TYPES.has(input.type)) {
    throw new ServiceError(
      'BAD_TYPE',
      `service type "${input.type}" is not supported`,
      'use tcp, http or vpn',
    );
  }
  let target: { host: string; port: number } | undefined;
  let allow: ReturnType<typeof parseAllowRule>[] | undefined;
  let subnets: string[] | undefined;
  let pool: string | undefined;
  if (input.type === 'vpn') {
    if (!input.allow || input.allow.length === 0) {
      throw new ServiceError(
        'ALLOW_REQUIRED',
        'a vpn service needs at least one allowed destination',
        'pass --allow-dest cidr[:ports], e.g. 10.0.0.0/8:22+80-443',
      );
    }
    if (input.allow.length > MAX_ALLOW_RULES) {
      throw new ServiceError(
        'TOO_MANY_RULES',
        `${input.allow.length} allow rules`,
        `keep it to ${MAX_ALLOW_RULES}`,
      );
    }
    allow = input.allow.map(parseAllowRule);
    ({ subnets, pool } = validateL3(input));
  } else {
    if (input.subnets?.length || input.pool) {
      throw new ServiceError('BAD_SUBNET', `--subnet and --pool are for vpn services, not ${input.type}`);
    }
    if (!input.target) {
      throw new ServiceError(
        'TARGET_REQUIRED',
        `a ${input.type} service needs a target`,
        'pass --target host:port, e.g. 127.0.0.1:8080',
      );
    }
    target = parseHostPort(input.target);
  }
  if (input.price !== undefined && input.price < 0n) {
    throw new ServiceError('BAD_PRICE', 'the price is negative', 'give 0 or more base units of the token');
  }
  if (input.token !== undefined && !isAddress(input.token)) {
    throw new ServiceError(
      'BAD_TOKEN',
      `token "${input.token}" is not an address`,
      'give the ERC-20 contract address',
    );
  }
  const d = input.grantDurationSeconds;
  if (d !== undefined && (!Number.isSafeInteger(d) || d < 1 || d > 2 ** 32 - 1)) {
    throw new ServiceError(
      'BAD_DURATION',
      `grant duration ${d} s is out of range`,
      'give 1 to 4294967295 seconds',
    );
  }
  if (input.policy === 'organization' && (input.organizationId === undefined || input.organizationId < 1n)) {
    throw new ServiceError(
      'ORG_REQUIRED',
      'the organization policy needs an organization id',
      'pass --org ID (see your organization on chain)',
    );
  }
  if (input.policy === 'allowlist') {
    const list = input.allowlist ?? [];
    if (list.length > MAX_ALLOWLIST || list.some((a) => !isAddress(a))) {
      throw new ServiceError(
        'BAD_ALLOWLIST',
        'the allowlist has a bad address or too many',
        `give up to ${MAX_ALLOWLIST} 0x addresses, comma-separated`,
      );
    }
  } else if (input.policy === 'token-holders') {
    if (input.holderToken === undefined || !isAddress(input.holderToken)) {
      throw new ServiceError(
        'HOLDER_TOKEN_REQUIRED',
        'the token-holders policy needs the ERC-20 holders must hold',
        'pass --holder-token 0x… (the token contract address)',
      );
    }
  } else if (input.policy !== 'public' && input.policy !== 'organization') {
    throw new ServiceError(
      'BAD_POLICY',
      `policy "${input.policy}" is unknown`,
      'use public, allowlist, organization or token-holders',
    );
  }
  if (input.tokenThreshold !== undefined && input.policy !== 'token-holders') {
    throw new ServiceError(
      'BAD_TOKEN_THRESHOLD',
      'a token threshold applies to the token-holders policy only',
      'name the token with --holder-token',
    );
  }
  return { target, allow, subnets, pool };
}

/** A vpn service's L3 settings: canonical IPv4 subnets, a pool that overlaps none of them. */
function validateL3(input: PublishInput): { subnets: string[] | undefined; pool: string | undefined } {
  const bad = (code: string, message: string, hint: string) => new ServiceError(code, message, hint);
  const subnets = input.subnets ?? [];
  if (subnets.length > MAX_VPN_ROUTES) {
    throw bad('BAD_SUBNET', `${subnets.length} subnets`, `keep it to ${MAX_VPN_ROUTES}`);
  }
  const parsed = subnets.map((text) => {
    try {
      return parseCidr4(text);
    } catch (err) {
      throw bad('BAD_SUBNET', (err as Error).message, 'give IPv4 CIDRs, e.g. --subnet 10.60.0.0/24');
    }
  });
  let pool: string | undefined;
  if (input.pool !== undefined) {
    try {
      const p = parsePool(input.pool);
      pool = formatCidr4(p);
      const clash = parsed.find((s) => cidrsOverlap(s, p));
      if (clash) {
        throw bad(
          'BAD_POOL',
          `pool ${pool} overlaps subnet ${formatCidr4(clash)}`,
          'pick a pool outside the site',
        );
      }
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      throw bad('BAD_POOL', (err as Error).message, 'e.g. --pool 100.64.7.0/24');
    }
  }
  return { subnets: subnets.length > 0 ? parsed.map(formatCidr4) : undefined, pool };
}

/** Publishes a service hosted by this node: catalog row, Services.publish, allowlist. */
export async function publishService(dir: ServiceDirectory, input: PublishInput): Promise<ServiceView> {
  const { target, allow, subnets, pool } = validatePublish(input);
  const holderToken = input.policy === 'token-holders' ? (input.holderToken as Address) : undefined;
  const tokenThreshold =
    holderToken && input.tokenThreshold !== undefined
      ? parseTokenAmount(input.tokenThreshold, await dir.registry.tokenDecimals(holderToken))
      : undefined;
  const localId = dir.catalog.addPending({
    name: input.name,
    type: input.type,
    target,
    allow,
    subnets,
    pool,
  });
  let serviceId: bigint;
  try {
    serviceId = await dir.registry.publishService({
      serviceType: input.type,
      name: input.name,
      host: dir.self,
      grantDuration: BigInt(input.grantDurationSeconds ?? DEFAULT_GRANT_DURATION_SECONDS),
      ...(input.price !== undefined ? { price: input.price } : {}),
      ...(input.token !== undefined ? { paymentToken: input.token } : {}),
      policy:
        input.policy === 'allowlist'
          ? Policy.Allowlist
          : input.policy === 'organization'
            ? Policy.OrgMembers
            : holderToken
              ? Policy.TokenHolders
              : Policy.Public,
      ...(input.policy === 'organization' ? { policyRef: input.organizationId as bigint } : {}),
      ...(holderToken ? { policyRef: BigInt(holderToken) } : {}),
      ...(tokenThreshold ? { tokenThreshold } : {}),
    });
  } catch (err) {
    dir.catalog.discard(localId);
    throw new ServiceError(
      'PUBLISH_FAILED',
      `publishing "${input.name}" on chain failed: ${(err as Error).message}`,
      'check the chain is reachable and the wallet has gas',
      { cause: err },
    );
  }
  dir.catalog.confirm(localId, serviceId);
  if (input.policy === 'allowlist' && input.allowlist && input.allowlist.length > 0) {
    await dir.registry.setAllowlist(serviceId, input.allowlist as Address[], true);
  }
  return showService(dir, serviceId);
}

/** Retires one of this node's services on chain and stops serving it. */
export async function retireService(dir: ServiceDirectory, serviceId: bigint): Promise<void> {
  const s = await dir.registry.getService(serviceId);
  if (!s) throw unknownService(String(serviceId));
  if (s.owner.toLowerCase() !== dir.self.toLowerCase()) {
    throw new ServiceError(
      'NOT_OWNER',
      `service ${serviceId} (${s.name}) belongs to ${s.owner}`,
      'only its owner can retire it',
    );
  }
  if (s.active) await dir.registry.retireService(serviceId);
  dir.catalog.markRetired(serviceId);
}

/** One service as a view; own services carry their private target and rules. */
export async function showService(dir: ServiceDirectory, serviceId: bigint): Promise<ServiceView> {
  const s = await dir.registry.getService(serviceId);
  if (!s) throw unknownService(String(serviceId));
  return toView(dir, s, await hostPeerIdOf(dir, s.host));
}

/** Own services and every active service on chain (newest first, at most MAX_LISTED_SERVICES). */
export async function listServices(dir: ServiceDirectory): Promise<ServiceView[]> {
  const count = await dir.registry.serviceCount();
  const views: ServiceView[] = [];
  const peers = new Map<string, string | undefined>();
  const low = count > BigInt(MAX_LISTED_SERVICES) ? count - BigInt(MAX_LISTED_SERVICES) : 0n;
  for (let id = count; id > low; id--) {
    const s = await dir.registry.getService(id);
    if (!s || s.serviceType === NETWORK_TYPE) continue;
    const own =
      s.host.toLowerCase() === dir.self.toLowerCase() || s.owner.toLowerCase() === dir.self.toLowerCase();
    if (!s.active && !own) continue;
    const key = s.host.toLowerCase();
    if (!peers.has(key)) peers.set(key, await hostPeerIdOf(dir, s.host));
    views.push(toView(dir, s, peers.get(key)));
  }
  return views;
}

/** Resolves `<id>` or `<name>` (a name must be unique among active services). */
export async function resolveService(dir: ServiceDirectory, ref: string): Promise<ServiceView> {
  const text = ref.toLowerCase().endsWith(SERVICE_NAME_SUFFIX)
    ? ref.slice(0, -SERVICE_NAME_SUFFIX.length)
    : ref;
  if (/^\d{1,20}$/.test(text)) return showService(dir, BigInt(text));
  const matches = (await listServices(dir)).filter((v) => v.name === text);
  const active = matches.filter((v) => v.active);
  const pick = active.length > 0 ? active : matches;
  if (pick.length === 0) throw unknownService(ref);
  if (pick.length > 1) {
    const own = pick.filter((v) => v.own);
    if (own.length === 1) return own[0]!;
    throw new ServiceError(
      'AMBIGUOUS_SERVICE',
      `${pick.length} services are named "${text}" (ids ${pick.map((v) => v.id).join(', ')})`,
      'use the id instead',
    );
  }
  return pick[0]!;
}

function unknownService(ref: string): ServiceError {
  return new ServiceError(
    'UNKNOWN_SERVICE',
    `there is no service "${ref}" on chain`,
    'see `dibs service list`',
  );
}

async function hostPeerIdOf(dir: ServiceDirectory, host: Address): Promise<string | undefined> {
  if (host === zeroAddress) return undefined;
  const node = await dir.registry.getNode(host).catch(() => null);
  if (!node?.active || node.peerId.length === 0) return undefined;
  return base58btc.baseEncode(node.peerId);
}

function toView(dir: ServiceDirectory, s: ServiceRecord, hostPeerId: string | undefined): ServiceView {
  const own = s.host.toLowerCase() === dir.self.toLowerCase();
  const entry = own ? dir.catalog.get(s.id) : undefined;
  return {
    id: s.id,
    name: s.name,
    type: s.serviceType,
    owner: s.owner,
    host: s.host,
    ...(hostPeerId ? { hostPeerId } : {}),
    own,
    ...(entry?.target ? { target: formatHostPort(entry.target) } : {}),
    ...(entry?.allow ? { allow: entry.allow.map(formatAllowRule) } : {}),
    ...(entry?.subnets ? { subnets: entry.subnets } : {}),
    ...(entry?.pool ? { pool: entry.pool } : {}),
    price: s.price,
    ...(s.paymentToken !== zeroAddress ? { token: s.paymentToken } : {}),
    policy: POLICY_NAMES[s.policy] ?? 'public',
    active: s.active,
  };
}
