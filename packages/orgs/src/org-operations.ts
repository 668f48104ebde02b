/**
 * Organization operations as the CLI, the node's API and (through the API) the UI perform them: one
 * place that checks input, reads an organization whole, writes with errors people can act on, and
 * finds each organization's services and grants.
 */
import {
  type ChainClients,
  ChainError,
  ContractRevertError,
  type CreateOrganizationParams,
  type DeploymentAddresses,
  type OrganizationDetails,
  OrganizationsClient,
  type OrganizationView,
} from '@dibs/chain';
import { Limits, orgTokenAbi } from '@dibs/contracts';
import { type Address, isAddressEqual } from 'viem';
import { OrgError, type OrgErrorCode } from './errors.ts';
import { type OrgGrant, type OrgService, organizationGrants, organizationServices } from './org-services.ts';

/** Someone's part in an organization. */
export type OrgRole = 'admin' | 'member' | 'node';

/** An organization with the caller's part in it (null: none). */
export interface OrgSummary extends OrganizationView {
  role: OrgRole | null;
}

/** An organization's token as its members see it. */
export interface OrgTokenInfo {
  address: Address;
  symbol: string;
  decimals: number;
  totalSupply: bigint;
  /** The caller's balance. */
  balance: bigint;
}

/** An organization read whole: members, nodes, token, network service and fleet configuration. */
export interface OrgDetails extends OrganizationDetails {
  role: OrgRole | null;
  tokenInfo: OrgTokenInfo;
  /** Its own network service, null when none is recorded. */
  networkService: OrgService | null;
  env: Record<string, string>;
}

/** What {@link OrgOperations} needs. */
export interface OrgOperationsOptions {
  clients: ChainClients;
  deployment: DeploymentAddresses & { deployedAtBlock?: bigint };
  /** Whose role and balance reads report; default the clients' account. */
  self?: Address;
}

/** Contract errors and what they mean to a person: code, message, hint. */
const REVERTS: Record<
  string,
  (c: { orgId: bigint; subject: string; self: string }) => [OrgErrorCode, string, string]
> = {
  OrganizationNotFound: ({ orgId }) => [
    'ORG_NOT_FOUND',
    `organization ${orgId} does not exist`,
    'see dibs org list',
  ],
  NotOrganizationAdmin: ({ orgId, self }) => [
    'NOT_ORG_ADMIN',
    `${self} is not the admin of organization ${orgId} (NotOrganizationAdmin)`,
    'only its admin may do this: ask them, or use the admin wallet',
  ],
  AlreadyMember: ({ orgId, subject }) => [
    'ALREADY_MEMBER',
    `${subject} is already a member of organization ${orgId} (AlreadyMember)`,
    'nothing to do; see dibs org show',
  ],
  NotMember: ({ orgId, subject }) => [
    'NOT_A_MEMBER',
    `${subject} is not a member of organization ${orgId} (NotMember)`,
    'see its members with dibs org show',
  ],
  AlreadyNode: ({ orgId, subject }) => [
    'ALREADY_NODE',
    `${subject} is already a node of organization ${orgId} (AlreadyNode)`,
    'nothing to do; see dibs org show',
  ],
  NotNode: ({ orgId, subject }) => [
    'NOT_A_NODE',
    `${subject} is not a node of organization ${orgId} (NotNode)`,
    'see its nodes with dibs org show',
  ],
  InvalidOrganizationName: () => [
    'INVALID_NAME',
    `an organization name is 1-${Limits.maxOrganizationNameBytes} bytes`,
    'give a shorter name',
  ],
  InvalidNetworkLabel: () => [
    'INVALID_NETWORK_LABEL',
    `a network label is 1-${Limits.maxNetworkLabelBytes} bytes`,
    'give a shorter label',
  ],
  InvalidToken: ({ subject }) => [
    'INVALID_TOKEN',
    `${subject} is not a usable token contract`,
    'give the address of an ERC-20 on this chain, or "new"',
  ],
  ZeroAddress: () => ['INVALID_ADDRESS', 'the zero address cannot be used here', 'give a wallet address'],
  TooManyEnvKeys: ({ orgId }) => [
    'TOO_MANY_ENV_KEYS',
    `organization ${orgId} already has ${Limits.maxEnvKeys} fleet configuration keys`,
    'remove one first (set it to an empty value)',
  ],
  ERC20InsufficientBalance: ({ orgId, self }) => [
    'INSUFFICIENT_BALANCE',
    `${self} holds too little of organization ${orgId}'s token`,
    'ask its admin to mint you some (dibs org token mint)',
  ],
};

