/**
 * The node's v1 management API as data: every route the UI uses, its TypeBox schemas, and the
 * handler interface the daemon implements. `registerDibsApi` wires an implementation onto an ApiServer.
 */
import { type Static, Type } from 'typebox';
import type { EventStream } from './event-stream.ts';
import type { RequestContext } from './route.ts';
import { address, decimal, nullable, obj, tokenAmount, unixSeconds } from './schema-parts.ts';
import type { ApiServer } from './server.ts';

const peerId = Type.String({ minLength: 1, maxLength: 128, description: 'libp2p PeerId (base58)' });
const id = Type.String({
  minLength: 1,
  maxLength: 96,
  pattern: '^[A-Za-z0-9._:-]+$',
  description: 'an id made of letters, digits and . _ : -',
});
const unixMs = Type.Integer({ minimum: 0, description: 'Unix time in milliseconds' });
const count = Type.Integer({ minimum: 0 });
const path = Type.Enum(['direct', 'relayed'], { description: 'How the connection reaches the peer' });

/** Service access policies, as the Services contract knows them. */
export const SERVICE_POLICIES = [
  'public',
  'allowlist',
  'organization',
  'organization-network',
  'token-holders',
] as const;
/** Policies a node can publish a service under. */
export const PUBLISH_POLICIES = ['public', 'allowlist', 'organization', 'token-holders'] as const;
/** Kinds of service a node hosts: a TCP port, an HTTP site, or a VPN exit with allow rules. */
export const SERVICE_TYPES = ['tcp', 'http', 'vpn'] as const;
/** Resources named by `changed` events; the UI refetches the matching list. */
export const CHANGED_RESOURCES = [
  'identity',
  'chain',
  'balance',
  'peers',
  'services',
  'grants',
  'sessions',
  'proxies',
  'fleet',
  'organizations',
] as const;
/** Log levels, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** GET /api/v1/identity */
export const identitySchema = obj({
  address,
  did: Type.String({ maxLength: 200, description: 'did:pkh:eip155:<chainId>:<address>' }),
  peerId,
  version: Type.String({ maxLength: 64 }),
  startedAt: unixMs,
  listenAddresses: Type.Array(Type.String({ maxLength: 300 }), {
    description: 'libp2p multiaddrs this node listens on',
  }),
});

/** GET /api/v1/chain */
export const chainSchema = obj({
  rpcUrl: Type.String({ maxLength: 500 }),
  chainId: count,
  embedded: Type.Boolean({ description: 'true when the node runs its own anvil' }),
  reachable: Type.Boolean(),
  headBlock: nullable(count),
  headTime: nullable(unixSeconds),
  contracts: Type.Array(obj({ name: Type.String({ maxLength: 64 }), address })),
  view: nullable(
    obj({
      state: Type.Enum(['fresh', 'stale', 'closing'], {
        description:
          'fresh: tickets accepted; stale: the mirror lags past the revocation bound, new tickets are refused (CHAIN_STALE); closing: past the longer bound, live sessions are closed too',
      }),
      code: nullable(Type.Enum(['CHAIN_STALE'])),
      headBlock: nullable(
        Type.Integer({ minimum: 0, description: 'head seen by the independent head poll' }),
      ),
      syncedBlock: Type.Integer({
        minimum: -1,
        description: 'last block the chain mirror applied (-1 before its first sync)',
      }),
      lagBlocks: count,
      lagMs: count,
      reason: nullable(Type.String({ maxLength: 300 })),
    }),
  ),
  trust: Type.Optional(
    obj({
      mode: Type.Enum(['full', 'light'], {
        description:
          'full: this node believes its chain (and signs checkpoints when it runs it); light: it admits only on state proven against accepted checkpoints',
      }),
      checkpoint: nullable(
        obj({
          number: decimal,
          blockHash: Type.String({ maxLength: 66 }),
          stateRoot: Type.String({ maxLength: 66 }),
        }),
      ),
      signers: Type.Array(address, {
        description: 'light: the trusted full nodes that signed the accepted checkpoint; full: this node',
      }),
      nodeSet: Type.Array(address, { description: 'light: the full-node set trusted now' }),
      required: Type.Integer({ minimum: 0, description: 'light: signatures a newer checkpoint needs' }),
      lastRefusal: nullable(Type.String({ maxLength: 1000 })),
      refusedCount: Type.Integer({
        minimum: 0,
        description: 'RPC answers refused because they did not verify',
      }),
      refusedAnswers: Type.Array(
        obj({
          at: unixMs,
          url: Type.String({ maxLength: 500 }),
          what: Type.String({ maxLength: 200 }),
          code: Type.String({ maxLength: 64 }),
          reason: Type.String({ maxLength: 1000 }),
        }),
      ),
    }),
  ),
});

