/**
 * The organization routes of the v1 API as data: list, show, create, members, nodes, token, fleet
 * configuration, and each organization's services and grants. `registerOrgApi` wires a handler
 * implementation onto an ApiServer (token and Host checks as on every route).
 */
import { type Static, Type } from 'typebox';
import type { RequestContext } from './route.ts';
import { address, decimal, nullable, obj, unixSeconds } from './schema-parts.ts';
import type { ApiServer } from './server.ts';

const orgId = Type.String({
  pattern: '^[1-9]\\d{0,20}$',
  description: 'an organization id (a positive decimal integer)',
});
const envKey = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'a fleet configuration key, 1-64 bytes',
});
const envValue = Type.String({ maxLength: 1024, description: 'a value, up to 1024 bytes' });
/** Most members, nodes, services or grants one answer lists. */
const MAX_LISTED = 10_000;

/** Someone's part in an organization. */
export const ORG_ROLES = ['admin', 'member', 'node'] as const;

/** An organization with this node's role in it. */
export const orgSummarySchema = obj({
  id: orgId,
  name: Type.String({ maxLength: 64 }),
  networkLabel: Type.String({ maxLength: 32 }),
  admin: address,
  token: address,
  networkServiceId: decimal,
  role: nullable(Type.Enum(ORG_ROLES, { description: "this node's wallet in the organization" })),
});

/** GET /api/v1/orgs query */
export const orgListQuerySchema = obj({
  mine: Type.Optional(
    Type.Boolean({ description: 'only organizations this wallet administers, is a member or a node of' }),
  ),
});

/** GET /api/v1/orgs */
export const orgListSchema = obj({ organizations: Type.Array(orgSummarySchema, { maxItems: MAX_LISTED }) });

/** A service restricted to one organization. */
export const orgServiceSchema = obj({
  id: decimal,
  name: Type.String({ maxLength: 128 }),
  type: Type.String({ maxLength: 32 }),
  owner: address,
  host: address,
  price: decimal,
  paymentToken: address,
  audience: Type.Enum(['network', 'members'], {
    description:
      "network: the organization's own network service (members and member nodes); members: members only",
  }),
  active: Type.Boolean(),
});

/** GET /api/v1/orgs/{id}/services */
export const orgServicesSchema = obj({ services: Type.Array(orgServiceSchema, { maxItems: MAX_LISTED }) });

/** A grant on one of an organization's services. */
export const orgGrantSchema = obj({
  id: decimal,
  serviceId: decimal,
  serviceName: Type.String({ maxLength: 128 }),
  grantee: address,
  issuedAt: unixSeconds,
  expiresAt: unixSeconds,
  revoked: Type.Boolean(),
});

/** GET /api/v1/orgs/{id}/grants */
export const orgGrantsSchema = obj({ grants: Type.Array(orgGrantSchema, { maxItems: MAX_LISTED }) });

/** GET /api/v1/orgs/{id}/env */
export const orgEnvSchema = obj({
  env: Type.Record(Type.String({ maxLength: 64 }), envValue, { maxProperties: 64 }),
});

/** GET /api/v1/orgs/{id} */
export const orgDetailsSchema = obj({
  ...orgSummarySchema.properties,
  members: Type.Array(address, { maxItems: MAX_LISTED }),
  nodes: Type.Array(address, { maxItems: MAX_LISTED }),
  tokenInfo: obj({
    address,
    symbol: Type.String({ maxLength: 32 }),
    decimals: Type.Integer({ minimum: 0, maximum: 255 }),
    totalSupply: decimal,
    balance: decimal,
  }),
  networkService: nullable(orgServiceSchema),
  env: orgEnvSchema.properties.env,
});

/** POST /api/v1/orgs */
export const createOrgSchema = obj({
  name: Type.String({ minLength: 1, maxLength: 64, description: 'organization name (1-64 bytes)' }),
  token: Type.Optional(
    Type.Union([Type.Literal('new'), address], {
      description: 'its token: "new" (a fresh OrgToken, the default) or an existing ERC-20',
    }),
  ),
  networkLabel: Type.Optional(
    Type.String({ minLength: 1, maxLength: 32, description: 'network label (default: from the name)' }),
  ),
  networkPrice: Type.Optional(decimal),
});

