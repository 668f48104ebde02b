/**
 * Authorization from the chain: a wallet may log in to an application only while it holds a valid
 * grant on the application's `login` service and still meets that service's policy. Answers are
 * cached per (service, wallet) and dropped by the chain events that can change them (revocation,
 * retirement, policy and allowlist changes, organization membership), which a watcher applies every
 * poll. When the watcher has not caught up within the revocation bound, the cache is not trusted and
 * the chain is read again: a revocation never passes refresh or userinfo for longer than the bound.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ChainClients,
  type DecodedEvent,
  type Deployment,
  EventWatcher,
  RegistryReader,
} from '@dibs/chain';
import { accessGrantsAbi, organizationsAbi } from '@dibs/contracts';
import { formatDid } from '@dibs/core';
import type { Store } from '@dibs/store';
import { type Abi, type Address, getAddress, type PublicClient } from 'viem';
import {
  DEFAULT_REVOCATION_BOUND_MS,
  DEFAULT_WATCH_INTERVAL_MS,
  LOGIN_SERVICE_TYPE,
  LOGIN_WATCHER_NAME,
  MAX_CACHED_AUTHORIZATIONS,
} from './constants.ts';
import { LoginError } from './errors.ts';

/** What a successful authorization grants: the grant, its expiry and the wallet's groups. */
export interface LoginAuthorization {
  serviceId: bigint;
  address: Address;
  grantId: bigint;
  /** Grant expiry, Unix ms: no session or token outlives it. */
  expiresAt: number;
  /** Names of the organizations the wallet is a member of. */
  groups: string[];
  organizations: Array<{ id: string; name: string }>;
}

/** The login service an OIDC client is bound to. */
export interface LoginService {
  serviceId: bigint;
  name: string;
  owner: Address;
  active: boolean;
  policy: number;
  price: bigint;
}

/** Options of {@link LoginAuthorizer}. */
export interface LoginAuthorizerOptions {
  clients: Pick<ChainClients, 'publicClient'>;
  deployment: Deployment;
  store: Store;
  revocationBoundMs?: number;
  pollIntervalMs?: number;
  now?: () => number;
  onError?: (err: Error) => void;
}

interface CacheEntry {
  value: LoginAuthorization;
  checkedAt: number;
}