/** GET /api/v1/balance: amounts in the smallest unit (wei), as decimal strings. */
export const balanceSchema = obj({
  address,
  native: decimal,
  nativeSymbol: Type.String({ maxLength: 16, description: 'symbol of the chain currency, e.g. ETH' }),
  token: obj({
    address,
    symbol: Type.String({ maxLength: 32 }),
    decimals: Type.Integer({ minimum: 0, maximum: 255 }),
    balance: decimal,
  }),
});

/** One known peer (connected or only known from the DHT / bootstrap list). */
export const peerSchema = obj({
  peerId,
  address: nullable(address),
  connected: Type.Boolean(),
  path,
  relay: nullable(peerId),
  rttMs: nullable(Type.Number({ minimum: 0 })),
  roles: Type.Array(Type.Enum(['bootstrap', 'relay', 'service-host'])),
  remoteAddress: nullable(Type.String({ maxLength: 300 })),
  since: nullable(unixMs),
});

/** GET /api/v1/peers */
export const peersSchema = obj({ peers: Type.Array(peerSchema) });

/** A service: own (published here) or reachable (published by another node). */
export const serviceSchema = obj({
  id,
  name: Type.String({ maxLength: 64 }),
  type: Type.String({ maxLength: 32 }),
  owner: address,
  own: Type.Boolean({ description: 'published by this node' }),
  host: nullable(peerId),
  target: nullable(
    Type.String({ maxLength: 300, description: 'host:port behind the service (own services only)' }),
  ),
  price: decimal,
  token: nullable(address),
  policy: Type.Enum(SERVICE_POLICIES),
  active: Type.Boolean(),
  reachable: Type.Boolean(),
  connection: nullable(obj({ id, localAddress: Type.String({ maxLength: 100 }) })),
});

/** GET /api/v1/services */
export const servicesSchema = obj({ services: Type.Array(serviceSchema) });

/** POST /api/v1/services */
export const publishServiceSchema = obj({
  name: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
    description: 'a name of letters, digits, spaces and . _ - (starting with a letter or digit)',
  }),
  type: Type.Enum(SERVICE_TYPES),
  target: Type.Optional(
    Type.String({
      maxLength: 300,
      pattern: '^[A-Za-z0-9.-]+:\\d{1,5}$|^\\[[0-9a-fA-F:]+\\]:\\d{1,5}$',
      description: 'host:port, e.g. 127.0.0.1:8080; required for tcp and http',
    }),
  ),
  allow: Type.Optional(
    Type.Array(
      Type.String({
        maxLength: 64,
        pattern: '^[0-9a-fA-F.:]+/\\d{1,3}(:\\d{1,5}(-\\d{1,5})?)?$',
        description: 'cidr[:port[-port]], e.g. 10.0.0.0/8:80-443',
      }),
      { maxItems: 64, description: 'vpn only: what clients may reach' },
    ),
  ),
  subnets: Type.Optional(
    Type.Array(
      Type.String({
        maxLength: 18,
        pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$',
        description: 'an IPv4 CIDR',
      }),
      {
        maxItems: 16,
        description: 'vpn only: site subnets L3 clients route here',
      },
    ),
  ),
  pool: Type.Optional(
    Type.String({
      maxLength: 18,
      pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$',
      description: "vpn only: the L3 clients' address pool (default 100.64.<id mod 256>.0/24)",
    }),
  ),
  price: Type.Optional(decimal),
  policy: Type.Optional(Type.Enum(PUBLISH_POLICIES)),
  allowlist: Type.Optional(Type.Array(address, { maxItems: 256, description: 'allowlist policy: who may' })),
  organizationId: Type.Optional(id),
  holderToken: Type.Optional(address),
  tokenThreshold: Type.Optional(
    tokenAmount('token-holders policy: the least balance of holderToken admitted (default one base unit)'),
  ),
});

/** A grant of access to a service, held by this node or issued on a service this node owns. */
export const grantSchema = obj({
  id,
  serviceId: id,
  serviceName: Type.String({ maxLength: 64 }),
  grantee: address,
  owner: address,
  role: Type.Enum(['holder', 'owner'], {
    description: 'holder: this node may use it; owner: this node may revoke it',
  }),
  issuedAt: unixSeconds,
  expiresAt: unixSeconds,
  revoked: Type.Boolean(),
});