/** POST /api/v1/orgs/{id}/members and /nodes */
export const orgAccountSchema = obj({ address });

/** An admin write on a member or a node, done. */
export const orgMembershipSchema = obj({
  orgId,
  address,
  role: Type.Enum(['member', 'node']),
  present: Type.Boolean({ description: 'whether the address now holds the role' }),
});

/** POST /api/v1/orgs/{id}/token/mint and /transfer */
export const orgTokenMoveSchema = obj({ to: address, amount: decimal });

/** The answer of a mint or a transfer. */
export const orgTokenMovedSchema = obj({
  orgId,
  to: address,
  amount: decimal,
  balance: decimal,
  account: Type.Optional(address),
});

/** PUT /api/v1/orgs/{id}/env/{key} */
export const orgEnvSetSchema = obj({ value: envValue });

/** GET /api/v1/orgs/{id}/env/{key} */
export const orgEnvEntrySchema = obj({ orgId, key: envKey, value: envValue });

export type OrgSummaryOut = Static<typeof orgSummarySchema>;
export type OrgDetailsOut = Static<typeof orgDetailsSchema>;
export type OrgServiceOut = Static<typeof orgServiceSchema>;
export type OrgGrantOut = Static<typeof orgGrantSchema>;
export type CreateOrg = Static<typeof createOrgSchema>;
export type OrgMembership = Static<typeof orgMembershipSchema>;
export type OrgTokenMoved = Static<typeof orgTokenMovedSchema>;
export type OrgEnvEntry = Static<typeof orgEnvEntrySchema>;

type Maybe<T> = T | Promise<T>;
type Ctx = RequestContext<unknown, unknown, unknown>;

/** What the daemon implements for organizations; throw a typed error for 4xx answers. */
export interface OrgApiHandlers {
  list(mine: boolean): Maybe<OrgSummaryOut[]>;
  show(orgId: string): Maybe<OrgDetailsOut>;
  create(input: CreateOrg, ctx: Ctx): Maybe<OrgSummaryOut>;
  setMembership(
    orgId: string,
    role: 'member' | 'node',
    address: string,
    present: boolean,
  ): Maybe<OrgMembership>;
  mint(orgId: string, to: string, amount: string): Maybe<OrgTokenMoved>;
  transfer(orgId: string, to: string, amount: string): Maybe<OrgTokenMoved>;
  env(orgId: string): Maybe<Record<string, string>>;
  getEnv(orgId: string, key: string): Maybe<OrgEnvEntry>;
  setEnv(orgId: string, key: string, value: string): Maybe<OrgEnvEntry>;
  services(orgId: string): Maybe<OrgServiceOut[]>;
  grants(orgId: string): Maybe<OrgGrantOut[]>;
}

const byOrg = obj({ id: orgId });
const byOrgAccount = obj({ id: orgId, address });
const byOrgKey = obj({ id: orgId, key: envKey });
const TAGS = ['organizations'];
const NOT_FOUND = { 404: 'No such organization' };
const WRITE_ERRORS = {
  ...NOT_FOUND,
  403: 'This node is not the organization’s admin',
  409: 'The change does not fit the organization’s state (already a member, not a node, …)',
  502: 'The chain refused or is unreachable',
};

