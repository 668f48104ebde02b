import { accessGrantsAbi, organizationsAbi, registryAbi, tokenAbi } from '@dibs/contracts';
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  type Hex,
  hexToBytes,
} from 'viem';
import type { ChainClients } from './clients.ts';
import type { DeploymentAddresses } from './deployer.ts';

/** An identity from the Registry: the account's X25519 encryption key and when it was set. */
export interface Identity {
  encryptionKey: Uint8Array;
  registeredAt: bigint;
  updatedAt: bigint;
}

/** A node from the Registry. `roles` is the bitmask (1 bootstrap, 2 relay, 4 service host). */
export interface NodeRecord {
  address: Address;
  peerId: Uint8Array;
  roles: number;
  multiaddrs: string[];
  active: boolean;
}

/** A service from Services. */
export interface ServiceRecord {
  id: bigint;
  owner: Address;
  host: Address;
  serviceType: string;
  name: string;
  price: bigint;
  paymentToken: Address;
  grantDuration: bigint;
  policy: number;
  policyRef: bigint;
  active: boolean;
  /** Token-holders policy: least balance of the policy token, in base units (0 means 1). */
  tokenThreshold: bigint;
}

/** A grant from AccessGrants. */
export interface GrantRecord {
  id: bigint;
  grantee: Address;
  serviceId: bigint;
  issuedAt: bigint;
  expiresAt: bigint;
  revoked: boolean;
}

/** An organization from Organizations. */
export interface OrganizationRecord {
  id: bigint;
  name: string;
  networkLabel: string;
  admin: Address;
  token: Address;
}

/** The Registry's relay role bit. */
const RELAY_ROLE_BIT = 2;
/** Most relays {@link RegistryReader.getRelayList} returns. */
export const MAX_RELAY_LIST = 32;

const ZERO_KEY = `0x${'00'.repeat(32)}`;

/** True when `err` is a revert with the given custom error name. */
function isRevert(err: unknown, errorName: string): boolean {
  if (!(err instanceof BaseError)) return false;
  const reverted = err.walk(
    (e) => e instanceof ContractFunctionRevertedError,
  ) as ContractFunctionRevertedError | null;
  return reverted?.data?.errorName === errorName;
}

/** Typed reads of the DIBS contracts of one deployment. */
export class RegistryReader {
  readonly clients: ChainClients;
  readonly addresses: DeploymentAddresses;

  constructor(clients: ChainClients, addresses: DeploymentAddresses) {
    this.clients = clients;
    this.addresses = addresses;
  }

  /** The identity registered by `account`, or null if it has none. */
  async getIdentity(account: Address): Promise<Identity | null> {
    const [key, registeredAt, updatedAt] = await this.clients.publicClient.readContract({
      address: this.addresses.registry,
      abi: registryAbi,
      functionName: 'getIdentity',
      args: [account],
    });
    if (key === ZERO_KEY) return null;
    return { encryptionKey: hexToBytes(key), registeredAt, updatedAt };
  }

  /** The node registered at `address`, or null if it never registered. Removed nodes have active false. */
  async getNode(address: Address): Promise<NodeRecord | null> {
    const [peerId, roles, multiaddrs, active] = await this.clients.publicClient.readContract({
      address: this.addresses.registry,
      abi: registryAbi,
      functionName: 'getNode',
      args: [address],
    });
    if (peerId === '0x' && !active) return null;
    return { address, peerId: hexToBytes(peerId as Hex), roles, multiaddrs: [...multiaddrs], active };
  }

  /** Addresses of the nodes currently serving as bootstrap nodes (approved, registered, active). */
  async getBootstrapNodes(): Promise<Address[]> {
    const nodes = await this.clients.publicClient.readContract({
      address: this.addresses.registry,
      abi: registryAbi,
      functionName: 'bootstrapNodes',
    });
    return [...nodes];
  }

