import { accessGrantsAbi, organizationsAbi, registryAbi, tokenAbi } from '@dibs/contracts';
import {
  type Abi,
  type Address,
  bytesToHex,
  type Hex,
  isAddressEqual,
  parseEventLogs,
  type TransactionReceipt,
  zeroAddress,
} from 'viem';
import { ChainError, NoAccountError } from './errors.ts';
import { RegistryReader } from './registry-reader.ts';
import { sendContractWrite } from './tx.ts';

/** What `publishService` needs; omitted fields mean free, public, hosted by no single node. */
export interface PublishServiceParams {
  serviceType: string;
  name: string;
  grantDuration: bigint;
  host?: Address;
  price?: bigint;
  paymentToken?: Address;
  policy?: number;
  policyRef?: bigint;
  /** Token-holders policy: least balance of the policy token, in base units (0 or omitted: 1). */
  tokenThreshold?: bigint;
}

/** A grant obtained by `requestAccess`. */
export interface IssuedGrant {
  grantId: bigint;
  serviceId: bigint;
  grantee: Address;
  issuedAt: bigint;
  expiresAt: bigint;
  transactionHash: Hex;
  blockNumber: bigint;
}

/** Typed writes to the DIBS contracts; each waits for its receipt and throws ContractRevertError on revert. */
export class RegistryWriter extends RegistryReader {
  /** The signing account's address. */
  get address(): Address {
    const account = this.clients.account;
    if (!account) throw new NoAccountError('sign transactions');
    return account.address;
  }

