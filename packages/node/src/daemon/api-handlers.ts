/**
 * The management API over the real node: identity and balance from the wallet and chain, peers from
 * the libp2p host and liveness, services, connections, proxies and sessions from the services
 * runtime, grants from the access client and the chain mirror, logs from the logger's ring.
 */
import { parseOrgId } from '../orgs/index.ts';
import { readFileSync } from 'node:fs';
import { tokenAbi } from '@dibs/contracts';
import { addressFromPeerId, peerIdFromWallet, type Wallet } from '@dibs/core';
import type { NodeMetrics } from '@dibs/observe';
import type { AuditLog, Store } from '@dibs/store';
import type { Address } from 'viem';
import { AccessClient } from '../access/access-client.ts';
import type {
  Balance,
  ChainStatus,
  DibsApiHandlers,
  Grant,
  Identity,
  Peer,
  ServicePolicyOut,
  SocksProxy,
  Service,
  Session,
  ConnectListener,
} from '../api/dibs-api.ts';
import { ApiError } from '../api/errors.ts';
import { ROLE_BOOTSTRAP, ROLE_RELAY, ROLE_SERVICE_HOST } from '../p2p/constants.ts';
import { changeAllowlist, readServicePolicy, updateServicePolicy } from '../services/policy.ts';
import type { ConnectionView, ServicesRuntime, ServiceView } from '../services/types.ts';
import { mapErrors, noNetwork } from './api-errors.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import { API_NODE_ROLES_TTL_MS, API_PEER_LOOKUP_LIMIT, POLICY_ALLOWLIST_LIMIT } from './api-constants.ts';
import { createFleet, NodeLabels } from './fleet.ts';
import type { LogRing } from './log.ts';
import type { NetworkRuntime } from './network.ts';
import type { ReadyReport } from './operations.ts';

/** What the handlers read from the running daemon. */
export interface ApiHandlerDeps {
  wallet: Wallet;
  did: string;
  chain: ChainRuntime;
  store: Store;
  /** The network part; absent when the node runs without p2p. */
  network: NetworkRuntime | undefined;
  /** The services part (publish, connect, proxies, sessions), when the network runs it. */
  services: () => ServicesRuntime | undefined;
  logs: LogRing;
  startedAt: number;
  /** Metrics and readiness (GET /metrics, GET /readyz). */
  operations: { metrics: NodeMetrics; ready(): Promise<ReadyReport> };
  /** The audit trail (GET /api/v1/audit). */
  audit: AuditLog;
  /** Tells UI clients to reload a list (the `changed` event). */
  changed?: (resource: 'services' | 'grants' | 'sessions' | 'proxies' | 'balance' | 'fleet') => void;
}

/** The node package's version, shown on the dashboard. */
const VERSION = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version.slice(0, 64) : 'unknown';
  } catch {
    return 'unknown';
  }
})();

