/**
 * A node stand-in for UI tests: the real API framework and the real v1 route declarations, backed by
 * in-memory state that behaves like a node (publishing adds a service, revoking marks the grant,
 * connecting opens a session whose counters stream over SSE).
 */
import { randomBytes } from 'node:crypto';
import {
  ApiError,
  type ApiServer,
  type Balance,
  type ChainStatus,
  type Connection,
  createApiServer,
  type DibsApiHandlers,
  type DibsEvents,
  type EventStream,
  type Grant,
  generateApiToken,
  type Identity,
  type LogEntry,
  type Peer,
  type SocksProxy,
  registerDibsApi,
  type Service,
  type Session,
  silentApiLogger,
} from '../../node/src/api/index.ts';
import { createNodeMetrics } from '../../observe/src/index.ts';
import { AuditLog, Store } from '../../store/src/index.ts';

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A random EIP-55-looking address (case is not checksummed: the UI must not care). */
export function randomAddress(): string {
  return `0x${randomBytes(20).toString('hex')}`;
}

/** A PeerId-shaped string for a secp256k1 key (16Uiu2HAm… prefix, base58 body). */
export function randomPeerId(): string {
  return `16Uiu2HAm${Array.from(randomBytes(44), (b) => B58[b % 58]).join('')}`;
}

/** How the fixture answers: with data, with nothing, or with errors on every list. */
export type FixtureMode = 'data' | 'empty' | 'failing';

/** A running fixture node. */
export interface FixtureNode {
  api: ApiServer;
  token: string;
  url: string;
  uiUrl: string;
  events: EventStream<DibsEvents>;
  state: {
    services: Service[];
    grants: Grant[];
    sessions: Session[];
    logs: LogEntry[];
  };
  /** Emits one `counters` event after growing every open session's byte counts. */
  tick(): void;
  /** Appends a log line and streams it. */
  log(level: LogEntry['level'], message: string, fields?: Record<string, string>): void;
  close(): Promise<void>;
}