/** GET /api/v1/grants */
export const grantsSchema = obj({ grants: Type.Array(grantSchema) });

/** POST /api/v1/grants */
export const requestGrantSchema = obj({
  serviceId: Type.String({
    pattern: '^[1-9]\\d{0,76}$',
    description: 'a service id (a positive decimal integer)',
  }),
});

/** An open session (tunnel, proxy, login) with its byte counters. */
export const sessionSchema = obj({
  id,
  serviceId: id,
  serviceName: Type.String({ maxLength: 64 }),
  peerId,
  direction: Type.Enum(['inbound', 'outbound']),
  path,
  openedAt: unixMs,
  bytesIn: count,
  bytesOut: count,
});

/**
 * A local listener forwarding each accepted connection to a service (what `dibs connect` opens),
 * with its counters since it opened: open tunnels now, bytes of every tunnel, closed ones included.
 */
export const connectListenerSchema = obj({
  id,
  serviceId: id,
  serviceName: Type.String({ maxLength: 64 }),
  localAddress: Type.String({ maxLength: 100 }),
  openedAt: unixMs,
  open: Type.Integer({ minimum: 0, description: 'tunnels open now' }),
  bytesIn: count,
  bytesOut: count,
  lastError: nullable(Type.String({ maxLength: 500 })),
});

/** GET /api/v1/sessions */
export const sessionsSchema = obj({
  sessions: Type.Array(sessionSchema),
  connections: Type.Array(connectListenerSchema, { description: 'connect listeners and their counters' }),
});

/** POST /api/v1/connections */
export const connectSchema = obj({
  serviceId: id,
  localPort: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 65535, description: '0 or absent picks a free port' }),
  ),
});

/** A local connection to a remote service (a listening port forwarded through DIBS). */
export const connectionSchema = obj({
  id,
  serviceId: id,
  localAddress: Type.String({ maxLength: 100 }),
  sessionId: nullable(id),
});

/** A local SOCKS5 proxy sending each connection through DIBS tunnels. */
export const proxySchema = obj({
  id,
  localAddress: Type.String({ maxLength: 100 }),
  openedAt: unixMs,
  tunnels: Type.Integer({ minimum: 0, description: 'tunnels open now' }),
});

/** GET /api/v1/proxies */
export const proxiesSchema = obj({ proxies: Type.Array(proxySchema) });

/** POST /api/v1/proxies */
export const startProxySchema = obj({
  listen: Type.Optional(
    Type.String({
      maxLength: 100,
      pattern: '^127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}:\\d{1,5}$|^localhost:\\d{1,5}$',
      description: 'a loopback host:port, e.g. 127.0.0.1:1080 (port 0 picks one)',
    }),
  ),
  via: Type.Optional(id),
});

/** An L3 VPN session (WireGuard), hosted or joined. */
export const vpnSessionSchema = obj({
  id,
  role: Type.Enum(['host', 'client', 'site'], {
    description: 'host: this node serves the site; client/site: this node joined it',
  }),
  serviceId: id,
  peerId,
  interface: Type.String({ maxLength: 15 }),
  address: Type.String({ maxLength: 15, description: "the client's address in the pool" }),
  gateway: Type.String({ maxLength: 15, description: "the host's address in the pool" }),
  routes: Type.Array(Type.String({ maxLength: 18 }), { maxItems: 16, description: 'site subnets' }),
  path,
  endpoint: nullable(
    Type.String({ maxLength: 60, description: "WireGuard's endpoint (127.0.0.1 = the relay bridge)" }),
  ),
  bytesIn: Type.Integer({ minimum: 0 }),
  bytesOut: Type.Integer({ minimum: 0 }),
  handshakeAgeS: nullable(
    Type.Integer({ minimum: 0, description: 'seconds since the last WireGuard handshake' }),
  ),
  openedAt: unixMs,
});

/** GET /api/v1/vpn */
export const vpnStatusSchema = obj({
  supported: Type.Boolean({ description: 'this host can run the L3 VPN (root, TUN, wireguard-go, ip, nft)' }),
  reason: Type.Optional(Type.String({ maxLength: 1000 })),
  hint: Type.Optional(Type.String({ maxLength: 1000 })),
  sessions: Type.Array(vpnSessionSchema),
  ended: Type.Array(obj({ serviceId: id, reason: Type.String({ maxLength: 1000 }), at: unixMs })),
});

