/**
 * The node's management API as TypeScript types, generated from its OpenAPI document: `paths` for
 * openapi-fetch, and a name for each answer and body the clients use.
 */
import type { paths } from '../generated/openapi.ts';

export type { paths };

type Ops = { [P in keyof paths]: paths[P] };
/** The JSON answer of `method path` with status `S` (200 by default). */
export type Answer<
  P extends keyof paths,
  M extends keyof Ops[P],
  S extends number = 200,
> = Ops[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer T } } };
}
  ? T
  : never;
/** The JSON body of `method path`. */
export type Body<P extends keyof paths, M extends keyof Ops[P]> = Ops[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? T
  : never;

export type Identity = Answer<'/api/v1/identity', 'get'>;
export type ChainStatus = Answer<'/api/v1/chain', 'get'>;
/** How the node trusts its chain: full, or light (admits on proven state only). */
export type ChainTrust = NonNullable<ChainStatus['trust']>;
export type Balance = Answer<'/api/v1/balance', 'get'>;
export type Peer = Answer<'/api/v1/peers', 'get'>['peers'][number];
export type Service = Answer<'/api/v1/services', 'get'>['services'][number];
export type PublishService = Body<'/api/v1/services', 'post'>;
export type Grant = Answer<'/api/v1/grants', 'get'>['grants'][number];
export type Session = Answer<'/api/v1/sessions', 'get'>['sessions'][number];
export type ConnectListener = Answer<'/api/v1/sessions', 'get'>['connections'][number];
export type Connection = Answer<'/api/v1/connections', 'post', 201>;
export type SocksProxy = Answer<'/api/v1/proxies', 'get'>['proxies'][number];
export type StartProxy = Body<'/api/v1/proxies', 'post'>;
export type VpnStatus = Answer<'/api/v1/vpn', 'get'>;
export type VpnSession = VpnStatus['sessions'][number];
export type AuditRecord = Answer<'/api/v1/audit', 'get'>['records'][number];
export type LogEntry = Answer<'/api/v1/logs', 'get'>['entries'][number];
export type LogLevel = LogEntry['level'];
export type ServicePolicy = Service['policy'];
export type ServiceType = PublishService['type'];
export type PublishPolicy = NonNullable<PublishService['policy']>;
/** An organization with this node's role in it. */
export type OrgSummary = Answer<'/api/v1/orgs', 'get'>['organizations'][number];
export type OrgRole = NonNullable<OrgSummary['role']>;
/** One organization whole: members, nodes, token, network service, fleet configuration. */
export type OrgDetails = Answer<'/api/v1/orgs/{id}', 'get'>;
export type OrgService = Answer<'/api/v1/orgs/{id}/services', 'get'>['services'][number];
export type OrgGrant = Answer<'/api/v1/orgs/{id}/grants', 'get'>['grants'][number];
export type CreateOrg = Body<'/api/v1/orgs', 'post'>;
export type OrgMembership = Answer<'/api/v1/orgs/{id}/members', 'post', 201>;
export type OrgTokenMoved = Answer<'/api/v1/orgs/{id}/token/transfer', 'post'>;

/** One event of GET /api/v1/events: its name and data. */
export type ApiEvent = paths['/api/v1/events']['get']['responses'][200]['content']['text/event-stream'];
/** The events of GET /api/v1/events by name. */
export type ApiEvents = { [E in ApiEvent as E['event']]: E['data'] };
export type ChangedResource = ApiEvents['changed']['resource'];
/** The error body of every failed request. */
export type ApiErrorBody = Answer<'/api/v1/identity', 'get', 500>;
export type FleetNode = Answer<'/api/v1/fleet', 'get'>['nodes'][number];
export type ServicePolicyInfo = Answer<'/api/v1/services/{id}/policy', 'get'>;
export type UpdatePolicy = Body<'/api/v1/services/{id}/policy', 'patch'>;
export type AllowlistChange = Body<'/api/v1/services/{id}/allowlist', 'post'>;
