/** The node's HTTP API framework: declared routes with schemas, bearer auth, OpenAPI, SSE and UI files. */
export { assertUsableToken, createTokenCheck, generateApiToken } from './auth.ts';
export * from './constants.ts';
export { ApiError, type ApiErrorBody, type ApiErrorCode, isTypedHttpError } from './errors.ts';
export type { EventMap, EventOf, EventStream, EventStreamDefinition } from './event-stream.ts';
export { type ApiLogger, silentApiLogger, stderrApiLogger } from './log.ts';
export type { OpenApiInfo } from './openapi.ts';
export type { HttpMethod, RequestContext, RouteDefinition } from './route.ts';
export {
  type ArrayOptions,
  type BaseOptions,
  describeValue,
  type Infer,
  type Issue,
  type JsonSchema,
  type NumberOptions,
  type ObjectOf,
  type ObjectOptions,
  type ObjectSchema,
  type RecordOptions,
  type Schema,
  type Shape,
  type StringOptions,
  s,
  type ValidationResult,
  validate,
} from './schema.ts';
export { type ApiAddress, type ApiServer, type ApiServerOptions, createApiServer } from './server.ts';
export { CONTENT_TYPES, resolveStaticPath, UI_SECURITY_HEADERS } from './static-files.ts';
export * from './dibs-api.ts';
