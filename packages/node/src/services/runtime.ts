/**
 * The services part of a running node: hosts its catalog's services through a TunnelServer, keeps
 * the node record's service list in step with the catalog, and opens local connections and SOCKS5
 * proxies to services on other nodes.
 */
import type { Deployment, RegistryWriter } from '@dibs/chain';
import {
  encryptionKeyFromWallet,
  type GrantCache,
  peerIdFromWallet,
  type SessionRegistry,
  TicketVerifier,
  type Wallet,
} from '@dibs/core';
import type { Store } from '@dibs/store';
import { decodeVpnMessage, encodeVpnMessage, VpnError, VpnMessageType, VpnRuntime } from '@dibs/vpn';
import type { Address } from 'viem';
import { AccessClient } from '../access/access-client.ts';
import type { DibsHost } from '../p2p/host.ts';
import type { P2pLogger } from '../p2p/log.ts';
import {
  type DataChannelOptions,
  type HostedService,
  type Tunnel,
  TunnelError,
  type TunnelRefusal,
  TunnelServer,
  TunnelSessionTable,
  type VpnAcceptor,
} from '../tunnel/index.ts';
import { ServiceCatalog } from './catalog.ts';
import { ServiceConnector } from './connector.ts';
import { ORG_SCOPE_CACHE_MS } from './constants.ts';
import { ServiceError } from './errors.ts';
import { LocalForward, parseListen } from './forward.ts';
import { notInOrganization, type OrgNetworkHost, OrgServices, serviceOrganization } from './organizations.ts';
import { ServiceProxy } from './proxy.ts';
import {
  listServices,
  publishService,
  resolveService,
  retireService,
  type ServiceDirectory,
  showService,
} from './publish.ts';
import type { ConnectionView, ProxyView, ServicesRuntime, SessionView } from './types.ts';

/** What {@link startServices} needs from the node. */
export interface ServicesOptions {
  host: DibsHost;
  wallet: Wallet;
  store: Store;
  registry: RegistryWriter;
  deployment: Deployment;
  cache: GrantCache;
  sessions: SessionRegistry;
  log: P2pLogger;
  /** Asks the chain mirror to catch up (an unseen grant on a tunnel open). */
  catchUp?: () => Promise<void>;
  /** Called when the set of hosted services changed: republish the node record. */
  onHostedChanged?: (ids: bigint[]) => void;
  /** The tunnel data channel; default on, loopback. */
  dataChannel?: boolean | DataChannelOptions;
  /** The L3 VPN (WireGuard); default on where the host supports it. */
  vpn?: boolean;
}

/** The running services part, with what the daemon needs besides the public interface. */
export interface RunningServices extends ServicesRuntime {
  /** Ids of the services this node serves now (for the node record). */
  hostedIds(): bigint[];
  /** Registers a listener for tunnels this node refuses or ends on chain state (the audit trail). */
  onRefused(listener: (refusal: TunnelRefusal) => void): () => void;
  readonly catalog: ServiceCatalog;
  /**
   * Opens one tunnel to a service on another node (grant and ticket obtained as needed); a service of
   * an organization through this node's host in that organization's network.
   */
  open(serviceId: bigint, options?: { signal?: AbortSignal }): Promise<Tunnel>;
  /** Ids of the hosted services the public node record lists: those of no organization. */
  advertisedIds(): bigint[];
  /**
   * An organization network joined (or rejoined with a new host): this node's services of that
   * organization are served on its host from now on, and its services are reached through it.
   */
  serveOrganization(net: OrgNetworkHost): Promise<void>;
  /** An organization network left: its services are no longer served or reached. */
  leaveOrganization(orgId: bigint): Promise<void>;
}