/** Implements every v1 route over the running daemon's parts. */
export function createApiHandlers(deps: ApiHandlerDeps): DibsApiHandlers {
  const { wallet, chain, store, network } = deps;
  const me = wallet.address.toLowerCase();
  const access = new AccessClient({
    store,
    registry: chain.registry,
    wallet,
    chainId: chain.deployment.chainId,
  });
  const changed = deps.changed ?? (() => {});
  const roles = new Map<string, { roles: number; at: number }>();
  let tokenMeta: { symbol: string; decimals: number } | undefined;
  const labels = new NodeLabels(store);
  const fleet = createFleet({ chain, network, self: wallet.address, labels });

  /** Policy reads and changes go through the services library, signed by this node's wallet. */
  const directory = { registry: chain.registry, self: wallet.address as Address };
  const policyOf = async (serviceId: bigint): Promise<ServicePolicyOut> => {
    const p = await mapErrors(() =>
      readServicePolicy(directory, serviceId, chain.deployment.deployedAtBlock),
    );
    return {
      serviceId: p.serviceId.toString(),
      name: p.name.slice(0, 64),
      policy: p.policy,
      organizationId: p.organizationId?.toString() ?? null,
      holderToken: p.holderToken,
      holderThreshold: p.holderThreshold,
      holderThresholdBaseUnits: p.holderThresholdBaseUnits?.toString() ?? null,
      holderTokenDecimals: p.holderTokenDecimals,
      price: p.price.toString(),
      paymentToken: p.paymentToken,
      grantDurationSeconds: Number(p.grantDurationSeconds),
      allowlist: p.allowlist.slice(0, POLICY_ALLOWLIST_LIMIT),
    };
  };

  const requireNetwork = (what: string): NetworkRuntime => {
    if (!network) throw noNetwork(what);
    return network;
  };
  const requireServices = (what: string): ServicesRuntime => {
    requireNetwork(what);
    const services = deps.services();
    if (!services) {
      throw new ApiError(
        503,
        'NO_SERVICES',
        `${what} needs the services runtime, which this node has not started; restart the node with the p2p network`,
      );
    }
    return services;
  };
  const parseId = (text: string, what: string): bigint => {
    if (!/^[1-9]\d{0,76}$/.test(text)) {
      throw new ApiError(400, 'INVALID_PARAMS', `${what} "${text}" is not a positive decimal integer`);
    }
    return BigInt(text);
  };

  /** Role bits of a node from the Registry, cached because peers are listed every few seconds. */
  const rolesOf = async (address: string): Promise<number> => {
    const hit = roles.get(address);
    if (hit && Date.now() - hit.at < API_NODE_ROLES_TTL_MS) return hit.roles;
    let bits = 0;
    try {
      const node = await chain.registry.getNode(address as Address);
      bits = node?.active ? node.roles : 0;
    } catch {
      return hit?.roles ?? 0;
    }
    roles.set(address, { roles: bits, at: Date.now() });
    return bits;
  };

  const serviceOut = (v: ServiceView, connections: ConnectionView[]): Service => {
    const conn = connections.find((c) => c.serviceId === v.id);
    return {
      id: v.id.toString(),
      name: v.name.slice(0, 64),
      type: v.type.slice(0, 32),
      owner: v.owner,
      own: v.own,
      host: v.hostPeerId ?? null,
      target: v.own ? (v.target ?? null) : null,
      price: v.price.toString(),
      token: v.token ?? null,
      policy: v.policy,
      active: v.active,
      reachable: v.active && (v.own || v.hostPeerId !== undefined),
      connection: conn ? { id: conn.id, localAddress: conn.localAddress } : null,
    };
  };

  return {
    identity(): Identity {
      return {
        address: wallet.address,
        did: deps.did,
        peerId: network?.host.peerId.toString() ?? addressPeerId(wallet),
        version: VERSION,
        startedAt: deps.startedAt,
        listenAddresses: network ? network.host.multiaddrs().map((a) => a.toString()) : [],
      };
    },

    async chain(): Promise<ChainStatus> {
      const d = chain.deployment;
      const contracts = [
        { name: 'token', address: d.token },
        { name: 'registry', address: d.registry },
        { name: 'services', address: d.services },
        { name: 'accessGrants', address: d.accessGrants },
        { name: 'organizations', address: d.organizations },
      ];
      const t = network?.status().chainTrust;
      const trust = t && {
        mode: t.mode,
        checkpoint: t.checkpoint
          ? {
              number: t.checkpoint.number,
              blockHash: t.checkpoint.blockHash,
              stateRoot: t.checkpoint.stateRoot,
            }
          : null,
        signers: t.signers,
        nodeSet: t.nodeSet ?? [],
        required: t.required ?? 0,
        lastRefusal: t.lastRefusal?.slice(0, 1000) ?? null,
        refusedCount: t.refusedCount,
        refusedAnswers: t.refusedAnswers.map((r) => ({
          ...r,
          what: r.what.slice(0, 200),
          reason: r.reason.slice(0, 1000),
        })),
      };
      let head: { number: bigint; timestamp: bigint } | undefined;
      try {
        head = await chain.clients.publicClient.getBlock({ blockTag: 'latest' });
      } catch {
        head = undefined;
      }
      return {
        rpcUrl: chain.clients.rpcUrl,
        chainId: d.chainId,
        embedded: chain.supervisor !== undefined,
        reachable: head !== undefined,
        headBlock: head ? Number(head.number) : null,
        headTime: head ? Number(head.timestamp) : null,
        contracts,
        view: network ? chainViewStatus(network) : null,
        ...(trust ? { trust } : {}),
      };
    },

    async balance(): Promise<Balance> {
      const token = chain.deployment.token;
      try {
        const client = chain.clients.publicClient;
        if (!tokenMeta) {
          const [symbol, decimals] = await Promise.all([
            client.readContract({ address: token, abi: tokenAbi, functionName: 'symbol' }),
            client.readContract({ address: token, abi: tokenAbi, functionName: 'decimals' }),
          ]);
          tokenMeta = { symbol: String(symbol).slice(0, 32), decimals: Number(decimals) };
        }
        const [native, held] = await Promise.all([
          client.getBalance({ address: wallet.address as Address }),
          chain.registry.tokenBalance(wallet.address as Address, token),
        ]);
        return {
          address: wallet.address,
          native: native.toString(),
          nativeSymbol: client.chain?.nativeCurrency.symbol ?? 'ETH',
          token: { address: token, ...tokenMeta, balance: held.toString() },
        };
      } catch (err) {
        throw new ApiError(
          502,
          'CHAIN_UNREACHABLE',
          `could not read the balance from the chain at ${chain.clients.rpcUrl}: ${(err as Error).message.split('\n')[0]}; check that the chain is running`,
          { cause: err },
        );
      }
    },

    async peers(): Promise<Peer[]> {
      const net = requireNetwork('the peer list');
      const status = net.status();
      const out: Peer[] = [];
      const seen = new Set<string>();
      const byPeer = new Map<string, ReturnType<typeof net.host.libp2p.getConnections>>();
      for (const c of net.host.libp2p.getConnections()) {
        const key = c.remotePeer.toString();
        byPeer.set(key, [...(byPeer.get(key) ?? []), c]);
      }
      for (const p of status.peers.slice(0, API_PEER_LOOKUP_LIMIT)) {
        const conns = byPeer.get(p.peerId) ?? [];
        // A direct connection beats a relayed one when both are open.
        const conn = conns.find((c) => !isRelayed(c.remoteAddr.toString())) ?? conns[0];
        const remote = conn?.remoteAddr.toString() ?? null;
        const relayed = remote !== null && isRelayed(remote);
        const address = safeAddress(p.peerId);
        out.push({
          peerId: p.peerId,
          address,
          connected: conn !== undefined,
          path: relayed ? 'relayed' : 'direct',
          relay: relayed && remote ? relayOf(remote) : null,
          rttMs: p.rttMs ?? null,
          roles: roleNames(address ? await rolesOf(address.toLowerCase()) : 0),
          remoteAddress: remote ? remote.slice(0, 300) : null,
          since: conn ? conn.timeline.open : null,
        });
        seen.add(p.peerId);
      }
      // Bootstrap nodes from the Registry that we are not connected to: known, not reached.
      try {
        for (const node of await chain.registry.getBootstrapList()) {
          if (node.address.toLowerCase() === me) continue;
          const id = node.multiaddrs.map((m) => /\/p2p\/([^/]+)$/.exec(m)?.[1]).find(Boolean);
          if (!id || seen.has(id) || id.length > 128) continue;
          seen.add(id);
          out.push({
            peerId: id,
            address: node.address,
            connected: false,
            path: 'direct',
            relay: null,
            rttMs: null,
            roles: roleNames(node.roles),
            remoteAddress: null,
            since: null,
          });
        }
      } catch {
        // The chain being away only hides the not-connected nodes.
      }
      return out;
    },

    async services(): Promise<Service[]> {
      const services = requireServices('the service list');
      const list = await mapErrors(() => services.list());
      const connections = services.connections();
      return list.map((v) => serviceOut(v, connections));
    },

    async publishService(input): Promise<Service> {
      const services = requireServices('publishing a service');
      if ((input.type === 'tcp' || input.type === 'http') && !input.target) {
        throw new ApiError(400, 'INVALID_BODY', `a ${input.type} service needs a target host:port`);
      }
      if (input.type === 'vpn' && (!input.allow || input.allow.length === 0)) {
        throw new ApiError(
          400,
          'INVALID_BODY',
          'a vpn service needs allow rules, e.g. ["10.0.0.0/8:80-443"]',
        );
      }
      const policy = input.policy ?? 'public';
      if (policy === 'allowlist' && (!input.allowlist || input.allowlist.length === 0)) {
        throw new ApiError(
          400,
          'INVALID_BODY',
          'the allowlist policy needs "allowlist": the addresses admitted',
        );
      }
      if (policy === 'organization' && input.organizationId === undefined) {
        throw new ApiError(400, 'INVALID_BODY', 'the organization policy needs "organizationId"');
      }
      if (policy === 'token-holders' && input.holderToken === undefined) {
        throw new ApiError(400, 'INVALID_BODY', 'the token-holders policy needs "holderToken"');
      }
      const published = await mapErrors(() =>
        services.publish({
          name: input.name,
          type: input.type,
          policy,
          ...(input.target !== undefined ? { target: input.target } : {}),
          ...(input.allow !== undefined ? { allow: input.allow } : {}),
          ...(input.subnets !== undefined ? { subnets: input.subnets } : {}),
          ...(input.pool !== undefined ? { pool: input.pool } : {}),
          ...(input.price !== undefined ? { price: BigInt(input.price) } : {}),
          ...(input.allowlist !== undefined ? { allowlist: input.allowlist as `0x${string}`[] } : {}),
          ...(input.organizationId !== undefined
            ? { organizationId: parseId(input.organizationId, 'organizationId') }
            : {}),
          ...(input.holderToken !== undefined ? { holderToken: input.holderToken as Address } : {}),
          ...(input.tokenThreshold !== undefined ? { tokenThreshold: input.tokenThreshold } : {}),
        }),
      );
      changed('services');
      return serviceOut(published, services.connections());
    },

    async retireService(id): Promise<void> {
      const services = requireServices('retiring a service');
      const serviceId = parseId(id, 'service id');
      const view = await mapErrors(() => services.show(serviceId));
      if (!view.own) {
        throw new ApiError(
          403,
          'NOT_OWNER',
          `service ${id} is not published by this node; only its owner can retire it`,
        );
      }
      await mapErrors(() => services.retire(serviceId));
      changed('services');
    },

    async grants(): Promise<Grant[]> {
      const held = access.list();
      const owners = new Map<string, string>();
      const services = deps.services();
      const own: ServiceView[] = [];
      if (network && services) {
        try {
          for (const v of await services.list()) {
            owners.set(v.id.toString(), v.owner);
            if (v.own) own.push(v);
          }
        } catch {
          // Without the service list, holder grants still show; owners fall back to the host.
        }
      }
      const out: Grant[] = held.map((g) => ({
        id: g.grantId.toString(),
        serviceId: g.serviceId.toString(),
        serviceName: g.serviceName.slice(0, 64),
        grantee: wallet.address,
        owner: owners.get(g.serviceId.toString()) ?? g.host,
        role: 'holder',
        issuedAt: Number(g.issuedAt),
        expiresAt: Number(g.expiresAt),
        revoked: g.revoked,
      }));
      for (const g of network ? ownServiceGrants(store, own) : []) {
        if (g.grantee.toLowerCase() === me) continue;
        out.push({ ...g, owner: wallet.address, role: 'owner' });
      }
      return out;
    },

    async requestGrant(input): Promise<Grant> {
      const serviceId = parseId(input.serviceId, 'serviceId');
      const g = await mapErrors(() => access.request(serviceId));
      changed('grants');
      changed('balance');
      const owner = await chain.registry.getService(serviceId).then(
        (svc) => svc?.owner ?? g.host,
        () => g.host,
      );
      return {
        id: g.grantId.toString(),
        serviceId: g.serviceId.toString(),
        serviceName: g.serviceName.slice(0, 64),
        grantee: wallet.address,
        owner,
        role: 'holder',
        issuedAt: Number(g.issuedAt),
        expiresAt: Number(g.expiresAt),
        revoked: false,
      };
    },

    async revokeGrant(id): Promise<void> {
      const grantId = parseId(id, 'grant id');
      const held = access.get(grantId);
      if (!held) {
        const onChain = await mapErrors(() => chain.registry.getGrant(grantId));
        if (!onChain) throw new ApiError(404, 'UNKNOWN_GRANT', `there is no grant ${id} on chain`);
        const service = await mapErrors(() => chain.registry.getService(onChain.serviceId));
        if (service?.owner.toLowerCase() !== me) {
          throw new ApiError(
            403,
            'NOT_SERVICE_OWNER',
            `grant ${id} is on service ${onChain.serviceId}, which this node does not own; only its owner (or the grantee) can revoke it`,
          );
        }
      }
      await mapErrors(() => access.revoke(grantId));
      changed('grants');
    },

    sessions(): Session[] {
      const services = network ? deps.services() : undefined;
      if (!services) return [];
      return services.sessions().map((x) => ({
        id: x.id,
        serviceId: x.serviceId.toString(),
        serviceName: x.serviceName.slice(0, 64),
        peerId: x.peerId,
        direction: x.direction,
        path: x.path,
        openedAt: x.openedAt,
        bytesIn: x.bytesIn,
        bytesOut: x.bytesOut,
      }));
    },

    async vpnStatus() {
      const services = network ? deps.services() : undefined;
      if (!services)
        return {
          supported: false,
          reason: 'this node runs without the p2p network',
          sessions: [],
          ended: [],
        };
      return services.vpnStatus();
    },

    async vpnUp(input) {
      const services = requireServices('the L3 VPN');
      const serviceId = parseId(input.serviceId, 'serviceId');
      const session = await mapErrors(() => services.vpnUp({ serviceId, mode: input.mode ?? 'client' }));
      changed('sessions');
      return session;
    },

    async vpnDown(id) {
      const services = requireServices('the L3 VPN');
      const serviceId = parseId(id, 'service id');
      const n = await mapErrors(() => services.vpnDown(serviceId));
      if (n === 0) {
        throw new ApiError(404, 'NOT_UP', `no L3 VPN to service ${id} is up; see GET /api/v1/vpn`);
      }
      changed('sessions');
    },

    connectListeners(): ConnectListener[] {
      const services = network ? deps.services() : undefined;
      if (!services) return [];
      return services.connections().map((c) => ({
        id: c.id,
        serviceId: c.serviceId.toString(),
        serviceName: c.serviceName.slice(0, 64),
        localAddress: c.localAddress,
        openedAt: c.openedAt,
        open: c.tunnels,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        lastError: c.lastError?.slice(0, 500) ?? null,
      }));
    },

    async connect(input) {
      const services = requireServices('connecting to a service');
      const serviceId = parseId(input.serviceId, 'serviceId');
      const port = input.localPort ?? 0;
      const c = await mapErrors(() => services.connect({ serviceId, listen: `127.0.0.1:${port}` }));
      changed('services');
      changed('sessions');
      return { id: c.id, serviceId: c.serviceId.toString(), localAddress: c.localAddress, sessionId: null };
    },

    async disconnect(id): Promise<void> {
      const services = requireServices('closing a connection');
      if (!services.connections().some((c) => c.id === id)) {
        throw new ApiError(
          404,
          'UNKNOWN_CONNECTION',
          `there is no connection ${id}; see GET /api/v1/services`,
        );
      }
      await mapErrors(() => services.disconnect(id));
      changed('services');
      changed('sessions');
    },

    proxies(): SocksProxy[] {
      const services = network ? deps.services() : undefined;
      return services ? services.proxies().map(proxyOut) : [];
    },

    async startProxy(input): Promise<SocksProxy> {
      const services = requireServices('a SOCKS5 proxy');
      const p = await mapErrors(() =>
        services.startProxy({
          listen: input.listen ?? '127.0.0.1:0',
          ...(input.via !== undefined ? { via: parseId(input.via, 'via') } : {}),
        }),
      );
      changed('proxies');
      return proxyOut(p);
    },

    async stopProxy(id): Promise<void> {
      const services = requireServices('a SOCKS5 proxy');
      if (!services.proxies().some((p) => p.id === id)) {
        throw new ApiError(404, 'UNKNOWN_PROXY', `there is no proxy ${id}; see GET /api/v1/proxies`);
      }
      await mapErrors(() => services.stopProxy(id));
      changed('proxies');
    },

    logs(query) {
      return deps.logs.entries(query.limit ?? 200, query.level ?? 'debug');
    },

    audit(query) {
      return deps.audit.query(query).map((r) => ({
        ...r,
        serviceName: r.serviceName?.slice(0, 64) ?? null,
        reason: r.reason?.slice(0, 500) ?? null,
      }));
    },

    orgNetworks() {
      return network?.orgs.list() ?? [];
    },

    async joinOrg(id) {
      const net = requireNetwork('joining an organization network');
      const status = await mapErrors(() => net.orgs.join(parseOrgId(id)));
      return status;
    },

    async leaveOrg(id) {
      const net = requireNetwork('leaving an organization network');
      const orgId = await mapErrors(() => parseOrgId(id));
      const left = await net.orgs.leave(orgId);
      return { orgId: orgId.toString(), left };
    },

    health() {
      return {
        status: 'ok' as const,
        uptimeSeconds: Math.max(0, Math.floor((Date.now() - deps.startedAt) / 1000)),
      };
    },

    async ready() {
      return deps.operations.ready();
    },

    metrics() {
      return deps.operations.metrics.text();
    },

    async fleet() {
      const nodes = await mapErrors(() => fleet.nodes()).catch((err: unknown) => {
        if (err instanceof ApiError) throw err;
        throw new ApiError(
          502,
          'CHAIN_UNREACHABLE',
          `could not read the registered nodes from the chain at ${chain.clients.rpcUrl}: ${(err as Error).message.split('\n')[0]}`,
          { cause: err },
        );
      });
      const names = new Map<string, string>();
      const services = deps.services();
      if (services) {
        try {
          for (const v of await services.list()) names.set(v.id.toString(), v.name.slice(0, 64));
        } catch {
          // Ids without names when the service list cannot be read.
        }
      }
      return nodes.map((n) => ({
        address: n.address,
        label: n.label,
        self: n.self,
        peerId: n.peerId && n.peerId.length <= 128 ? n.peerId : null,
        roles: roleNames(n.roles),
        online: n.online,
        connected: n.connected,
        recordAt: n.recordAt,
        rttMs: n.rttMs,
        services: n.services
          .slice(0, 64)
          .map((id) => ({ id: id.toString(), name: names.get(id.toString()) ?? null })),
      }));
    },

    setNodeLabel(address, label) {
      fleet.setLabel(address as Address, label);
      changed('fleet');
    },

    servicePolicy(id) {
      return policyOf(parseId(id, 'service id'));
    },

    async updatePolicy(id, input) {
      const serviceId = parseId(id, 'service id');
      await mapErrors(() =>
        updateServicePolicy(directory, serviceId, {
          ...(input.policy !== undefined ? { policy: input.policy } : {}),
          ...(input.organizationId !== undefined
            ? { organizationId: parseId(input.organizationId, 'organizationId') }
            : {}),
          ...(input.holderToken !== undefined ? { holderToken: input.holderToken as Address } : {}),
          ...(input.tokenThreshold !== undefined ? { tokenThreshold: input.tokenThreshold } : {}),
          ...(input.price !== undefined ? { price: BigInt(input.price) } : {}),
          ...(input.grantDurationSeconds !== undefined
            ? { grantDurationSeconds: BigInt(input.grantDurationSeconds) }
            : {}),
        }),
      );
      changed('services');
      return policyOf(serviceId);
    },

    async changeAllowlist(id, input) {
      const serviceId = parseId(id, 'service id');
      await mapErrors(() =>
        changeAllowlist(directory, serviceId, {
          add: (input.add ?? []) as Address[],
          remove: (input.remove ?? []) as Address[],
        }),
      );
      changed('services');
      return policyOf(serviceId);
    },
  };
}