  #write(contract: string, address: Address, abi: Abi, functionName: string, args: readonly unknown[]) {
    return sendContractWrite(this.clients, { contract, address, abi, functionName, args });
  }

  /** Registers the caller's identity with its raw 32-byte X25519 public key. */
  async registerIdentity(encryptionKey: Uint8Array): Promise<TransactionReceipt> {
    return this.#write('Registry', this.addresses.registry, registryAbi, 'registerIdentity', [
      key32(encryptionKey),
    ]);
  }

  /** Replaces the caller's encryption key. */
  async updateEncryptionKey(encryptionKey: Uint8Array): Promise<TransactionReceipt> {
    return this.#write('Registry', this.addresses.registry, registryAbi, 'updateEncryptionKey', [
      key32(encryptionKey),
    ]);
  }

  /** Registers the caller as a node with its libp2p PeerId bytes, roles bitmask and multiaddrs. */
  registerNode(params: {
    peerId: Uint8Array;
    roles: number;
    multiaddrs: string[];
  }): Promise<TransactionReceipt> {
    return this.#write('Registry', this.addresses.registry, registryAbi, 'registerNode', [
      bytesToHex(params.peerId),
      params.roles,
      params.multiaddrs,
    ]);
  }

  /** Changes the caller's node roles and multiaddrs. */
  updateNode(params: { roles: number; multiaddrs: string[] }): Promise<TransactionReceipt> {
    return this.#write('Registry', this.addresses.registry, registryAbi, 'updateNode', [
      params.roles,
      params.multiaddrs,
    ]);
  }

  /** Deregisters the caller's node. */
  removeNode(): Promise<TransactionReceipt> {
    return this.#write('Registry', this.addresses.registry, registryAbi, 'removeNode', []);
  }

  /** Approves or withdraws a bootstrap node (network operator only). */
  setBootstrap(node: Address, enabled: boolean): Promise<TransactionReceipt> {
    return this.#write('Registry', this.addresses.registry, registryAbi, 'setBootstrap', [node, enabled]);
  }

  /** Publishes a service owned by the caller and returns its id. */
  async publishService(params: PublishServiceParams): Promise<bigint> {
    const receipt = await this.#write('Services', this.addresses.services, accessGrantsAbi, 'publish', [
      params.serviceType,
      params.host ?? zeroAddress,
      params.price ?? 0n,
      params.paymentToken ?? (params.price ? this.addresses.token : zeroAddress),
      params.grantDuration,
      params.policy ?? 0,
      params.policyRef ?? 0n,
      params.name,
      ...(params.tokenThreshold ? [params.tokenThreshold] : []),
    ]);
    const [event] = parseEventLogs({
      abi: accessGrantsAbi,
      logs: receipt.logs,
      eventName: 'ServicePublished',
    }).filter((l) => isAddressEqual(l.address, this.addresses.services));
    if (!event) throw missingEvent('ServicePublished', receipt.transactionHash);
    return event.args.serviceId;
  }

  /** Retires one of the caller's services. */
  retireService(serviceId: bigint): Promise<TransactionReceipt> {
    return this.#write('Services', this.addresses.services, accessGrantsAbi, 'retire', [serviceId]);
  }

  /**
   * Changes one of the caller's services: price, payment token, grant duration and policy (with its
   * reference: an organization id, or a token address for token-holder services). Grants already
   * issued keep their expiry; holders who no longer meet the policy lose access at the next poll.
   */
  updateService(
    serviceId: bigint,
    terms: {
      price: bigint;
      paymentToken: Address;
      grantDuration: bigint;
      policy: number;
      policyRef: bigint;
    },
  ): Promise<TransactionReceipt> {
    return this.#write('Services', this.addresses.services, accessGrantsAbi, 'update', [
      serviceId,
      terms.price,
      terms.paymentToken,
      terms.grantDuration,
      terms.policy,
      terms.policyRef,
    ]);
  }

  /**
   * Sets the least balance of its policy token (base units; 0 means 1) a token-holders service asks
   * of its holders. Holders below it lose access at the next poll.
   */
  setTokenThreshold(serviceId: bigint, threshold: bigint): Promise<TransactionReceipt> {
    return this.#write('Services', this.addresses.services, accessGrantsAbi, 'setTokenThreshold', [
      serviceId,
      threshold,
    ]);
  }

  /** Adds accounts to (or removes them from) a service's allowlist. */
  setAllowlist(serviceId: bigint, accounts: Address[], allowed: boolean): Promise<TransactionReceipt> {
    return this.#write('Services', this.addresses.services, accessGrantsAbi, 'setAllowlist', [
      serviceId,
      accounts,
      allowed,
    ]);
  }

  /**
   * Requests access to a service: approves the price to AccessGrants when the allowance is short,
   * then requests, and returns the grant from the GrantIssued log.
   */
  async requestAccess(serviceId: bigint): Promise<IssuedGrant> {
    const service = await this.getService(serviceId);
    if (service && service.price > 0n && service.paymentToken !== zeroAddress) {
      const allowance = await this.clients.publicClient.readContract({
        address: service.paymentToken,
        abi: tokenAbi,
        functionName: 'allowance',
        args: [this.address, this.addresses.accessGrants],
      });
      if (allowance < service.price) {
        await this.#write('Token', service.paymentToken, tokenAbi, 'approve', [
          this.addresses.accessGrants,
          service.price,
        ]);
      }
    }
    const receipt = await this.#write(
      'AccessGrants',
      this.addresses.accessGrants,
      accessGrantsAbi,
      'request',
      [serviceId],
    );
    const [event] = parseEventLogs({
      abi: accessGrantsAbi,
      logs: receipt.logs,
      eventName: 'GrantIssued',
    }).filter((l) => isAddressEqual(l.address, this.addresses.accessGrants));
    if (!event) throw missingEvent('GrantIssued', receipt.transactionHash);
    return { ...event.args, transactionHash: receipt.transactionHash, blockNumber: receipt.blockNumber };
  }

  /** Revokes a grant (as the service owner, or as the grantee giving it up). */
  revokeGrant(grantId: bigint): Promise<TransactionReceipt> {
    return this.#write('AccessGrants', this.addresses.accessGrants, accessGrantsAbi, 'revoke', [grantId]);
  }

  /** Mints DIBS tokens (token owner only; the devnet's payment token). */
  mintToken(to: Address, amount: bigint): Promise<TransactionReceipt> {
    return this.#write('Token', this.addresses.token, tokenAbi, 'mint', [to, amount]);
  }

  /** Creates an organization administered by the caller; a zero token makes the contract deploy one. */
  async createOrganization(params: { name: string; networkLabel: string; token?: Address }): Promise<bigint> {
    const receipt = await this.#write(
      'Organizations',
      this.addresses.organizations,
      organizationsAbi,
      'createOrganization',
      [params.name, params.networkLabel, params.token ?? zeroAddress],
    );
    const [event] = parseEventLogs({
      abi: organizationsAbi,
      logs: receipt.logs,
      eventName: 'OrganizationCreated',
    }).filter((l) => isAddressEqual(l.address, this.addresses.organizations));
    if (!event) throw missingEvent('OrganizationCreated', receipt.transactionHash);
    return event.args.orgId;
  }

  /** Adds a member to an organization (admin only). */
  addMember(orgId: bigint, account: Address): Promise<TransactionReceipt> {
    return this.#write('Organizations', this.addresses.organizations, organizationsAbi, 'addMember', [
      orgId,
      account,
    ]);
  }

  /** Adds a node to an organization (admin only). */
  addOrganizationNode(orgId: bigint, node: Address): Promise<TransactionReceipt> {
    return this.#write('Organizations', this.addresses.organizations, organizationsAbi, 'addNode', [
      orgId,
      node,
    ]);
  }
}

function key32(key: Uint8Array): Hex {
  if (key.length !== 32) {
    throw new ChainError(
      'INVALID_ENCRYPTION_KEY',
      `an encryption key must be a raw 32-byte X25519 public key, got ${key.length} bytes`,
    );
  }
  return bytesToHex(key);
}

function missingEvent(name: string, hash: Hex): ChainError {
  return new ChainError(
    'MISSING_EVENT',
    `transaction ${hash} succeeded but emitted no ${name} event; the contract address may not be a DIBS contract`,
  );
}