/** Starts serving the catalog's services and returns the runtime. */
export async function startServices(o: ServicesOptions): Promise<RunningServices> {
  const self = o.wallet.address as Address;
  const catalog = new ServiceCatalog(o.store);
  const dir: ServiceDirectory = { registry: o.registry, catalog, self };
  const access = new AccessClient({
    store: o.store,
    registry: o.registry,
    wallet: o.wallet,
    chainId: o.deployment.chainId,
  });
  const verifier = new TicketVerifier({
    encryptionPrivateKey: encryptionKeyFromWallet(o.wallet).privateKey,
    peerId: peerIdFromWallet(o.wallet).toMultihash().bytes,
    nodeAddress: self,
    chainId: o.deployment.chainId,
    contract: o.deployment.accessGrants,
    cache: o.cache,
    networkServiceIds: [],
  });
  // Created before the tunnel servers so they can admit L3 sessions; its tunnels come from the connectors below.
  const vpn = await VpnRuntime.start({
    address: self,
    log: o.log,
    disabled: o.vpn === false,
    open: async (serviceId, request, signal) => {
      const t = await (await connectorFor(serviceId)).open(serviceId, { vpn: request, signal });
      return {
        grant: t.vpn!,
        channel: t.socket,
        sessionId: t.sessionId,
        peerId: t.peerId,
        directIp: t.directIp,
        relayEndpoint: t.relayEndpoint,
      };
    },
    directIp: (peerId) => {
      for (const c of [o.host, ...orgServices.hosts()].flatMap((h) => h.libp2p.getConnections())) {
        if (c.remotePeer.toString() !== peerId || c.limits) continue;
        const ip = /^\/ip4\/([^/]+)\/tcp\//.exec(c.remoteAddr.toString())?.[1];
        if (ip && !c.remoteAddr.toString().includes('/p2p-circuit')) return ip;
      }
      return undefined;
    },
  });
  const acceptVpn: VpnAcceptor = async ({ service, request, peerId, sessionId, hosts }) => {
    let req: ReturnType<typeof decodeVpnMessage>;
    try {
      req = decodeVpnMessage(request);
    } catch (err) {
      throw new TunnelError('MALFORMED', `bad vpn request: ${(err as Error).message}`, { cause: err });
    }
    if (req.type !== VpnMessageType.REQUEST) throw new TunnelError('MALFORMED', 'expected a vpn request');
    try {
      const accepted = await vpn.accept({
        id: sessionId,
        config: {
          serviceId: service.serviceId,
          subnets: service.subnets ?? [],
          ...(service.pool ? { pool: service.pool } : {}),
          allow: service.allow ?? [],
        },
        peerId,
        request: req,
        hosts,
      });
      return {
        grant: encodeVpnMessage(accepted.grant),
        attach: (channel, path, relayEndpoint) => accepted.attach(channel, path, relayEndpoint),
        close: (reason) => accepted.close(reason),
      };
    } catch (err) {
      const hint = err instanceof VpnError && err.hint ? ` (${err.hint})` : '';
      throw new TunnelError(
        'VPN_REFUSED',
        `the host cannot run this vpn session: ${(err as Error).message}${hint}`,
        {
          cause: err,
        },
      );
    }
  };
  const refusedListeners = new Set<(refusal: TunnelRefusal) => void>();
  // The organization each hosted service belongs to (null: none), as the chain has it.
  // (A policy change emits no cache event: the chain is read again once an answer is ORG_SCOPE_CACHE_MS old.)
  const serviceOrgs = new Map<bigint, { org: bigint | null; at: number }>();
  const orgOf = async (id: bigint): Promise<bigint | undefined> => {
    let known = serviceOrgs.get(id);
    if (!known || known.at < Date.now() - ORG_SCOPE_CACHE_MS) {
      const s = await o.registry.getService(id);
      known = { org: (s && serviceOrganization(s)) ?? null, at: Date.now() };
      serviceOrgs.set(id, known);
    }
    return known.org ?? undefined;
  };
  /** What the tunnel server of network `orgId` (undefined: the public one) serves: its own services only. */
  const hostedIn =
    (orgId: bigint | undefined) =>
    async (id: bigint): Promise<HostedService | undefined> => {
      const entry = catalog.lookup(id);
      if (!entry) return undefined;
      const org = await orgOf(id);
      if (org === orgId) return entry;
      throw new TunnelError(
        'UNKNOWN_SERVICE',
        org === undefined
          ? `service ${id} is served in the public network, not in organization ${orgId}'s`
          : `service ${id} belongs to organization ${org}: this node serves it in that organization's network only`,
      );
    };
  const startServer = (host: DibsHost, orgId?: bigint, protocolPrefix?: string) =>
    TunnelServer.start({
      host,
      vpn: acceptVpn,
      verifier,
      sessions: o.sessions,
      lookup: hostedIn(orgId),
      ...(o.catchUp ? { catchUp: o.catchUp } : {}),
      dataChannel: orgId === undefined ? (o.dataChannel ?? true) : orgDataChannel(o.dataChannel),
      logger: o.log,
      ...(protocolPrefix ? { protocolPrefix } : {}),
      onRefused: (r) => {
        for (const fn of refusedListeners) fn(r);
      },
    });
  const server = await startServer(o.host);
  const outbound = new TunnelSessionTable();
  const publicConnector = new ServiceConnector({
    host: o.host,
    registry: o.registry,
    access,
    table: outbound,
    log: o.log,
  });
  const orgServices = new OrgServices({
    startServer: (net) => startServer(net.host, net.orgId, net.protocolPrefix),
    makeConnector: (net) =>
      new ServiceConnector({
        host: net.host,
        registry: o.registry,
        access,
        table: outbound,
        log: o.log,
        protocolPrefix: net.protocolPrefix,
        locate: (address) => net.locate(address),
      }),
    log: o.log,
  });
  /** The connector that reaches `serviceId`: the public one, or that of the service's organization. */
  const connectorFor = async (serviceId: bigint): Promise<ServiceConnector> => {
    const s = await publicConnector.service(serviceId);
    const org = serviceOrganization(s);
    if (org === undefined) return publicConnector;
    const c = orgServices.connector(org);
    if (!c) throw notInOrganization(s.id, s.name, org);
    return c;
  };
  const forwards = new Map<string, LocalForward>();
  const proxies = new Map<string, ServiceProxy>();
  const names = new Map<bigint, string>();

  const nameOf = (id: bigint): string => {
    const cached = names.get(id);
    if (cached !== undefined) return cached;
    const own = catalog.get(id)?.name;
    if (own) names.set(id, own);
    const held = own ?? access.list().find((g) => g.serviceId === id)?.serviceName;
    if (held) names.set(id, held);
    return held ?? `service ${id}`;
  };

  // Keep the advertised service list equal to the catalog: the CLI may publish or retire from another process.
  // Which organization each hosted service belongs to is known before the set is advertised.
  await Promise.all(catalog.activeIds().map((id) => orgOf(id).catch(() => undefined)));
  let advertised = catalog.activeIds().join(',');
  const checkHosted = () => {
    const ids = catalog.activeIds();
    const key = ids.join(',');
    if (key === advertised) return;
    advertised = key;
    void Promise.all(ids.map((id) => orgOf(id).catch(() => undefined))).then(() => o.onHostedChanged?.(ids));
  };
  const unsubscribe = o.cache.subscribe((event) => {
    if (event.type === 'serviceChanged' || event.type === 'serviceRetired')
      serviceOrgs.delete(event.serviceId);
    if (event.type === 'serviceRetired') {
      const entry = catalog.get(event.serviceId);
      if (entry && !entry.retired) catalog.markRetired(event.serviceId);
      void vpn.host.retire(event.serviceId);
    }
    if (event.type === 'synced' || event.type === 'serviceRetired' || event.type === 'serviceChanged') {
      try {
        checkHosted();
      } catch (err) {
        o.log.warn('could not read the service catalog', { error: (err as Error).message });
      }
    }
  });

  let stopped = false;
  const runtime: RunningServices = {
    catalog,
    hostedIds: () => catalog.activeIds(),
    // Unknown yet (being read from chain) counts as an organization's: never advertised by mistake.
    advertisedIds: () => catalog.activeIds().filter((id) => serviceOrgs.get(id)?.org === null),
    serveOrganization: (net) => orgServices.serve(net),
    leaveOrganization: (orgId) => orgServices.leave(orgId),
    onRefused: (listener) => {
      refusedListeners.add(listener);
      return () => refusedListeners.delete(listener);
    },
    open: async (serviceId, options) => (await connectorFor(serviceId)).open(serviceId, options ?? {}),
    async publish(input) {
      const view = await publishService(dir, input);
      if (input.policy === 'organization' && input.organizationId !== undefined) {
        if (!orgServices.connector(input.organizationId)) {
          o.log.warn(
            'published a service of an organization whose network this node has not joined: not served until it joins',
            {
              serviceId: view.id.toString(),
              orgId: input.organizationId.toString(),
              hint: `dibs org join ${input.organizationId}`,
            },
          );
        }
      }
      names.set(view.id, view.name);
      checkHosted();
      return view;
    },
    async retire(serviceId) {
      await retireService(dir, serviceId);
      checkHosted();
    },
    list: () => listServices(dir),
    show: (serviceId) => showService(dir, serviceId),
    async connect(input) {
      const via = await connectorFor(input.serviceId);
      const service = await via.service(input.serviceId);
      if (service.serviceType === 'vpn') {
        throw new ServiceError(
          'NOT_A_TUNNEL_SERVICE',
          `service ${service.id} (${service.name}) is a vpn: it has no single target to forward a port to`,
          'use `dibs proxy --socks 127.0.0.1:1080 --via <service>` instead',
        );
      }
      // A grant up front, so an unauthorised user hears it now rather than on the first local connection.
      await via.ticket(service.id);
      names.set(service.id, service.name);
      const forward = new LocalForward({
        serviceId: service.id,
        serviceName: service.name,
        open: (signal) => via.open(service.id, { signal }),
        log: o.log,
      });
      await forward.start(parseListen(input.listen));
      forwards.set(forward.id, forward);
      return forward.view();
    },
    async disconnect(connectionId) {
      const f = forwards.get(connectionId);
      if (!f)
        throw new ServiceError(
          'UNKNOWN_CONNECTION',
          `there is no connection ${connectionId}`,
          'see the connection list',
        );
      forwards.delete(connectionId);
      await f.close();
    },
    connections: (): ConnectionView[] => [...forwards.values()].map((f) => f.view()),
    async startProxy(input) {
      const proxy = new ServiceProxy(
        {
          resolve: async (ref) => {
            const v = await resolveService(dir, ref);
            names.set(v.id, v.name);
            return v;
          },
          open: async (id, opts) => (await connectorFor(id)).open(id, opts),
          access,
          log: o.log,
        },
        parseListen(input.listen, 1080),
        input.via,
      );
      await proxy.start();
      proxies.set(proxy.id, proxy);
      return proxy.view();
    },
    async stopProxy(proxyId) {
      const p = proxies.get(proxyId);
      if (!p) throw new ServiceError('UNKNOWN_PROXY', `there is no proxy ${proxyId}`, 'see the proxy list');
      proxies.delete(proxyId);
      await p.close();
    },
    proxies: (): ProxyView[] => [...proxies.values()].map((p) => p.view()),
    sessions(): SessionView[] {
      return [...server.sessions(), ...orgServices.sessions(), ...outbound.list()].map((s) => ({
        id: s.id,
        serviceId: s.serviceId,
        serviceName: nameOf(s.serviceId),
        peerId: s.peerId,
        direction: s.direction,
        path: s.path,
        channel: s.channel,
        openedAt: s.openedAt,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
        ...(s.destination ? { destination: `${s.destination.host}:${s.destination.port}` } : {}),
      }));
    },
    async vpnUp(input) {
      vpn.requireSupport();
      // A service of an organization this node is not in is refused here, with what to do.
      const service = await (await connectorFor(input.serviceId)).service(input.serviceId);
      if (service.serviceType !== 'vpn') {
        throw new ServiceError(
          'NOT_A_VPN',
          `service ${service.id} (${service.name}) is a ${service.serviceType} service, not a vpn`,
          `use \`dibs connect ${service.name}\` for it`,
        );
      }
      // The grant (requested on chain if none is held) comes with the tunnel; the interface that comes up
      // meanwhile is removed again when it is refused.
      names.set(service.id, service.name);
      return vpn.clients.up(service.id, input.mode, AbortSignal.timeout(60_000));
    },
    vpnDown: (serviceId) => vpn.clients.down(serviceId),
    async vpnStatus() {
      return {
        supported: vpn.unsupported === undefined,
        ...(vpn.unsupported ? { reason: vpn.unsupported.message, hint: vpn.unsupported.hint ?? '' } : {}),
        sessions: await vpn.sessions(),
        ended: vpn.clients.ended(),
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      await vpn.stop().catch((err: Error) => o.log.warn('vpn stop failed', { error: err.message }));
      for (const f of forwards.values()) await f.close().catch(() => {});
      for (const p of proxies.values()) await p.close().catch(() => {});
      forwards.clear();
      proxies.clear();
      await orgServices.stop();
      await server.stop();
    },
  };
  return runtime;
}

/**
 * The data channel of an organization's tunnel server: a port of its own (an organization host is
 * another network: its port and its admission are its own), on the same interface as the public one.
 */
function orgDataChannel(public_: ServicesOptions['dataChannel']): boolean | DataChannelOptions {
  if (public_ === false) return false;
  if (public_ === undefined || public_ === true) return true;
  return {
    ...(public_.host !== undefined ? { host: public_.host } : {}),
    ...(public_.announce?.hosts ? { announce: { hosts: public_.announce.hosts } } : {}),
  };
}