/** Starts a fixture node serving `staticDir` as its UI. */
export async function startFixtureNode(staticDir: string, mode: FixtureMode): Promise<FixtureNode> {
  const token = generateApiToken();
  const api = createApiServer({ token, staticDir, log: silentApiLogger });
  const self = randomAddress();
  const selfPeer = randomPeerId();
  const now = () => Math.floor(Date.now() / 1000);
  const identity: Identity = {
    address: self,
    did: `did:pkh:eip155:31337:${self}`,
    peerId: selfPeer,
    version: '0.1.0',
    startedAt: Date.now() - 3_725_000,
    listenAddresses: [
      `/ip4/127.0.0.1/tcp/40125/p2p/${selfPeer}`,
      `/ip4/127.0.0.1/tcp/40126/ws/p2p/${selfPeer}`,
    ],
  };
  const chain: ChainStatus = {
    rpcUrl: 'http://127.0.0.1:8545',
    chainId: 31337,
    embedded: true,
    reachable: true,
    headBlock: 1284,
    headTime: now() - 4,
    view: {
      state: 'fresh',
      code: null,
      headBlock: 1284,
      syncedBlock: 1284,
      lagBlocks: 0,
      lagMs: 120,
      reason: null,
    },
    contracts: ['Token', 'Registry', 'Services', 'AccessGrants', 'Organizations'].map((name) => ({
      name,
      address: randomAddress(),
    })),
  };
  const relayPeer = randomPeerId();
  const peers: Peer[] =
    mode === 'data'
      ? [
          {
            peerId: randomPeerId(),
            address: randomAddress(),
            connected: true,
            path: 'direct',
            relay: null,
            rttMs: 0.8,
            roles: ['bootstrap'],
            remoteAddress: '/ip4/127.0.0.1/tcp/40001',
            since: Date.now() - 600_000,
          },
          {
            peerId: relayPeer,
            address: randomAddress(),
            connected: true,
            path: 'direct',
            relay: null,
            rttMs: 42,
            roles: ['relay'],
            remoteAddress: '/ip4/10.0.0.7/tcp/4001',
            since: Date.now() - 300_000,
          },
          {
            peerId: randomPeerId(),
            address: randomAddress(),
            connected: true,
            path: 'relayed',
            relay: relayPeer,
            rttMs: 137,
            roles: ['service-host'],
            remoteAddress: null,
            since: Date.now() - 120_000,
          },
          {
            peerId: randomPeerId(),
            address: randomAddress(),
            connected: true,
            path: 'direct',
            relay: null,
            rttMs: 312,
            roles: [],
            remoteAddress: '/ip4/192.168.1.20/tcp/4001',
            since: Date.now() - 60_000,
          },
          {
            peerId: randomPeerId(),
            address: null,
            connected: false,
            path: 'direct',
            relay: null,
            rttMs: null,
            roles: [],
            remoteAddress: null,
            since: null,
          },
        ]
      : [];
  const remoteOwner = randomAddress();
  const services: Service[] =
    mode === 'data'
      ? [
          {
            id: '1',
            name: 'build-cache',
            type: 'http',
            owner: self,
            own: true,
            host: selfPeer,
            target: '127.0.0.1:9000',
            price: '0',
            token: null,
            policy: 'allowlist',
            active: true,
            reachable: true,
            connection: null,
          },
          {
            id: '2',
            name: 'office-ssh',
            type: 'tcp',
            owner: remoteOwner,
            own: false,
            host: peers[2]!.peerId,
            target: null,
            price: '250000000000000000',
            token: chain.contracts[0]!.address,
            policy: 'public',
            active: true,
            reachable: true,
            connection: null,
          },
          {
            id: '3',
            name: 'lab-socks',
            type: 'vpn',
            owner: remoteOwner,
            own: false,
            host: peers[3]!.peerId,
            target: null,
            price: '1000000000000000000',
            token: chain.contracts[0]!.address,
            policy: 'organization',
            active: true,
            reachable: true,
            connection: null,
          },
        ]
      : [];
  const grants: Grant[] =
    mode === 'data'
      ? [
          {
            id: '11',
            serviceId: '3',
            serviceName: 'lab-socks',
            grantee: self,
            owner: remoteOwner,
            role: 'holder',
            issuedAt: now() - 3600,
            expiresAt: now() + 5 * 3600,
            revoked: false,
          },
          {
            id: '12',
            serviceId: '1',
            serviceName: 'build-cache',
            grantee: randomAddress(),
            owner: self,
            role: 'owner',
            issuedAt: now() - 600,
            expiresAt: now() + 240,
            revoked: false,
          },
          {
            id: '13',
            serviceId: '1',
            serviceName: 'build-cache',
            grantee: randomAddress(),
            owner: self,
            role: 'owner',
            issuedAt: now() - 86400,
            expiresAt: now() + 6 * 86400,
            revoked: false,
          },
        ]
      : [];
  const sessions: Session[] =
    mode === 'data'
      ? [
          {
            id: 's-in-1',
            serviceId: '1',
            serviceName: 'build-cache',
            peerId: peers[0]!.peerId,
            direction: 'inbound',
            path: 'direct',
            openedAt: Date.now() - 95_000,
            bytesIn: 48_000,
            bytesOut: 2_400_000,
          },
        ]
      : [];
  const logs: LogEntry[] = [];
  let seq = 0;
  let nextId = 100;
  const connections = new Map<string, Connection>();
  const proxies: SocksProxy[] = [];
  const balance: Balance = {
    address: self,
    native: mode === 'empty' ? '0' : '9998765432100000000000',
    nativeSymbol: 'ETH',
    token: {
      address: randomAddress(),
      symbol: 'DIBS',
      decimals: 18,
      balance: mode === 'empty' ? '0' : '1250000000000000000000',
    },
  };

  const changed = (resource: 'services' | 'grants' | 'sessions' | 'peers' | 'proxies') =>
    events.send('changed', { resource });
  const failing = () => {
    if (mode === 'failing') {
      throw new ApiError(
        503,
        'CHAIN_UNREACHABLE',
        'The chain RPC at http://127.0.0.1:8545 is not answering; check that anvil is running.',
      );
    }
  };

  const labels = new Map<string, string>();
  const allowlists = new Map<string, Set<string>>();
  const orgs = new Map<string, string>();
  const ownService = (id: string) => {
    const svc = services.find((x) => x.id === id);
    if (!svc) throw new ApiError(404, 'UNKNOWN_SERVICE', `there is no service ${id} on chain`);
    if (!svc.own) throw new ApiError(403, 'NOT_SERVICE_OWNER', `service ${id} is not owned by this node`);
    return svc;
  };
  /** token-holders policy per service: its token and threshold (18 decimals, like the network token). */
  const holders = new Map<string, { token: string; threshold: string }>();
  const holderOf = (id: string, policy: string) => {
    const h = policy === 'token-holders' ? holders.get(id) : undefined;
    const whole = h ? h.threshold.split('.')[0]! : '';
    const frac = h ? (h.threshold.split('.')[1] ?? '').padEnd(18, '0') : '';
    return {
      holderToken: h?.token ?? null,
      holderThreshold: h?.threshold ?? null,
      holderThresholdBaseUnits: h ? (BigInt(whole) * 10n ** 18n + BigInt(frac || '0')).toString() : null,
      holderTokenDecimals: h ? 18 : null,
    };
  };
  const policyOf = (id: string) => {
    const svc = services.find((x) => x.id === id);
    if (!svc) throw new ApiError(404, 'UNKNOWN_SERVICE', `there is no service ${id} on chain`);
    return {
      serviceId: svc.id,
      name: svc.name,
      policy: svc.policy,
      organizationId: svc.policy.startsWith('organization') ? (orgs.get(id) ?? '1') : null,
      ...holderOf(id, svc.policy),
      price: svc.price,
      paymentToken: null,
      grantDurationSeconds: 86_400,
      allowlist: [...(allowlists.get(id) ?? [])],
    };
  };
  const metrics = createNodeMetrics({ processMetrics: false });
  const audit = new AuditLog(new Store(':memory:'));
  const handlers: DibsApiHandlers = {
    identity: () => identity,
    vpnStatus: () => ({ supported: false, reason: 'the fixture runs no VPN', sessions: [], ended: [] }),
    vpnUp: () => {
      throw new ApiError(501, 'UNSUPPORTED', 'the fixture runs no VPN');
    },
    vpnDown: () => {
      throw new ApiError(404, 'NOT_UP', 'no VPN is up');
    },
    orgNetworks: () => [],
    joinOrg: (id) => {
      throw new ApiError(404, 'UNKNOWN_ORGANIZATION', `the fixture has no organization ${id}`);
    },
    leaveOrg: (id) => ({ orgId: id, left: false }),
    chain: () => {
      failing();
      return chain;
    },
    balance: () => {
      failing();
      return balance;
    },
    peers: () => {
      failing();
      return peers;
    },
    services: () => {
      failing();
      return services;
    },
    publishService: (input) => {
      if (services.some((s) => s.own && s.active && s.name === input.name)) {
        throw new ApiError(
          409,
          'SERVICE_EXISTS',
          `A service named “${input.name}” is already published by this node; choose another name or retire it first.`,
        );
      }
      const svc: Service = {
        id: String(nextId++),
        name: input.name,
        type: input.type,
        owner: self,
        own: true,
        host: selfPeer,
        target: input.target ?? null,
        price: input.price ?? '0',
        token: null,
        policy: input.policy ?? 'public',
        active: true,
        reachable: true,
        connection: null,
      };
      services.push(svc);
      node.log('info', 'service published', { name: svc.name, id: svc.id });
      changed('services');
      return svc;
    },
    retireService: (id) => {
      const svc = services.find((s) => s.id === id && s.own);
      if (!svc) throw new ApiError(404, 'SERVICE_NOT_FOUND', `No service #${id} is published by this node.`);
      svc.active = false;
      changed('services');
    },
    grants: () => {
      failing();
      return grants;
    },
    requestGrant: (input) => {
      const svc = services.find((s) => s.id === input.serviceId);
      if (!svc) throw new ApiError(404, 'SERVICE_NOT_FOUND', `No service #${input.serviceId} is known.`);
      const g: Grant = {
        id: String(nextId++),
        serviceId: svc.id,
        serviceName: svc.name,
        grantee: self,
        owner: svc.owner,
        role: 'holder',
        issuedAt: now(),
        expiresAt: now() + 3600,
        revoked: false,
      };
      grants.push(g);
      changed('grants');
      return g;
    },
    revokeGrant: (id) => {
      const g = grants.find((x) => x.id === id);
      if (!g) throw new ApiError(404, 'GRANT_NOT_FOUND', `No grant #${id}.`);
      if (g.role !== 'owner')
        throw new ApiError(403, 'NOT_OWNER', 'Only the owner of the service can revoke this grant.');
      g.revoked = true;
      changed('grants');
    },
    connectListeners: () => [],
    sessions: () => {
      failing();
      return sessions;
    },
    connect: (input) => {
      const svc = services.find((s) => s.id === input.serviceId);
      if (!svc) throw new ApiError(404, 'SERVICE_NOT_FOUND', `No service #${input.serviceId} is known.`);
      const held = grants.some(
        (g) => g.serviceId === svc.id && g.role === 'holder' && !g.revoked && g.expiresAt > now(),
      );
      if (!held)
        throw new ApiError(
          403,
          'NO_GRANT',
          `You hold no valid grant for “${svc.name}”; request access first.`,
        );
      const session: Session = {
        id: `s-${nextId++}`,
        serviceId: svc.id,
        serviceName: svc.name,
        peerId: svc.host ?? randomPeerId(),
        direction: 'outbound',
        path: 'relayed',
        openedAt: Date.now(),
        bytesIn: 0,
        bytesOut: 0,
      };
      sessions.push(session);
      const conn: Connection = {
        id: `c-${nextId++}`,
        serviceId: svc.id,
        localAddress: `127.0.0.1:${20000 + nextId}`,
        sessionId: session.id,
      };
      connections.set(conn.id, conn);
      svc.connection = { id: conn.id, localAddress: conn.localAddress };
      changed('services');
      changed('sessions');
      return conn;
    },
    disconnect: (id) => {
      const conn = connections.get(id);
      if (!conn) throw new ApiError(404, 'CONNECTION_NOT_FOUND', `No connection ${id}.`);
      connections.delete(id);
      const i = sessions.findIndex((s) => s.id === conn.sessionId);
      if (i >= 0) sessions.splice(i, 1);
      const svc = services.find((s) => s.id === conn.serviceId);
      if (svc) svc.connection = null;
      changed('services');
      changed('sessions');
    },
    proxies: () => proxies,
    startProxy: (input) => {
      const p: SocksProxy = {
        id: `p-${nextId++}`,
        localAddress:
          input.listen && !input.listen.endsWith(':0') ? input.listen : `127.0.0.1:${21000 + nextId}`,
        openedAt: Date.now(),
        tunnels: 0,
      };
      if (proxies.some((x) => x.localAddress === p.localAddress)) {
        throw new ApiError(409, 'ADDRESS_IN_USE', `${p.localAddress} is in use; pick another port.`);
      }
      proxies.push(p);
      changed('proxies');
      return p;
    },
    stopProxy: (id) => {
      const i = proxies.findIndex((x) => x.id === id);
      if (i < 0) throw new ApiError(404, 'PROXY_NOT_FOUND', `No proxy ${id}.`);
      proxies.splice(i, 1);
      changed('proxies');
    },
    logs: (query) => {
      const order = ['debug', 'info', 'warn', 'error'];
      const min = order.indexOf(query.level ?? 'debug');
      return logs.filter((l) => order.indexOf(l.level) >= min).slice(-(query.limit ?? 200));
    },
    audit: (query) => audit.query(query),
    health: () => ({ status: 'ok', uptimeSeconds: 0 }),
    ready: () => ({
      ready: mode !== 'failing',
      checks: { chain: mode !== 'failing', network: true, api: true },
    }),
    metrics: () => metrics.text(),
    fleet: () => {
      failing();
      return [
        {
          address: self,
          label: labels.get(self.toLowerCase()) ?? null,
          self: true,
          peerId: selfPeer,
          roles: ['bootstrap', 'service-host'] as Peer['roles'],
          online: true,
          connected: false,
          recordAt: Date.now(),
          rttMs: null,
          services: services.filter((x) => x.own && x.active).map((x) => ({ id: x.id, name: x.name })),
        },
        ...peers
          .filter((p) => p.address)
          .map((p) => ({
            address: p.address!,
            label: labels.get(p.address!.toLowerCase()) ?? null,
            self: false,
            peerId: p.peerId,
            roles: p.roles,
            online: p.connected,
            connected: p.connected,
            recordAt: p.connected ? Date.now() - 60_000 : null,
            rttMs: p.rttMs,
            services: services.filter((x) => x.host === p.peerId).map((x) => ({ id: x.id, name: x.name })),
          })),
      ];
    },
    setNodeLabel: (address, label) => {
      if (label.trim()) labels.set(address.toLowerCase(), label.trim());
      else labels.delete(address.toLowerCase());
      events.send('changed', { resource: 'fleet' });
    },
    servicePolicy: (id) => policyOf(id),
    updatePolicy: (id, input) => {
      const svc = ownService(id);
      if (input.policy) svc.policy = input.policy;
      if (input.price !== undefined) svc.price = input.price;
      if (input.organizationId !== undefined) orgs.set(id, input.organizationId);
      if (input.holderToken !== undefined || input.tokenThreshold !== undefined) {
        const h = holders.get(id) ?? { token: '', threshold: '0.000000000000000001' };
        holders.set(id, {
          token: input.holderToken ?? h.token,
          threshold: input.tokenThreshold ?? h.threshold,
        });
      }
      changed('services');
      return policyOf(id);
    },
    changeAllowlist: (id, input) => {
      ownService(id);
      const list = allowlists.get(id) ?? new Set<string>();
      for (const a of input.add ?? []) list.add(a);
      for (const a of input.remove ?? []) list.delete(a);
      allowlists.set(id, list);
      changed('services');
      return policyOf(id);
    },
  };

  const events = registerDibsApi(api, handlers);
  const address = await api.listen();
  let phase = 0;
  const node: FixtureNode = {
    api,
    token,
    url: address.url,
    uiUrl: api.uiUrl(),
    events,
    state: { services, grants, sessions, logs },
    tick() {
      phase++;
      for (const s of sessions) {
        // Uneven traffic so the chart has shape: a slow wave plus bursts.
        s.bytesIn += Math.round(20_000 + 15_000 * Math.sin(phase / 3) + (phase % 7 === 0 ? 60_000 : 0));
        s.bytesOut += Math.round(90_000 + 60_000 * Math.cos(phase / 4));
      }
      events.send('counters', {
        at: Date.now(),
        sessions: sessions.map((s) => ({ id: s.id, bytesIn: s.bytesIn, bytesOut: s.bytesOut })),
      });
    },
    log(level, message, fields = {}) {
      const entry: LogEntry = {
        seq: seq++,
        time: new Date().toISOString(),
        level,
        component: 'node',
        message,
        fields,
      };
      logs.push(entry);
      events.send('log', entry);
    },
    close: () => api.close(),
  };
  if (mode === 'data') {
    node.log('info', 'chain connected', { rpc: chain.rpcUrl, chainId: '31337' });
    node.log('info', 'libp2p started', { peerId: selfPeer.slice(0, 16) });
    node.log('debug', 'dht refresh', { buckets: '3' });
    node.log('warn', 'relay reservation renewed late', { relay: relayPeer.slice(0, 16) });
    node.log('error', 'ticket rejected', { reason: 'expired', service: '1' });
  }
  return node;
}
