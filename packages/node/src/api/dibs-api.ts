/**
 * The node's v1 management API as data: every route the UI uses, its schemas, and the handler
 * interface the daemon implements. `registerDibsApi` wires an implementation onto an ApiServer.
 */
import type { EventStream } from './event-stream.ts';
import type { RequestContext } from './route.ts';
import { type Infer, s } from './schema.ts';
import type { ApiServer } from './server.ts';

const address = s.string({
  pattern: /^0x[0-9a-fA-F]{40}$/,
  patternName: 'a 0x-prefixed 20-byte hex address',
  example: '0x5B38Da6a701c568545dCfcB03FcB875f56beddC4',
});
const peerId = s.string({ minLength: 1, maxLength: 128, description: 'libp2p PeerId (base58)' });
const id = s.string({
  minLength: 1,
  maxLength: 96,
  pattern: /^[A-Za-z0-9._:-]+$/,
  patternName: 'an id made of letters, digits and . _ : -',
});
const decimal = s.string({
  pattern: /^(0|[1-9]\d{0,77})$/,
  patternName: 'a non-negative decimal integer string (amounts are strings: they exceed 2^53)',
});
const unixMs = s.integer({ min: 0, description: 'Unix time in milliseconds' });
const unixSeconds = s.integer({ min: 0, description: 'Unix time in seconds' });
const path = s.enum(['direct', 'relayed'], { description: 'How the connection reaches the peer' });

/** Service access policies, as the Services contract knows them. */
export const SERVICE_POLICIES = [
  'public',
  'allowlist',
  'organization',
  'organization-network',
  'token-holders',
] as const;
/** Policies a node can publish a service under (token-holder services are set up on chain directly). */
export const PUBLISH_POLICIES = ['public', 'allowlist', 'organization'] as const;
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
] as const;
/** Log levels, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** GET /api/v1/identity */
export const identitySchema = s.object({
  address,
  did: s.string({ maxLength: 200, description: 'did:pkh:eip155:<chainId>:<address>' }),
  peerId,
  version: s.string({ maxLength: 64 }),
  startedAt: unixMs,
  listenAddresses: s.array(s.string({ maxLength: 300 }), {
    description: 'libp2p multiaddrs this node listens on',
  }),
});

/** GET /api/v1/chain */
export const chainSchema = s.object({
  rpcUrl: s.string({ maxLength: 500 }),
  chainId: s.integer({ min: 0 }),
  embedded: s.boolean({ description: 'true when the node runs its own anvil' }),
  reachable: s.boolean(),
  headBlock: s.nullable(s.integer({ min: 0 })),
  headTime: s.nullable(unixSeconds),
  contracts: s.array(s.object({ name: s.string({ maxLength: 64 }), address })),
  view: s.nullable(
    s.object({
      state: s.enum(['fresh', 'stale', 'closing'], {
        description:
          'fresh: tickets accepted; stale: the mirror lags past the revocation bound, new tickets are refused (CHAIN_STALE); closing: past the longer bound, live sessions are closed too',
      }),
      code: s.nullable(s.enum(['CHAIN_STALE'])),
      headBlock: s.nullable(s.integer({ min: 0, description: 'head seen by the independent head poll' })),
      syncedBlock: s.integer({
        min: -1,
        description: 'last block the chain mirror applied (-1 before its first sync)',
      }),
      lagBlocks: s.integer({ min: 0 }),
      lagMs: s.integer({ min: 0 }),
      reason: s.nullable(s.string({ maxLength: 300 })),
    }),
  ),
  trust: s.optional(
    s.object({
      mode: s.enum(['full', 'light'], {
        description:
          'full: this node believes its chain (and signs checkpoints when it runs it); light: it admits only on state proven against accepted checkpoints',
      }),
      checkpoint: s.nullable(
        s.object({
          number: decimal,
          blockHash: s.string({ maxLength: 66 }),
          stateRoot: s.string({ maxLength: 66 }),
        }),
      ),
      signers: s.array(address, {
        description: 'light: the trusted full nodes that signed the accepted checkpoint; full: this node',
      }),
      nodeSet: s.array(address, { description: 'light: the full-node set trusted now' }),
      required: s.integer({ min: 0, description: 'light: signatures a newer checkpoint needs' }),
      lastRefusal: s.nullable(s.string({ maxLength: 1000 })),
      refusedCount: s.integer({ min: 0, description: 'RPC answers refused because they did not verify' }),
      refusedAnswers: s.array(
        s.object({
          at: unixMs,
          url: s.string({ maxLength: 500 }),
          what: s.string({ maxLength: 200 }),
          code: s.string({ maxLength: 64 }),
          reason: s.string({ maxLength: 1000 }),
        }),
      ),
    }),
  ),
});