/**
 * Organizations on chain for one wallet: list (all, or the caller's), show, create, members, nodes,
 * token, fleet configuration, and each organization's services and grants. Input is checked before
 * any transaction; a contract's refusal becomes an {@link OrgError} naming what went wrong.
 */
export class OrgOperations {
  readonly client: OrganizationsClient;
  readonly #opts: OrgOperationsOptions;

  constructor(opts: OrgOperationsOptions) {
    this.#opts = opts;
    this.client = new OrganizationsClient(opts.clients, opts.deployment);
  }

  /** The wallet reads are made for (the signer, or the address given). */
  get self(): Address | undefined {
    return this.#opts.self ?? this.#opts.clients.account?.address;
  }

  /** Every organization (bounded by MAX_ORGANIZATIONS_LISTED) with the caller's role in each. */
  async list(): Promise<OrgSummary[]> {
    const self = this.self;
    const all = await this.client.list(self);
    return all.map((o) => ({ ...o, role: o.role ?? null }));
  }

  /** The organizations the caller administers, is a member of, or is a node of. */
  async mine(): Promise<OrgSummary[]> {
    return (await this.list()).filter((o) => o.role !== null);
  }

  /** The organization, or ORG_NOT_FOUND. */
  async require(orgId: bigint): Promise<OrganizationView> {
    const org = await this.client.get(orgId);
    if (!org) {
      throw new OrgError('ORG_NOT_FOUND', `organization ${orgId} does not exist`, 'see dibs org list');
    }
    return org;
  }

  /** The caller's part in an organization. */
  async roleIn(org: OrganizationView): Promise<OrgRole | null> {
    const self = this.self;
    if (!self) return null;
    if (isAddressEqual(org.admin, self)) return 'admin';
    if (await this.client.isMember(org.id, self)) return 'member';
    if (await this.client.isNode(org.id, self)) return 'node';
    return null;
  }

  /** One organization whole: members, nodes, token, network service, fleet configuration. */
  async show(orgId: bigint): Promise<OrgDetails> {
    await this.require(orgId);
    const d = await this.client.details(orgId);
    if (!d) throw new OrgError('ORG_NOT_FOUND', `organization ${orgId} does not exist`, 'see dibs org list');
    const [role, tokenInfo, env, services] = await Promise.all([
      this.roleIn(d),
      this.tokenInfo(d),
      this.client.env(orgId),
      d.networkServiceId === 0n ? Promise.resolve([]) : this.services(orgId),
    ]);
    return {
      ...d,
      role,
      tokenInfo,
      networkService: services.find((s) => s.id === d.networkServiceId) ?? null,
      env: Object.fromEntries(env),
    };
  }

  /** Creates an organization the caller administers, with its own network service (3 transactions). */
  async create(params: CreateOrganizationParams): Promise<OrganizationView> {
    const nameBytes = Buffer.byteLength(params.name, 'utf8');
    if (nameBytes === 0 || nameBytes > Limits.maxOrganizationNameBytes) {
      throw new OrgError(
        'INVALID_NAME',
        `an organization name is 1-${Limits.maxOrganizationNameBytes} bytes, got ${nameBytes}`,
        'give a shorter name',
      );
    }
    if (params.networkLabel !== undefined) {
      const labelBytes = Buffer.byteLength(params.networkLabel, 'utf8');
      if (labelBytes === 0 || labelBytes > Limits.maxNetworkLabelBytes) {
        throw new OrgError(
          'INVALID_NETWORK_LABEL',
          `a network label is 1-${Limits.maxNetworkLabelBytes} bytes, got ${labelBytes}`,
          'give a shorter label, or leave it out to derive one from the name',
        );
      }
    }
    return this.#translate(0n, params.token ?? '', () => this.client.create(params));
  }

  addMember(orgId: bigint, account: Address): Promise<unknown> {
    return this.#translate(orgId, account, () => this.client.addMember(orgId, account));
  }

  removeMember(orgId: bigint, account: Address): Promise<unknown> {
    return this.#translate(orgId, account, () => this.client.removeMember(orgId, account));
  }

  addNode(orgId: bigint, node: Address): Promise<unknown> {
    return this.#translate(orgId, node, () => this.client.addNode(orgId, node));
  }

  removeNode(orgId: bigint, node: Address): Promise<unknown> {
    return this.#translate(orgId, node, () => this.client.removeNode(orgId, node));
  }

  /** Mints the organization's OrgToken to `to` (admin only); returns `to`'s balance after. */
  async mint(orgId: bigint, to: Address, amount: bigint): Promise<bigint> {
    await this.require(orgId);
    await this.#translate(orgId, to, () => this.client.mint(orgId, to, amount));
    return this.client.balance(orgId, to);
  }

