import { accessGrantsAbi, Limits, organizationsAbi, orgTokenAbi, Policy } from '@dibs/contracts';
import {
  type Abi,
  type Address,
  getAddress,
  isAddressEqual,
  parseEventLogs,
  type TransactionReceipt,
  zeroAddress,
} from 'viem';
import type { ChainClients } from './clients.ts';
import type { DeploymentAddresses } from './deployer.ts';
import { ChainError, NoAccountError } from './errors.ts';
import { sendContractWrite } from './tx.ts';

/** The service type of an organization's own network service. */
export const ORG_NETWORK_SERVICE_TYPE = 'network';
/** Default grant duration of an organization's network service: 30 days. */
export const ORG_NETWORK_GRANT_SECONDS = 30n * 24n * 3600n;
/** Most organizations `listOrganizations` reads in one call. */
export const MAX_ORGANIZATIONS_LISTED = 1000;

/** An organization as the chain knows it, with its membership replayed from its events. */
export interface OrganizationView {
  id: bigint;
  name: string;
  networkLabel: string;
  admin: Address;
  token: Address;
  /** The organization's own network service, 0n when none is recorded. */
  networkServiceId: bigint;
}

/** An organization with its current members and nodes. */
export interface OrganizationDetails extends OrganizationView {
  members: Address[];
  nodes: Address[];
}

/** What `createOrganization` needs. */
export interface CreateOrganizationParams {
  name: string;
  /** Network label carried by the organization's traffic; default: the name, cut to its bound. */
  networkLabel?: string;
  /** An existing ERC-20 to use as the organization's token; default: a fresh OrgToken. */
  token?: Address;
  /** Price of the network service in the organization's token, base units; default free. */
  networkPrice?: bigint;
  /** Grant duration of the network service, seconds. */
  networkGrantSeconds?: bigint;
}

/** Rejects a fleet configuration key or value the contract would refuse, before any transaction. */
export function checkEnvEntry(key: string, value: string): void {
  const keyBytes = Buffer.byteLength(key, 'utf8');
  if (keyBytes === 0 || keyBytes > Limits.maxEnvKeyBytes) {
    throw new ChainError(
      'INVALID_ENV_KEY',
      `a fleet configuration key is 1-${Limits.maxEnvKeyBytes} bytes, got ${keyBytes}; use a shorter key`,
    );
  }
  const valueBytes = Buffer.byteLength(value, 'utf8');
  if (valueBytes > Limits.maxEnvValueBytes) {
    throw new ChainError(
      'ENV_VALUE_TOO_LONG',
      `a fleet configuration value is at most ${Limits.maxEnvValueBytes} bytes, got ${valueBytes}`,
    );
  }
}

/**
 * Organizations on chain: create them with their own network service, manage members and nodes,
 * mint and move their token, and read and write their fleet configuration. Writes go through the
 * wallet's transaction queue and throw ContractRevertError with the contract's error name.
 */
export class OrganizationsClient {
  readonly clients: ChainClients;
  readonly addresses: DeploymentAddresses & { deployedAtBlock?: bigint };

  constructor(clients: ChainClients, addresses: DeploymentAddresses & { deployedAtBlock?: bigint }) {
    this.clients = clients;
    this.addresses = addresses;
  }