/** Decides, from the chain, whether a wallet may log in to a login service. */
export class LoginAuthorizer {
  readonly revocationBoundMs: number;
  readonly #o: LoginAuthorizerOptions;
  readonly #reader: RegistryReader;
  readonly #client: PublicClient;
  readonly #watcher: EventWatcher;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #services = new Map<bigint, LoginService>();
  #syncedAt = Number.NEGATIVE_INFINITY;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: LoginAuthorizerOptions) {
    this.#o = options;
    this.revocationBoundMs = options.revocationBoundMs ?? DEFAULT_REVOCATION_BOUND_MS;
    this.#now = options.now ?? Date.now;
    this.#client = options.clients.publicClient as PublicClient;
    this.#reader = new RegistryReader(options.clients as ChainClients, options.deployment);
    const d = options.deployment;
    this.#watcher = new EventWatcher({
      name: LOGIN_WATCHER_NAME,
      store: options.store,
      publicClient: this.#client,
      contracts: [
        { name: 'accessGrants', address: d.accessGrants, abi: accessGrantsAbi as Abi },
        { name: 'organizations', address: d.organizations, abi: organizationsAbi as Abi },
      ],
      fromBlock: d.deployedAtBlock,
      handler: (events) => this.#apply(events),
      onRewind: () => this.#clear(),
    });
  }

  /** Catches up with the chain, then follows it in the background. */
  async start(): Promise<void> {
    await this.sync();
    const abort = new AbortController();
    this.#abort = abort;
    const interval = this.#o.pollIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
    this.#loop = (async () => {
      while (!abort.signal.aborted) {
        try {
          await this.sync();
        } catch (err) {
          this.#o.onError?.(err as Error);
        }
        await delay(interval, undefined, { signal: abort.signal }).catch(() => {});
      }
    })();
  }

  /** Applies every event up to the chain head. */
  async sync(): Promise<void> {
    const started = this.#now();
    await this.#watcher.pollOnce();
    this.#syncedAt = started;
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  /** The login service `serviceId`; throws when it does not exist or is not of type `login`. */
  async service(serviceId: bigint): Promise<LoginService> {
    const cached = this.#services.get(serviceId);
    if (cached && this.#fresh()) return cached;
    const s = await this.#read(() => this.#reader.getService(serviceId));
    if (!s) {
      throw new LoginError(
        'UNKNOWN_SERVICE',
        `there is no service ${serviceId} on chain`,
        'check the service id',
      );
    }
    if (s.serviceType !== LOGIN_SERVICE_TYPE) {
      throw new LoginError(
        'NOT_A_LOGIN_SERVICE',
        `service ${serviceId} is a "${s.serviceType}" service, not "${LOGIN_SERVICE_TYPE}"`,
        `publish the application as a service of type ${LOGIN_SERVICE_TYPE}`,
      );
    }
    const service: LoginService = {
      serviceId,
      name: s.name,
      owner: s.owner,
      active: s.active,
      policy: s.policy,
      price: s.price,
    };
    this.#services.set(serviceId, service);
    return service;
  }

  /** The wallet's authorization for `serviceId`, or null when it holds no valid grant there. */
  async authorize(serviceId: bigint, account: string): Promise<LoginAuthorization | null> {
    const address = getAddress(account);
    const key = `${serviceId}:${address}`;
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit && hit.value.expiresAt > now && this.#fresh()) return hit.value;
    this.#cache.delete(key);
    const value = await this.#read(() => this.#lookup(serviceId, address));
    if (value) {
      while (this.#cache.size >= MAX_CACHED_AUTHORIZATIONS) {
        this.#cache.delete(this.#cache.keys().next().value as string);
      }
      this.#cache.set(key, { value, checkedAt: now });
    }
    return value;
  }

  /** Whether the service's policy admits `account` now (it may then request a grant during login). */
  async meetsPolicy(serviceId: bigint, account: string): Promise<boolean> {
    return this.#read(() => this.#reader.meetsPolicy(serviceId, getAddress(account)));
  }

  /** The cached grant expiry (Unix ms) of a wallet on a service, when known. */
  grantExpiry(serviceId: bigint, account: string): number | undefined {
    try {
      return this.#cache.get(`${serviceId}:${getAddress(account)}`)?.value.expiresAt;
    } catch {
      return undefined;
    }
  }

  /** `sub` and `did` of an account on this chain. */
  subject(account: string): { sub: string; did: string } {
    const address = getAddress(account);
    const chainId = this.#o.deployment.chainId;
    return { sub: `eip155:${chainId}:${address}`, did: formatDid(address, chainId) };
  }

  /** Cached answers can be trusted only while the watcher is within the revocation bound. */
  #fresh(): boolean {
    return this.#now() - this.#syncedAt <= this.revocationBoundMs;
  }

  async #read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof LoginError) throw err;
      throw new LoginError(
        'CHAIN_UNAVAILABLE',
        `cannot read the chain: ${(err as Error).message}`,
        'check the node reaches its chain RPC, then retry',
        { cause: err },
      );
    }
  }

  async #lookup(serviceId: bigint, address: Address): Promise<LoginAuthorization | null> {
    const d = this.#o.deployment;
    const service = await this.service(serviceId);
    if (!service.active) return null;
    const issued = await this.#client.getContractEvents({
      address: d.accessGrants,
      abi: accessGrantsAbi,
      eventName: 'GrantIssued',
      args: { serviceId, grantee: address },
      fromBlock: d.deployedAtBlock,
      strict: true,
    });
    const now = this.#now();
    let best: { grantId: bigint; expiresAt: number } | undefined;
    // Newest first: the latest grant usually lasts longest.
    for (const log of issued.reverse()) {
      const grantId = log.args.grantId;
      const grant = await this.#reader.getGrant(grantId);
      if (!grant || grant.revoked || grant.grantee !== address) continue;
      const expiresAt = Number(grant.expiresAt) * 1000;
      if (expiresAt <= now) continue;
      if (!best || expiresAt > best.expiresAt) best = { grantId, expiresAt };
      break;
    }
    if (!best) return null;
    if (!(await this.#reader.meetsPolicy(serviceId, address))) return null;
    const organizations = await this.#organizations(address);
    return {
      serviceId,
      address,
      grantId: best.grantId,
      expiresAt: best.expiresAt,
      groups: organizations.map((o) => o.name),
      organizations,
    };
  }

  async #organizations(address: Address): Promise<Array<{ id: string; name: string }>> {
    const d = this.#o.deployment;
    const added = await this.#client.getContractEvents({
      address: d.organizations,
      abi: organizationsAbi,
      eventName: 'MemberAdded',
      args: { account: address },
      fromBlock: d.deployedAtBlock,
      strict: true,
    });
    const ids = [...new Set(added.map((l) => l.args.orgId))];
    const out: Array<{ id: string; name: string }> = [];
    for (const id of ids) {
      if (!(await this.#reader.isMember(id, address))) continue;
      const org = await this.#reader.getOrganization(id);
      if (org) out.push({ id: String(id), name: org.name });
    }
    return out;
  }

  #apply(events: DecodedEvent[]): void {
    for (const e of events) {
      const a = e.args;
      switch (e.eventName) {
        case 'GrantRevoked':
        case 'ServiceRetired':
        case 'ServiceUpdated':
          this.#services.delete(a.serviceId as bigint);
          this.#dropService(a.serviceId as bigint);
          break;
        case 'AllowlistChanged':
          this.#cache.delete(`${a.serviceId}:${getAddress(a.account as string)}`);
          break;
        case 'MemberAdded':
        case 'MemberRemoved':
          this.#dropAccount(getAddress(a.account as string));
          break;
        default:
          break;
      }
    }
  }

  #dropService(serviceId: bigint): void {
    const prefix = `${serviceId}:`;
    for (const key of this.#cache.keys()) if (key.startsWith(prefix)) this.#cache.delete(key);
  }

  #dropAccount(address: Address): void {
    const suffix = `:${address}`;
    for (const key of this.#cache.keys()) if (key.endsWith(suffix)) this.#cache.delete(key);
  }

  #clear(): void {
    this.#cache.clear();
    this.#services.clear();
  }
}