/** POST /api/v1/vpn */
export const vpnUpSchema = obj({
  serviceId: id,
  mode: Type.Optional(
    Type.Enum(['client', 'site'], { description: "site: also forward this node's LAN (default client)" }),
  ),
});

/** One log line. */
export const logEntrySchema = obj({
  seq: count,
  time: Type.String({ maxLength: 40, format: 'date-time' }),
  level: Type.Enum(LOG_LEVELS),
  component: nullable(Type.String({ maxLength: 100 })),
  message: Type.String({ maxLength: 2000 }),
  fields: Type.Record(Type.String(), Type.String({ maxLength: 2000 }), { maxProperties: 64 }),
});

/** GET /api/v1/logs query */
export const logsQuerySchema = obj({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'newest entries to return (default 200)' }),
  ),
  level: Type.Optional(Type.Enum(LOG_LEVELS, { description: 'minimum level' })),
});

/** GET /api/v1/logs */
export const logsSchema = obj({ entries: Type.Array(logEntrySchema) });

/** Kinds of audit record. */
export const AUDIT_KINDS = ['grant-issued', 'grant-revoked', 'session', 'refusal'] as const;

/** One record of the audit trail (times in Unix ms). */
export const auditRecordSchema = obj({
  id: Type.Integer({ minimum: 0 }),
  kind: Type.Enum(AUDIT_KINDS),
  at: unixMs,
  who: nullable(address),
  peerId: nullable(peerId),
  serviceId: nullable(id),
  serviceName: nullable(Type.String({ maxLength: 64 })),
  grantId: nullable(id),
  sessionId: nullable(id),
  direction: nullable(Type.Enum(['inbound', 'outbound'])),
  path: nullable(path),
  endedAt: nullable(unixMs),
  bytesIn: nullable(count),
  bytesOut: nullable(count),
  outcome: Type.String({ maxLength: 32, description: 'open, closed, refused, issued, revoked' }),
  reason: nullable(Type.String({ maxLength: 500 })),
});

/** GET /api/v1/audit query */
export const auditQuerySchema = obj({
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'records at or after this Unix ms' })),
  service: Type.Optional(Type.String({ minLength: 1, maxLength: 96, description: 'a service id or name' })),
  kind: Type.Optional(Type.Enum(AUDIT_KINDS)),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 10000, description: 'newest records (default 1000)' }),
  ),
});

/** GET /api/v1/audit */
export const auditSchema = obj({ records: Type.Array(auditRecordSchema) });

/** Node roles as the Registry knows them. */
const roles = Type.Array(Type.Enum(['bootstrap', 'relay', 'service-host']));

/** One node registered on chain, as GET /api/v1/fleet shows it. */
export const fleetNodeSchema = obj({
  address,
  label: nullable(Type.String({ maxLength: 64, description: "the operator's name for this node" })),
  self: Type.Boolean({ description: 'this node' }),
  peerId: nullable(peerId),
  roles,
  online: Type.Boolean({
    description: 'connected to this node now, or its signed DHT record was issued recently',
  }),
  connected: Type.Boolean(),
  recordAt: nullable(unixMs),
  rttMs: nullable(Type.Number({ minimum: 0 })),
  services: Type.Array(obj({ id, name: nullable(Type.String({ maxLength: 64 })) }), { maxItems: 64 }),
});

/** GET /api/v1/fleet */
export const fleetSchema = obj({ nodes: Type.Array(fleetNodeSchema) });

/** PUT /api/v1/fleet/{address}/label */
export const setLabelSchema = obj({
  label: Type.String({ maxLength: 64, description: 'a name for the node; empty removes it' }),
});

/** A service's access policy and terms as the chain holds them, with its allowlist. */
export const servicePolicySchema = obj({
  serviceId: id,
  name: Type.String({ maxLength: 64 }),
  policy: Type.Enum(SERVICE_POLICIES),
  organizationId: nullable(id),
  holderToken: nullable(address),
  holderThreshold: nullable(tokenAmount('token-holders policy: the least balance of holderToken admitted')),
  holderThresholdBaseUnits: nullable(
    Type.String({
      pattern: '^[1-9]\\d{0,77}$',
      description: 'token-holders policy: the least balance admitted in base units (at least 1)',
    }),
  ),
  holderTokenDecimals: nullable(Type.Integer({ minimum: 0, maximum: 255 })),
  price: decimal,
  paymentToken: nullable(address),
  grantDurationSeconds: Type.Integer({ minimum: 1 }),
  allowlist: Type.Array(address, { description: 'accounts on the allowlist now' }),
});