  #write(contract: string, address: Address, abi: Abi, functionName: string, args: readonly unknown[]) {
    return sendContractWrite(this.clients, { contract, address, abi, functionName, args });
  }

  #org(functionName: string, args: readonly unknown[]): Promise<TransactionReceipt> {
    return this.#write('Organizations', this.addresses.organizations, organizationsAbi, functionName, args);
  }

  #read<T>(functionName: string, args: readonly unknown[]): Promise<T> {
    return this.clients.publicClient.readContract({
      address: this.addresses.organizations,
      abi: organizationsAbi,
      functionName,
      args,
    } as never) as Promise<T>;
  }

  get #self(): Address {
    const account = this.clients.account;
    if (!account) throw new NoAccountError('sign transactions');
    return account.address;
  }

  /**
   * Creates an organization administered by the caller, publishes its own network service (policy
   * OrgNetwork: its members and member nodes only; priced in its token or free) and records that
   * service on the organization. Three transactions.
   */
  async create(params: CreateOrganizationParams): Promise<OrganizationView> {
    const label = params.networkLabel ?? defaultLabel(params.name);
    const receipt = await this.#org('createOrganization', [params.name, label, params.token ?? zeroAddress]);
    const [created] = parseEventLogs({
      abi: organizationsAbi,
      logs: receipt.logs,
      eventName: 'OrganizationCreated',
    }).filter((l) => isAddressEqual(l.address, this.addresses.organizations));
    if (!created) {
      throw new ChainError(
        'MISSING_EVENT',
        `transaction ${receipt.transactionHash} emitted no OrganizationCreated`,
      );
    }
    const orgId = created.args.orgId;
    const price = params.networkPrice ?? 0n;
    const published = await this.#write('Services', this.addresses.services, accessGrantsAbi, 'publish', [
      ORG_NETWORK_SERVICE_TYPE,
      zeroAddress,
      price,
      price === 0n ? zeroAddress : created.args.token,
      params.networkGrantSeconds ?? ORG_NETWORK_GRANT_SECONDS,
      Policy.OrgNetwork,
      orgId,
      `org:${params.name}`,
    ]);
    const [service] = parseEventLogs({
      abi: accessGrantsAbi,
      logs: published.logs,
      eventName: 'ServicePublished',
    }).filter((l) => isAddressEqual(l.address, this.addresses.services));
    if (!service) {
      throw new ChainError(
        'MISSING_EVENT',
        `transaction ${published.transactionHash} emitted no ServicePublished`,
      );
    }
    await this.#org('setNetworkService', [orgId, service.args.serviceId]);
    return {
      id: orgId,
      name: params.name,
      networkLabel: label,
      admin: created.args.admin,
      token: created.args.token,
      networkServiceId: service.args.serviceId,
    };
  }

  /** The organization with this id, or null when there is none. */
  async get(orgId: bigint): Promise<OrganizationView | null> {
    const count = await this.count();
    if (orgId < 1n || orgId > count) return null;
    const [[name, networkLabel, admin, token], networkServiceId] = await Promise.all([
      this.#read<readonly [string, string, Address, Address]>('getOrganization', [orgId]),
      this.#read<bigint>('networkServiceOf', [orgId]),
    ]);
    return { id: orgId, name, networkLabel, admin, token, networkServiceId };
  }

  /** The organization with its current members and nodes (replayed from its events). */
  async details(orgId: bigint): Promise<OrganizationDetails | null> {
    const org = await this.get(orgId);
    if (!org) return null;
    const logs = await this.clients.publicClient.getContractEvents({
      address: this.addresses.organizations,
      abi: organizationsAbi,
      args: { orgId } as never,
      fromBlock: this.addresses.deployedAtBlock ?? 0n,
      toBlock: 'latest',
    });
    const members = new Set<Address>();
    const nodes = new Set<Address>();
    for (const log of logs) {
      const a = log.args as { orgId?: bigint; account?: Address; node?: Address };
      if (a.orgId !== orgId) continue;
      if (log.eventName === 'MemberAdded' && a.account) members.add(getAddress(a.account));
      if (log.eventName === 'MemberRemoved' && a.account) members.delete(getAddress(a.account));
      if (log.eventName === 'NodeAdded' && a.node) nodes.add(getAddress(a.node));
      if (log.eventName === 'NodeRemoved' && a.node) nodes.delete(getAddress(a.node));
    }
    return { ...org, members: [...members], nodes: [...nodes] };
  }

  /** How many organizations exist; ids run from 1 to this number. */
  count(): Promise<bigint> {
    return this.#read<bigint>('organizationCount', []);
  }

  /** Every organization (the first MAX_ORGANIZATIONS_LISTED), with `mine` marking the ones `account` is in. */
  async list(account?: Address): Promise<Array<OrganizationView & { role?: 'admin' | 'member' | 'node' }>> {
    const count = await this.count();
    const last = count < BigInt(MAX_ORGANIZATIONS_LISTED) ? count : BigInt(MAX_ORGANIZATIONS_LISTED);
    const out: Array<OrganizationView & { role?: 'admin' | 'member' | 'node' }> = [];
    for (let id = 1n; id <= last; id++) {
      const org = await this.get(id);
      if (!org) continue;
      if (account) {
        if (isAddressEqual(org.admin, account)) out.push({ ...org, role: 'admin' });
        else if (await this.isMember(id, account)) out.push({ ...org, role: 'member' });
        else if (await this.isNode(id, account)) out.push({ ...org, role: 'node' });
        else out.push(org);
      } else out.push(org);
    }
    return out;
  }

  /** Organizations in which `node` is a member node. */
  async organizationsOfNode(node: Address): Promise<bigint[]> {
    const count = await this.count();
    const ids: bigint[] = [];
    for (let id = 1n; id <= count && id <= BigInt(MAX_ORGANIZATIONS_LISTED); id++) {
      if (await this.isNode(id, node)) ids.push(id);
    }
    return ids;
  }

  isMember(orgId: bigint, account: Address): Promise<boolean> {
    return this.#read<boolean>('isMember', [orgId, account]);
  }

  isNode(orgId: bigint, node: Address): Promise<boolean> {
    return this.#read<boolean>('isNode', [orgId, node]);
  }

  addMember(orgId: bigint, account: Address): Promise<TransactionReceipt> {
    return this.#org('addMember', [orgId, account]);
  }

  removeMember(orgId: bigint, account: Address): Promise<TransactionReceipt> {
    return this.#org('removeMember', [orgId, account]);
  }

  addNode(orgId: bigint, node: Address): Promise<TransactionReceipt> {
    return this.#org('addNode', [orgId, node]);
  }

  removeNode(orgId: bigint, node: Address): Promise<TransactionReceipt> {
    return this.#org('removeNode', [orgId, node]);
  }

  /** Mints `amount` of the organization's OrgToken to `to` (its admin only). */
  async mint(orgId: bigint, to: Address, amount: bigint): Promise<TransactionReceipt> {
    const org = await this.#require(orgId);
    return this.#write('OrgToken', org.token, orgTokenAbi, 'mint', [to, amount]);
  }

  /** Moves `amount` of the organization's token from the caller to `to`. */
  async transfer(orgId: bigint, to: Address, amount: bigint): Promise<TransactionReceipt> {
    const org = await this.#require(orgId);
    return this.#write('OrgToken', org.token, orgTokenAbi, 'transfer', [to, amount]);
  }

  /** Balance of `account` (default: the caller) in the organization's token. */
  async balance(orgId: bigint, account: Address = this.#self): Promise<bigint> {
    const org = await this.#require(orgId);
    return this.clients.publicClient.readContract({
      address: org.token,
      abi: orgTokenAbi,
      functionName: 'balanceOf',
      args: [account],
    });
  }

  /** Sets fleet configuration `key` (admin only); an empty value removes it. */
  setEnv(orgId: bigint, key: string, value: string): Promise<TransactionReceipt> {
    checkEnvEntry(key, value);
    return this.#org('setEnv', [orgId, key, value]);
  }

  /** One fleet configuration value, undefined when unset. */
  async getEnv(orgId: bigint, key: string): Promise<string | undefined> {
    const value = await this.#read<string>('getEnv', [orgId, key]);
    return value === '' ? undefined : value;
  }

  /** The organization's whole fleet configuration, keys sorted. */
  async env(orgId: bigint): Promise<Map<string, string>> {
    const [keys, values] = await this.#read<readonly [readonly string[], readonly string[]]>('envEntries', [
      orgId,
    ]);
    const entries = keys.map((k, i) => [k, values[i] ?? ''] as const).sort(([a], [b]) => (a < b ? -1 : 1));
    return new Map(entries);
  }

  async #require(orgId: bigint): Promise<OrganizationView> {
    const org = await this.get(orgId);
    if (!org) {
      throw new ChainError(
        'ORGANIZATION_NOT_FOUND',
        `organization ${orgId} does not exist; see dibs org list`,
      );
    }
    return org;
  }
}

/** A network label from a name: lower-case letters, digits and dashes, within the contract's bound. */
function defaultLabel(name: string): string {
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, Limits.maxNetworkLabelBytes);
  return label === '' ? 'org' : label;
}