  /** The bootstrap nodes with their PeerIds and multiaddrs: what a joining node dials. */
  async getBootstrapList(): Promise<NodeRecord[]> {
    const nodes = await this.getBootstrapNodes();
    const records = await Promise.all(nodes.map((n) => this.getNode(n)));
    return records.filter((r): r is NodeRecord => r?.active === true);
  }

  /**
   * The active nodes registered with the relay role (bit 2), newest registration first, at most
   * `limit`: read from the Registry's NodeRegistered/NodeUpdated events since `fromBlock`, then
   * each node's current entry.
   */
  async getRelayList(fromBlock = 0n, limit = MAX_RELAY_LIST): Promise<NodeRecord[]> {
    const logs = await this.clients.publicClient.getContractEvents({
      address: this.addresses.registry,
      abi: registryAbi,
      fromBlock,
      toBlock: 'latest',
    });
    const seen: Address[] = [];
    for (const l of [...logs].reverse()) {
      const name = (l as { eventName?: string }).eventName;
      if (name !== 'NodeRegistered' && name !== 'NodeUpdated') continue;
      const node = (l as { args?: { node?: Address } }).args?.node;
      if (!node || seen.some((a) => a.toLowerCase() === node.toLowerCase())) continue;
      seen.push(node);
      if (seen.length >= limit * 4) break;
    }
    const records = await Promise.all(seen.map((n) => this.getNode(n)));
    return records
      .filter((r): r is NodeRecord => r?.active === true && (r.roles & RELAY_ROLE_BIT) !== 0)
      .slice(0, limit);
  }

  /** The service with this id, or null if none exists. */
  async getService(id: bigint): Promise<ServiceRecord | null> {
    try {
      const s = await this.clients.publicClient.readContract({
        address: this.addresses.services,
        abi: accessGrantsAbi,
        functionName: 'getService',
        args: [id],
      });
      return { id, ...s, policy: s.policy };
    } catch (err) {
      if (isRevert(err, 'ServiceNotFound')) return null;
      throw err;
    }
  }

  /**
   * The accounts on a service's allowlist now: its AllowlistChanged events since `fromBlock` folded in
   * order, then each candidate checked with `isAllowed` (the chain has the last word), at most `limit`.
   */
  async getAllowlist(serviceId: bigint, fromBlock = 0n, limit = 1024): Promise<Address[]> {
    const logs = await this.clients.publicClient.getContractEvents({
      address: this.addresses.services,
      abi: accessGrantsAbi,
      eventName: 'AllowlistChanged',
      args: { serviceId },
      fromBlock,
      toBlock: 'latest',
    });
    const state = new Map<string, Address>();
    for (const l of logs) {
      const { account, allowed } = (l as { args: { account?: Address; allowed?: boolean } }).args;
      if (!account) continue;
      if (allowed) state.set(account.toLowerCase(), account);
      else state.delete(account.toLowerCase());
    }
    const candidates = [...state.values()].slice(0, limit);
    const allowed = await Promise.all(
      candidates.map((a) =>
        this.clients.publicClient.readContract({
          address: this.addresses.services,
          abi: accessGrantsAbi,
          functionName: 'isAllowed',
          args: [serviceId, a],
        }),
      ),
    );
    return candidates.filter((_, i) => allowed[i]);
  }

  /**
   * Every node registered in the Registry and still active, in order of first registration, at most
   * `limit`: addresses from NodeRegistered events since `fromBlock`, then each node's current entry.
   */
  async getRegisteredNodes(fromBlock = 0n, limit = 256): Promise<NodeRecord[]> {
    const logs = await this.clients.publicClient.getContractEvents({
      address: this.addresses.registry,
      abi: registryAbi,
      eventName: 'NodeRegistered',
      fromBlock,
      toBlock: 'latest',
    });
    const seen = new Map<string, Address>();
    for (const l of logs) {
      const node = (l as { args?: { node?: Address } }).args?.node;
      if (node && !seen.has(node.toLowerCase())) seen.set(node.toLowerCase(), node);
      if (seen.size >= limit) break;
    }
    const records = await Promise.all([...seen.values()].map((n) => this.getNode(n)));
    return records.filter((r): r is NodeRecord => r?.active === true);
  }