/** PATCH /api/v1/services/{id}/policy: the fields to change; the rest stay as they are. */
export const updatePolicySchema = obj({
  policy: Type.Optional(Type.Enum(SERVICE_POLICIES)),
  organizationId: Type.Optional(id),
  holderToken: Type.Optional(address),
  tokenThreshold: Type.Optional(
    tokenAmount('token-holders policy: the least balance of holderToken admitted (0: one base unit)'),
  ),
  price: Type.Optional(decimal),
  grantDurationSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 4294967295 })),
});

/** POST /api/v1/services/{id}/allowlist */
export const allowlistChangeSchema = obj({
  add: Type.Optional(Type.Array(address, { maxItems: 256 })),
  remove: Type.Optional(Type.Array(address, { maxItems: 256 })),
});

/** GET /healthz: the process serves HTTP. */
export const healthSchema = obj({
  status: Type.Literal('ok'),
  uptimeSeconds: Type.Integer({ minimum: 0 }),
});

/** GET /readyz: whether the node's parts are up (503 with the same body when not). */
export const readySchema = obj({
  ready: Type.Boolean(),
  checks: obj({
    chain: Type.Boolean({ description: 'the chain answers' }),
    network: nullable(
      Type.Boolean({ description: 'the p2p node is in the network (null: runs without p2p)' }),
    ),
    api: Type.Boolean(),
  }),
});

/** One organization network this node runs (its own host, admission, DHT and peers). */
export const orgNetworkSchema = obj({
  orgId: decimal,
  name: Type.String({ maxLength: 256 }),
  label: Type.String({ maxLength: 64 }),
  protocolPrefix: Type.String({ maxLength: 128, description: 'every stream of this network runs under it' }),
  networkServiceId: decimal,
  grantId: decimal,
  peerId,
  multiaddrs: Type.Array(Type.String({ maxLength: 512 })),
  admitted: count,
  peers: Type.Array(peerId),
  routingTable: count,
  relay: Type.Boolean(),
  relays: obj(
    {
      target: count,
      held: Type.Array(
        obj({
          peerId,
          addrs: Type.Array(Type.String({ maxLength: 512 })),
          since: Type.String({ maxLength: 64 }),
        }),
      ),
    },
    { description: "reservations this node holds on the organization's own relays" },
  ),
  joinedAt: Type.String({ maxLength: 64 }),
  recordPublishedAt: Type.Optional(Type.String({ maxLength: 64 })),
});
export const orgNetworksSchema = obj({ networks: Type.Array(orgNetworkSchema) });
export const orgLeftSchema = obj({ orgId: decimal, left: Type.Boolean() });

/** The events of GET /api/v1/events. */
export const dibsEvents = {
  counters: obj({
    at: unixMs,
    sessions: Type.Array(obj({ id, bytesIn: count, bytesOut: count })),
  }),
  changed: obj({ resource: Type.Enum(CHANGED_RESOURCES), id: Type.Optional(id) }),
  log: logEntrySchema,
};

export type Identity = Static<typeof identitySchema>;
export type ChainStatus = Static<typeof chainSchema>;
export type Balance = Static<typeof balanceSchema>;
export type SocksProxy = Static<typeof proxySchema>;
export type StartProxy = Static<typeof startProxySchema>;
export type Peer = Static<typeof peerSchema>;
export type Service = Static<typeof serviceSchema>;
export type PublishService = Static<typeof publishServiceSchema>;
export type Grant = Static<typeof grantSchema>;
export type RequestGrant = Static<typeof requestGrantSchema>;
export type Session = Static<typeof sessionSchema>;
export type ConnectListener = Static<typeof connectListenerSchema>;
export type Connect = Static<typeof connectSchema>;
export type Connection = Static<typeof connectionSchema>;
export type LogEntry = Static<typeof logEntrySchema>;
export type VpnSession = Static<typeof vpnSessionSchema>;
export type VpnStatus = Static<typeof vpnStatusSchema>;
export type VpnUp = Static<typeof vpnUpSchema>;
export type LogsQuery = Static<typeof logsQuerySchema>;
export type DibsEvents = typeof dibsEvents;
export type Health = Static<typeof healthSchema>;
export type AuditRecordOut = Static<typeof auditRecordSchema>;
export type AuditQueryIn = Static<typeof auditQuerySchema>;
export type Ready = Static<typeof readySchema>;
export type OrgNetworkOut = Static<typeof orgNetworkSchema>;
export type OrgLeft = Static<typeof orgLeftSchema>;
export type FleetNodeOut = Static<typeof fleetNodeSchema>;
export type ServicePolicyOut = Static<typeof servicePolicySchema>;
export type UpdatePolicy = Static<typeof updatePolicySchema>;
export type AllowlistChange = Static<typeof allowlistChangeSchema>;