/** GET /api/v1/balance: amounts in the smallest unit (wei), as decimal strings. */
export const balanceSchema = s.object({
  address,
  native: decimal,
  nativeSymbol: s.string({ maxLength: 16, description: 'symbol of the chain currency, e.g. ETH' }),
  token: s.object({
    address,
    symbol: s.string({ maxLength: 32 }),
    decimals: s.integer({ min: 0, max: 255 }),
    balance: decimal,
  }),
});

/** One known peer (connected or only known from the DHT / bootstrap list). */
export const peerSchema = s.object({
  peerId,
  address: s.nullable(address),
  connected: s.boolean(),
  path,
  relay: s.nullable(peerId),
  rttMs: s.nullable(s.number({ min: 0 })),
  roles: s.array(s.enum(['bootstrap', 'relay', 'service-host'])),
  remoteAddress: s.nullable(s.string({ maxLength: 300 })),
  since: s.nullable(unixMs),
});

/** GET /api/v1/peers */
export const peersSchema = s.object({ peers: s.array(peerSchema) });

/** A service: own (published here) or reachable (published by another node). */
export const serviceSchema = s.object({
  id,
  name: s.string({ maxLength: 64 }),
  type: s.string({ maxLength: 32 }),
  owner: address,
  own: s.boolean({ description: 'published by this node' }),
  host: s.nullable(peerId),
  target: s.nullable(
    s.string({ maxLength: 300, description: 'host:port behind the service (own services only)' }),
  ),
  price: decimal,
  token: s.nullable(address),
  policy: s.enum(SERVICE_POLICIES),
  active: s.boolean(),
  reachable: s.boolean(),
  connection: s.nullable(s.object({ id, localAddress: s.string({ maxLength: 100 }) })),
});

/** GET /api/v1/services */
export const servicesSchema = s.object({ services: s.array(serviceSchema) });

/** POST /api/v1/services */
export const publishServiceSchema = s.object({
  name: s.string({
    minLength: 1,
    maxLength: 64,
    pattern: /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/,
    patternName: 'a name of letters, digits, spaces and . _ - (starting with a letter or digit)',
  }),
  type: s.enum(SERVICE_TYPES),
  target: s.optional(
    s.string({
      maxLength: 300,
      pattern: /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/,
      patternName: 'host:port, e.g. 127.0.0.1:8080',
      description: 'required for tcp and http',
    }),
  ),
  allow: s.optional(
    s.array(
      s.string({
        maxLength: 64,
        pattern: /^[0-9a-fA-F.:]+\/\d{1,3}(:\d{1,5}(-\d{1,5})?)?$/,
        patternName: 'cidr[:port[-port]], e.g. 10.0.0.0/8:80-443',
      }),
      { maxItems: 64, description: 'vpn only: what clients may reach' },
    ),
  ),
  price: s.optional(decimal),
  policy: s.optional(s.enum(PUBLISH_POLICIES)),
  allowlist: s.optional(s.array(address, { maxItems: 256, description: 'allowlist policy: who may' })),
  organizationId: s.optional(id),
});

/** A grant of access to a service, held by this node or issued on a service this node owns. */
export const grantSchema = s.object({
  id,
  serviceId: id,
  serviceName: s.string({ maxLength: 64 }),
  grantee: address,
  owner: address,
  role: s.enum(['holder', 'owner'], {
    description: 'holder: this node may use it; owner: this node may revoke it',
  }),
  issuedAt: unixSeconds,
  expiresAt: unixSeconds,
  revoked: s.boolean(),
});

/** GET /api/v1/grants */
export const grantsSchema = s.object({ grants: s.array(grantSchema) });

/** POST /api/v1/grants */
export const requestGrantSchema = s.object({
  serviceId: s.string({
    pattern: /^[1-9]\d{0,76}$/,
    patternName: 'a service id (a positive decimal integer)',
  }),
});

/** An open session (tunnel, proxy, login) with its byte counters. */
export const sessionSchema = s.object({
  id,
  serviceId: id,
  serviceName: s.string({ maxLength: 64 }),
  peerId,
  direction: s.enum(['inbound', 'outbound']),
  path,
  openedAt: unixMs,
  bytesIn: s.integer({ min: 0 }),
  bytesOut: s.integer({ min: 0 }),
});

/**
 * A local listener forwarding each accepted connection to a service (what `dibs connect` opens),
 * with its counters since it opened: open tunnels now, bytes of every tunnel, closed ones included.
 */