  /** How many services were ever published (ids run from 1 to this). */
  async serviceCount(): Promise<bigint> {
    return this.clients.publicClient.readContract({
      address: this.addresses.services,
      abi: accessGrantsAbi,
      functionName: 'serviceCount',
    });
  }

  /** Whether `account` satisfies the service's access policy right now (or at `blockNumber`). */
  async meetsPolicy(serviceId: bigint, account: Address, blockNumber?: bigint): Promise<boolean> {
    return this.clients.publicClient.readContract({
      address: this.addresses.services,
      abi: accessGrantsAbi,
      functionName: 'meetsPolicy',
      args: [serviceId, account],
      ...(blockNumber !== undefined ? { blockNumber } : {}),
    });
  }

  /** The grant with this id, or null if none exists. */
  async getGrant(id: bigint): Promise<GrantRecord | null> {
    try {
      const [grantee, serviceId, issuedAt, expiresAt, revoked] = await this.clients.publicClient.readContract(
        {
          address: this.addresses.accessGrants,
          abi: accessGrantsAbi,
          functionName: 'getGrant',
          args: [id],
        },
      );
      return { id, grantee, serviceId, issuedAt, expiresAt, revoked };
    } catch (err) {
      if (isRevert(err, 'GrantNotFound')) return null;
      throw err;
    }
  }

  /** Whether the grant exists, is not revoked or expired, and its service is still active. */
  async isGrantValid(id: bigint): Promise<boolean> {
    return this.clients.publicClient.readContract({
      address: this.addresses.accessGrants,
      abi: accessGrantsAbi,
      functionName: 'isValid',
      args: [id],
    });
  }

  /** The organization with this id, or null if none exists. */
  async getOrganization(id: bigint): Promise<OrganizationRecord | null> {
    try {
      const [name, networkLabel, admin, token] = await this.clients.publicClient.readContract({
        address: this.addresses.organizations,
        abi: organizationsAbi,
        functionName: 'getOrganization',
        args: [id],
      });
      return { id, name, networkLabel, admin, token };
    } catch (err) {
      if (isRevert(err, 'OrganizationNotFound')) return null;
      throw err;
    }
  }

  /** Whether `account` is a member of the organization. */
  async isMember(orgId: bigint, account: Address): Promise<boolean> {
    return this.clients.publicClient.readContract({
      address: this.addresses.organizations,
      abi: organizationsAbi,
      functionName: 'isMember',
      args: [orgId, account],
    });
  }

  /** Whether `node` is one of the organization's nodes. */
  async isOrganizationNode(orgId: bigint, node: Address): Promise<boolean> {
    return this.clients.publicClient.readContract({
      address: this.addresses.organizations,
      abi: organizationsAbi,
      functionName: 'isNode',
      args: [orgId, node],
    });
  }

  /**
   * Decimals an ERC-20 token shows its amounts with (`decimals()`, optional in ERC-20): 0 when the
   * token does not answer, so amounts are then whole base units.
   */
  async tokenDecimals(token: Address = this.addresses.token): Promise<number> {
    try {
      return await this.clients.publicClient.readContract({
        address: token,
        abi: tokenAbi,
        functionName: 'decimals',
      });
    } catch (err) {
      const refused =
        err instanceof BaseError &&
        err.walk(
          (e) => e instanceof ContractFunctionRevertedError || e instanceof ContractFunctionZeroDataError,
        );
      if (refused) return 0;
      throw err;
    }
  }

  /** Balance of `account` in an ERC-20 token (default: the DIBS token). */
  async tokenBalance(account: Address, token: Address = this.addresses.token): Promise<bigint> {
    return this.clients.publicClient.readContract({
      address: token,
      abi: tokenAbi,
      functionName: 'balanceOf',
      args: [account],
    });
  }
}