/** Declares the organization routes on `api` backed by `handlers`. */
export function registerOrgApi(api: ApiServer, handlers: OrgApiHandlers): void {
  api.route({
    method: 'GET',
    path: '/api/v1/orgs',
    summary: "Organizations on chain with this node's role in each (mine=true: only its own)",
    tags: TAGS,
    query: orgListQuerySchema,
    response: orgListSchema,
    errors: { 502: 'The chain is unreachable' },
    handler: async ({ query }) => ({ organizations: await handlers.list(query.mine === true) }),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/orgs',
    summary: 'Create an organization this node administers, with its own network service (3 transactions)',
    tags: TAGS,
    status: 201,
    body: createOrgSchema,
    response: orgSummarySchema,
    errors: { 502: 'The chain refused or is unreachable' },
    handler: (ctx) => handlers.create(ctx.body, ctx),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/orgs/:id',
    summary: 'One organization: admin, members, nodes, token, network label and service, fleet configuration',
    tags: TAGS,
    params: byOrg,
    response: orgDetailsSchema,
    errors: NOT_FOUND,
    handler: ({ params }) => handlers.show(params.id),
  });
  for (const [segment, role] of [
    ['members', 'member'],
    ['nodes', 'node'],
  ] as const) {
    api.route({
      method: 'POST',
      path: `/api/v1/orgs/:id/${segment}`,
      summary: `Add a ${role} (admin only)`,
      tags: TAGS,
      status: 201,
      params: byOrg,
      body: orgAccountSchema,
      response: orgMembershipSchema,
      errors: WRITE_ERRORS,
      handler: ({ params, body }) => handlers.setMembership(params.id, role, body.address, true),
    });
    api.route({
      method: 'DELETE',
      path: `/api/v1/orgs/:id/${segment}/:address`,
      summary: `Remove a ${role} (admin only)`,
      tags: TAGS,
      params: byOrgAccount,
      response: orgMembershipSchema,
      errors: WRITE_ERRORS,
      handler: ({ params }) => handlers.setMembership(params.id, role, params.address, false),
    });
  }
  api.route({
    method: 'POST',
    path: '/api/v1/orgs/:id/token/mint',
    summary: "Mint the organization's OrgToken to an address (admin only)",
    tags: TAGS,
    params: byOrg,
    body: orgTokenMoveSchema,
    response: orgTokenMovedSchema,
    errors: WRITE_ERRORS,
    handler: ({ params, body }) => handlers.mint(params.id, body.to, body.amount),
  });
  api.route({
    method: 'POST',
    path: '/api/v1/orgs/:id/token/transfer',
    summary: "Send some of this node's organization tokens to an address",
    tags: TAGS,
    params: byOrg,
    body: orgTokenMoveSchema,
    response: orgTokenMovedSchema,
    errors: { ...WRITE_ERRORS, 409: 'This node holds less than the amount' },
    handler: ({ params, body }) => handlers.transfer(params.id, body.to, body.amount),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/orgs/:id/env',
    summary: "The organization's fleet configuration (key/value on chain)",
    tags: TAGS,
    params: byOrg,
    response: orgEnvSchema,
    errors: NOT_FOUND,
    handler: async ({ params }) => ({ env: await handlers.env(params.id) }),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/orgs/:id/env/:key',
    summary: 'One fleet configuration value',
    tags: TAGS,
    params: byOrgKey,
    response: orgEnvEntrySchema,
    errors: { 404: 'No such organization, or the key is not set' },
    handler: ({ params }) => handlers.getEnv(params.id, params.key),
  });
  api.route({
    method: 'PUT',
    path: '/api/v1/orgs/:id/env/:key',
    summary: 'Set a fleet configuration key (admin only); an empty value removes it',
    tags: TAGS,
    params: byOrgKey,
    body: orgEnvSetSchema,
    response: orgEnvEntrySchema,
    errors: { ...WRITE_ERRORS, 409: 'The organization has the most keys it may have' },
    handler: ({ params, body }) => handlers.setEnv(params.id, params.key, body.value),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/orgs/:id/env/:key',
    summary: 'Remove a fleet configuration key (admin only)',
    tags: TAGS,
    params: byOrgKey,
    response: orgEnvEntrySchema,
    errors: WRITE_ERRORS,
    handler: ({ params }) => handlers.setEnv(params.id, params.key, ''),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/orgs/:id/services',
    summary: "The organization's services: its network service and services for its members",
    tags: TAGS,
    params: byOrg,
    response: orgServicesSchema,
    errors: NOT_FOUND,
    handler: async ({ params }) => ({ services: await handlers.services(params.id) }),
  });
  api.route({
    method: 'GET',
    path: '/api/v1/orgs/:id/grants',
    summary: "Grants on the organization's services, newest first",
    tags: TAGS,
    params: byOrg,
    response: orgGrantsSchema,
    errors: NOT_FOUND,
    handler: async ({ params }) => ({ grants: await handlers.grants(params.id) }),
  });
}