  /** Moves the caller's organization tokens to `to`; returns the caller's balance after. */
  async transfer(orgId: bigint, to: Address, amount: bigint): Promise<bigint> {
    const self = this.#signer('transfer tokens');
    await this.require(orgId);
    const held = await this.client.balance(orgId, self);
    if (held < amount) {
      throw new OrgError(
        'INSUFFICIENT_BALANCE',
        `you hold ${held} of organization ${orgId}'s token, less than ${amount}`,
        'ask its admin to mint you some (dibs org token mint)',
      );
    }
    await this.#translate(orgId, to, () => this.client.transfer(orgId, to, amount));
    return this.client.balance(orgId, self);
  }

  /** A balance in the organization's token (default: the caller's). */
  async balance(orgId: bigint, account?: Address): Promise<bigint> {
    await this.require(orgId);
    const who = account ?? this.self;
    if (!who)
      throw new OrgError('INVALID_ADDRESS', 'no account given', 'give the address whose balance to read');
    return this.client.balance(orgId, who);
  }

  /** Sets a fleet configuration key (admin only); an empty value removes it. */
  async setEnv(orgId: bigint, key: string, value: string): Promise<void> {
    await this.require(orgId);
    await this.#translate(orgId, key, () => this.client.setEnv(orgId, key, value));
  }

  /** One fleet configuration value, or ENV_KEY_NOT_SET. */
  async getEnv(orgId: bigint, key: string): Promise<string> {
    await this.require(orgId);
    const value = await this.client.getEnv(orgId, key);
    if (value === undefined) {
      throw new OrgError(
        'ENV_KEY_NOT_SET',
        `${key} is not set in organization ${orgId}`,
        'see every key with dibs org env list',
      );
    }
    return value;
  }

  /** The whole fleet configuration, keys sorted. */
  async env(orgId: bigint): Promise<Record<string, string>> {
    await this.require(orgId);
    return Object.fromEntries(await this.client.env(orgId));
  }

  /** Services restricted to the organization: its network service and services for its members. */
  async services(orgId: bigint): Promise<OrgService[]> {
    await this.require(orgId);
    return organizationServices(this.#opts.clients, this.#opts.deployment, orgId);
  }

  /** Grants on the organization's services, newest first. */
  async grants(orgId: bigint): Promise<OrgGrant[]> {
    const services = await this.services(orgId);
    return organizationGrants(this.#opts.clients, this.#opts.deployment, services);
  }

  /** The token's symbol, decimals, supply and the caller's balance. */
  async tokenInfo(org: OrganizationView): Promise<OrgTokenInfo> {
    const read = <T>(functionName: string, args: readonly unknown[] = []) =>
      this.#opts.clients.publicClient.readContract({
        address: org.token,
        abi: orgTokenAbi,
        functionName,
        args,
      } as never) as Promise<T>;
    const self = this.self;
    const [symbol, decimals, totalSupply, balance] = await Promise.all([
      read<string>('symbol').catch(() => ''),
      read<number | bigint>('decimals').catch(() => 18),
      read<bigint>('totalSupply').catch(() => 0n),
      self ? read<bigint>('balanceOf', [self]).catch(() => 0n) : Promise.resolve(0n),
    ]);
    return {
      address: org.token,
      symbol: symbol.slice(0, 32),
      decimals: Number(decimals),
      totalSupply,
      balance,
    };
  }

  #signer(action: string): Address {
    const account = this.#opts.clients.account?.address;
    if (!account) {
      throw new OrgError(
        'INVALID_ADDRESS',
        `cannot ${action} without a wallet`,
        'unlock the wallet that signs',
      );
    }
    return account;
  }

  /** Runs a write; a contract's refusal or a bad entry becomes an OrgError. */
  async #translate<T>(orgId: bigint, subject: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const revert = err instanceof ContractRevertError && err.errorName ? REVERTS[err.errorName] : undefined;
      if (revert) {
        const [code, message, hint] = revert({
          orgId,
          subject,
          self: this.self ?? 'this wallet',
        });
        throw new OrgError(code, message, hint, { cause: err });
      }
      if (
        err instanceof ChainError &&
        (err.code === 'INVALID_ENV_KEY' || err.code === 'ENV_VALUE_TOO_LONG')
      ) {
        throw new OrgError(err.code, err.message, 'shorten the key or value', { cause: err });
      }
      if (err instanceof ChainError && err.code === 'ORGANIZATION_NOT_FOUND') {
        throw new OrgError('ORG_NOT_FOUND', `organization ${orgId} does not exist`, 'see dibs org list', {
          cause: err,
        });
      }
      throw err;
    }
  }
}