type Maybe<T> = T | Promise<T>;
type Ctx = RequestContext<unknown, unknown, unknown>;

/** What the daemon implements; throw a typed error (status + code) for 4xx answers. */
export interface DibsApiHandlers {
  identity(): Maybe<Identity>;
  chain(): Maybe<ChainStatus>;
  balance(): Maybe<Balance>;
  peers(): Maybe<Peer[]>;
  services(): Maybe<Service[]>;
  publishService(input: PublishService, ctx: Ctx): Maybe<Service>;
  retireService(id: string, ctx: Ctx): Maybe<void>;
  grants(): Maybe<Grant[]>;
  requestGrant(input: RequestGrant, ctx: Ctx): Maybe<Grant>;
  revokeGrant(id: string, ctx: Ctx): Maybe<void>;
  sessions(): Maybe<Session[]>;
  connectListeners(): Maybe<ConnectListener[]>;
  connect(input: Connect, ctx: Ctx): Maybe<Connection>;
  disconnect(id: string, ctx: Ctx): Maybe<void>;
  proxies(): Maybe<SocksProxy[]>;
  startProxy(input: StartProxy, ctx: Ctx): Maybe<SocksProxy>;
  stopProxy(id: string, ctx: Ctx): Maybe<void>;
  vpnStatus(): Maybe<VpnStatus>;
  vpnUp(input: VpnUp, ctx: Ctx): Maybe<VpnSession>;
  vpnDown(serviceId: string, ctx: Ctx): Maybe<void>;
  logs(query: LogsQuery): Maybe<LogEntry[]>;
  audit(query: AuditQueryIn): Maybe<AuditRecordOut[]>;
  /** The organization networks this node runs. */
  orgNetworks(): Maybe<OrgNetworkOut[]>;
  /** Joins organization `id`'s network now (and after restarts). */
  joinOrg(id: string, ctx: Ctx): Maybe<OrgNetworkOut>;
  /** Leaves organization `id`'s network; its other networks are untouched. */
  leaveOrg(id: string, ctx: Ctx): Maybe<OrgLeft>;
  health(): Maybe<Health>;
  ready(): Maybe<Ready>;
  /** Prometheus text exposition of the node's metrics. */
  metrics(): Maybe<string>;
  fleet(): Maybe<FleetNodeOut[]>;
  setNodeLabel(address: string, label: string, ctx: Ctx): Maybe<void>;
  servicePolicy(id: string): Maybe<ServicePolicyOut>;
  updatePolicy(id: string, input: UpdatePolicy, ctx: Ctx): Maybe<ServicePolicyOut>;
  changeAllowlist(id: string, input: AllowlistChange, ctx: Ctx): Maybe<ServicePolicyOut>;
}

const byId = obj({ id });
const notFound = { 404: 'No such id' };