function proxyOut(p: { id: string; localAddress: string; openedAt: number; tunnels: number }): SocksProxy {
  return { id: p.id, localAddress: p.localAddress, openedAt: p.openedAt, tunnels: p.tunnels };
}

function isRelayed(addr: string): boolean {
  return addr.includes('/p2p-circuit');
}

/** The relay's PeerId in `/…/p2p/<relay>/p2p-circuit/…`. */
function relayOf(addr: string): string | null {
  const m = /\/p2p\/([^/]+)\/p2p-circuit/.exec(addr);
  return m?.[1] && m[1].length <= 128 ? m[1] : null;
}

function roleNames(bits: number): Peer['roles'] {
  const out: Peer['roles'] = [];
  if (bits & ROLE_BOOTSTRAP) out.push('bootstrap');
  if (bits & ROLE_RELAY) out.push('relay');
  if (bits & ROLE_SERVICE_HOST) out.push('service-host');
  return out;
}

function safeAddress(peerId: string): string | null {
  try {
    return addressFromPeerId(peerId);
  } catch {
    return null;
  }
}

function addressPeerId(wallet: Wallet): string {
  // Without the network there is no host; the PeerId still follows from the wallet key.
  return peerIdFromWallet(wallet).toString();
}

/** Grants others hold on this node's own services, as the chain mirror recorded them. */
function ownServiceGrants(store: Store, own: ServiceView[]): Array<Omit<Grant, 'owner' | 'role'>> {
  if (own.length === 0) return [];
  const names = new Map(own.map((v) => [v.id.toString(), v.name.slice(0, 64)]));
  const marks = own.map(() => '?').join(',');
  let rows: Array<{
    grant_id: string;
    service_id: string;
    grantee: string;
    issued_at: string;
    expires_at: string;
    revoked: number;
  }>;
  try {
    rows = store.db
      .prepare(
        `SELECT grant_id, service_id, grantee, issued_at, expires_at, revoked FROM mirror_grants
         WHERE service_id IN (${marks}) ORDER BY CAST(issued_at AS INTEGER) DESC LIMIT 500`,
      )
      .all(...own.map((v) => v.id.toString())) as typeof rows;
  } catch {
    return [];
  }
  return rows.map((r) => ({
    id: r.grant_id,
    serviceId: r.service_id,
    serviceName: names.get(r.service_id) ?? '',
    grantee: r.grantee,
    issuedAt: Number(r.issued_at),
    expiresAt: Number(r.expires_at),
    revoked: r.revoked === 1,
  }));
}

/** The chain view's lag as the API reports it (`view` of GET /api/v1/chain). */
function chainViewStatus(network: NetworkRuntime): NonNullable<ChainStatus['view']> {
  const v = network.chainView.status();
  return {
    state: v.state,
    code: v.state === 'fresh' ? null : 'CHAIN_STALE',
    headBlock: v.headBlock === null ? null : Number(v.headBlock),
    syncedBlock: Number(v.syncedBlock),
    lagBlocks: v.lagBlocks,
    lagMs: v.lagMs,
    reason: v.reason?.slice(0, 300) ?? null,
  };
}