export const connectListenerSchema = s.object({
  id,
  serviceId: id,
  serviceName: s.string({ maxLength: 64 }),
  localAddress: s.string({ maxLength: 100 }),
  openedAt: unixMs,
  open: s.integer({ min: 0, description: 'tunnels open now' }),
  bytesIn: s.integer({ min: 0 }),
  bytesOut: s.integer({ min: 0 }),
  lastError: s.nullable(s.string({ maxLength: 500 })),
});

/** GET /api/v1/sessions */
export const sessionsSchema = s.object({
  sessions: s.array(sessionSchema),
  connections: s.array(connectListenerSchema, { description: 'connect listeners and their counters' }),
});

/** POST /api/v1/connections */
export const connectSchema = s.object({
  serviceId: id,
  localPort: s.optional(s.integer({ min: 0, max: 65535, description: '0 or absent picks a free port' })),
});

/** A local connection to a remote service (a listening port forwarded through DIBS). */
export const connectionSchema = s.object({
  id,
  serviceId: id,
  localAddress: s.string({ maxLength: 100 }),
  sessionId: s.nullable(id),
});

/** A local SOCKS5 proxy sending each connection through DIBS tunnels. */
export const proxySchema = s.object({
  id,
  localAddress: s.string({ maxLength: 100 }),
  openedAt: unixMs,
  tunnels: s.integer({ min: 0, description: 'tunnels open now' }),
});

/** GET /api/v1/proxies */
export const proxiesSchema = s.object({ proxies: s.array(proxySchema) });

/** POST /api/v1/proxies */
export const startProxySchema = s.object({
  listen: s.optional(
    s.string({
      maxLength: 100,
      pattern: /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}$|^localhost:\d{1,5}$/,
      patternName: 'a loopback host:port, e.g. 127.0.0.1:1080 (port 0 picks one)',
    }),
  ),
  via: s.optional(id),
});

/** One log line. */
export const logEntrySchema = s.object({
  seq: s.integer({ min: 0 }),
  time: s.string({ maxLength: 40, format: 'date-time' }),
  level: s.enum(LOG_LEVELS),
  component: s.nullable(s.string({ maxLength: 100 })),
  message: s.string({ maxLength: 2000 }),
  fields: s.record(s.string({ maxLength: 2000 }), { maxProperties: 64 }),
});

/** GET /api/v1/logs query */
export const logsQuerySchema = s.object({
  limit: s.optional(s.integer({ min: 1, max: 1000, description: 'newest entries to return (default 200)' })),
  level: s.optional(s.enum(LOG_LEVELS, { description: 'minimum level' })),
});

/** GET /api/v1/logs */
export const logsSchema = s.object({ entries: s.array(logEntrySchema) });

/** The events of GET /api/v1/events. */
export const dibsEvents = {
  counters: s.object({
    at: unixMs,
    sessions: s.array(s.object({ id, bytesIn: s.integer({ min: 0 }), bytesOut: s.integer({ min: 0 }) })),
  }),
  changed: s.object({ resource: s.enum(CHANGED_RESOURCES), id: s.optional(id) }),
  log: logEntrySchema,
};

export type Identity = Infer<typeof identitySchema>;
export type ChainStatus = Infer<typeof chainSchema>;
export type Balance = Infer<typeof balanceSchema>;
export type SocksProxy = Infer<typeof proxySchema>;
export type StartProxy = Infer<typeof startProxySchema>;
export type Peer = Infer<typeof peerSchema>;
export type Service = Infer<typeof serviceSchema>;
export type PublishService = Infer<typeof publishServiceSchema>;
export type Grant = Infer<typeof grantSchema>;
export type RequestGrant = Infer<typeof requestGrantSchema>;
export type Session = Infer<typeof sessionSchema>;
export type ConnectListener = Infer<typeof connectListenerSchema>;
export type Connect = Infer<typeof connectSchema>;
export type Connection = Infer<typeof connectionSchema>;
export type LogEntry = Infer<typeof logEntrySchema>;
export type LogsQuery = Infer<typeof logsQuerySchema>;
export type DibsEvents = typeof dibsEvents;

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
  logs(query: LogsQuery): Maybe<LogEntry[]>;
}

const byId = s.object({ id });
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
    path: '/api/v1/logs',
    summary: 'Recent log lines, newest last',
    tags: ['node'],
    query: logsQuerySchema,
    response: logsSchema,
    handler: async ({ query }) => ({ entries: await handlers.logs(query) }),
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