/** Declares every v1 route on `api` backed by `handlers`; returns the publisher of GET /api/v1/events. */
export function registerDibsApi(api: ApiServer, handlers: DibsApiHandlers): EventStream<DibsEvents> {
  api.route({
    method: 'GET',
    path: '/api/v1/identity',
    summary: "This node's identity: address, DID, PeerId",
    tags: ['node'],
    response: identitySchema,
    handler: () => handlers.identity(),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/chain',
    summary: 'Chain connection, head block and contract addresses',
    tags: ['node'],
    response: chainSchema,
    handler: () => handlers.chain(),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/balance',
    summary: "This node's wallet balance: the chain currency and the DIBS token",
    tags: ['node'],
    response: balanceSchema,
    errors: { 502: 'The chain is unreachable' },
    handler: () => handlers.balance(),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/peers',
    summary: 'Known peers with RTT and path',
    tags: ['network'],
    response: peersSchema,
    handler: async () => ({ peers: await handlers.peers() }),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/services',
    summary: 'Own and reachable services',
    tags: ['services'],
    response: servicesSchema,
    handler: async () => ({ services: await handlers.services() }),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/services',
    summary: 'Publish a service on chain and advertise it',
    tags: ['services'],
    status: 201,
    body: publishServiceSchema,
    response: serviceSchema,
    errors: {
      409: 'A service with this name is already published',
      502: 'The chain refused or is unreachable',
    },
    handler: (ctx) => handlers.publishService(ctx.body, ctx),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/services/:id',
    summary: 'Retire an own service',
    tags: ['services'],
    params: byId,
    errors: { ...notFound, 403: 'Not published by this node' },
    handler: (ctx) => handlers.retireService(ctx.params.id, ctx),
  });
  const ownerErrors = {
    ...notFound,
    400: 'The change is not valid for this policy',
    403: 'Not owned by this node',
    502: 'The chain refused or is unreachable',
  };
  api.route({
    method: 'GET',
    path: '/api/v1/services/:id/policy',
    summary: "A service's policy, terms and allowlist as the chain holds them",
    tags: ['services'],
    params: byId,
    response: servicePolicySchema,
    errors: { ...notFound, 502: 'The chain is unreachable' },
    handler: (ctx) => handlers.servicePolicy(ctx.params.id),
  });
  api.route({
    method: 'PATCH',
    path: '/api/v1/services/:id/policy',
    summary:
      "Change an own service's policy, organization, holder token, token threshold, price or grant duration (Services.update, Services.setTokenThreshold)",
    tags: ['services'],
    params: byId,
    body: updatePolicySchema,
    response: servicePolicySchema,
    errors: ownerErrors,
    handler: (ctx) => handlers.updatePolicy(ctx.params.id, ctx.body, ctx),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/services/:id/allowlist',
    summary:
      "Add accounts to or remove them from an own service's allowlist; holders removed lose their live tunnels",
    tags: ['services'],
    params: byId,
    body: allowlistChangeSchema,
    response: servicePolicySchema,
    errors: ownerErrors,
    handler: (ctx) => handlers.changeAllowlist(ctx.params.id, ctx.body, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/fleet',
    summary: 'Every node registered on chain: label, roles, online, RTT, hosted services',
    tags: ['network'],
    response: fleetSchema,
    errors: { 502: 'The chain is unreachable' },
    handler: async () => ({ nodes: await handlers.fleet() }),
  });
  api.route({
    method: 'PUT',
    path: '/api/v1/fleet/:address/label',
    summary: "Name a node (kept in this node's database; empty removes the name)",
    tags: ['network'],
    params: obj({ address }),
    body: setLabelSchema,
    handler: (ctx) => handlers.setNodeLabel(ctx.params.address, ctx.body.label, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/grants',
    summary: 'Grants held by this node and grants on its services',
    tags: ['grants'],
    response: grantsSchema,
    handler: async () => ({ grants: await handlers.grants() }),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/grants',
    summary: 'Request access to a service (pays its price)',
    tags: ['grants'],
    status: 201,
    body: requestGrantSchema,
    response: grantSchema,
    errors: {
      ...notFound,
      403: 'The service policy refuses this node',
      502: 'The chain refused or is unreachable',
    },
    handler: (ctx) => handlers.requestGrant(ctx.body, ctx),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/grants/:id',
    summary: 'Revoke a grant on an own service',
    tags: ['grants'],
    params: byId,
    errors: { ...notFound, 403: 'Only the service owner may revoke' },
    handler: (ctx) => handlers.revokeGrant(ctx.params.id, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/sessions',
    summary: 'Open sessions with byte counters',
    tags: ['sessions'],
    response: sessionsSchema,
    handler: async () => ({
      sessions: await handlers.sessions(),
      connections: await handlers.connectListeners(),
    }),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/connections',
    summary: 'Connect to a service: open a local port forwarded to it',
    tags: ['sessions'],
    status: 201,
    body: connectSchema,
    response: connectionSchema,
    errors: {
      ...notFound,
      403: 'No valid grant for this service',
      502: 'The service host could not be reached',
    },
    handler: (ctx) => handlers.connect(ctx.body, ctx),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/connections/:id',
    summary: 'Close a connection and its session',
    tags: ['sessions'],
    params: byId,
    errors: notFound,
    handler: (ctx) => handlers.disconnect(ctx.params.id, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/proxies',
    summary: 'Local SOCKS5 proxies',
    tags: ['sessions'],
    response: proxiesSchema,
    handler: async () => ({ proxies: await handlers.proxies() }),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/proxies',
    summary: 'Start a local SOCKS5 proxy whose connections go through DIBS',
    tags: ['sessions'],
    status: 201,
    body: startProxySchema,
    response: proxySchema,
    errors: { 409: 'The address is in use', 503: 'This node runs without the p2p network' },
    handler: (ctx) => handlers.startProxy(ctx.body, ctx),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/proxies/:id',
    summary: 'Stop a local SOCKS5 proxy',
    tags: ['sessions'],
    params: byId,
    errors: notFound,
    handler: (ctx) => handlers.stopProxy(ctx.params.id, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/org-networks',
    summary: 'Organization networks this node runs besides the public one',
    tags: ['network'],
    response: orgNetworksSchema,
    handler: async () => ({ networks: await handlers.orgNetworks() }),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/orgs/:id/join',
    summary: "Join an organization's network (own admission, DHT and peers); kept across restarts",
    tags: ['network'],
    params: byId,
    response: orgNetworkSchema,
    errors: {
      ...notFound,
      403: 'This node is neither a member nor a node of the organization',
      409: 'The node runs the most organization networks it may',
      502: 'The chain refused or is unreachable',
    },
    handler: (ctx) => handlers.joinOrg(ctx.params.id, ctx),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/orgs/:id/leave',
    summary: "Leave an organization's network; the node's other networks are untouched",
    tags: ['network'],
    params: byId,
    response: orgLeftSchema,
    handler: (ctx) => handlers.leaveOrg(ctx.params.id, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/vpn',
    summary: 'L3 VPN sessions (hosted and joined) with WireGuard counters',
    tags: ['sessions'],
    response: vpnStatusSchema,
    handler: () => handlers.vpnStatus(),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/vpn',
    summary: 'Join a vpn service at L3 (WireGuard keyed by the ticket)',
    tags: ['sessions'],
    status: 201,
    body: vpnUpSchema,
    response: vpnSessionSchema,
    errors: { 409: 'Already up', 501: 'This host cannot run the L3 VPN (use the SOCKS5 proxy)' },
    handler: (ctx) => handlers.vpnUp(ctx.body, ctx),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/vpn/:id',
    summary: "Leave a vpn service's L3 session (id: the service id)",
    tags: ['sessions'],
    params: byId,
    errors: notFound,
    handler: (ctx) => handlers.vpnDown(ctx.params.id, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/logs',
    summary: 'Recent log lines, newest last',
    tags: ['node'],
    query: logsQuerySchema,
    response: logsSchema,
    handler: async ({ query }) => ({ entries: await handlers.logs(query) }),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/audit',
    summary: 'The audit trail: grants issued and revoked, refusals and sessions (who, service, bytes, path)',
    tags: ['operations'],
    query: auditQuerySchema,
    response: auditSchema,
    handler: async ({ query }) => ({ records: await handlers.audit(query) }),
  });
  api.route({
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness: the node serves HTTP (no token needed, no secrets)',
    tags: ['operations'],
    public: true,
    response: healthSchema,
    handler: () => handlers.health(),
  });
  api.route({
    method: 'GET',
    path: '/readyz',
    summary:
      "Readiness: the node's chain and network are up; 503 with the same body when not (no token needed)",
    tags: ['operations'],
    public: true,
    response: readySchema,
    errors: { 503: 'Not ready' },
    handler: async ({ reply }) => {
      const report = await handlers.ready();
      if (!report.ready)
        return reply.code(503).serializer(JSON.stringify).type('application/json').send(report);
      return report;
    },
  });
  api.route({
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics in the text exposition format (bearer token required)',
    tags: ['operations'],
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    response: Type.String(),
    handler: () => handlers.metrics(),
  });
  return api.eventStream({
    path: '/api/v1/events',
    summary: 'Live session counters, change notices and log lines',
    description:
      '`counters` carries byte totals per open session; `changed` names a resource whose list should be fetched again; `log` carries new log lines.',
    tags: ['node'],
    events: dibsEvents,
    onConnect: async () => {
      const sessions = await handlers.sessions();
      return [
        {
          event: 'counters',
          data: {
            at: Date.now(),
            sessions: sessions.map((x) => ({ id: x.id, bytesIn: x.bytesIn, bytesOut: x.bytesOut })),
          },
        },
      ];
    },
  });
}
