/** The node's HTTP API: Fastify routes with TypeBox schemas, bearer auth, OpenAPI, SSE and UI files. */
export { assertUsableToken, createTokenCheck, generateApiToken } from './auth.ts';
export * from './constants.ts';
export { ApiError, type ApiErrorBody, type ApiErrorCode, isTypedHttpError } from './errors.ts';
export type { EventMap, EventOf, EventStream, EventStreamDefinition } from './event-stream.ts';
export { type ApiLogger, silentApiLogger, stderrApiLogger } from './log.ts';
export type { HttpMethod, RequestContext, RouteDefinition } from './route.ts';
export {
  type ApiAddress,
  type ApiServer,
  type ApiServerOptions,
  createApiServer,
  type OpenApiInfo,
} from './server.ts';
export { compileValidator, describeIssues } from './validation.ts';
export * from './dibs-api.ts';
export * from './orgs-api.ts';
