/** Route declarations: method, path and TypeBox schemas as data, so one declaration drives validation and docs. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';

/** HTTP methods a route may declare. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler receives: validated inputs plus the request for the rare case that needs it. */
export interface RequestContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Aborted when the client goes away before the answer is sent. */
  signal: AbortSignal;
  requestId: string;
  request: FastifyRequest;
  /** The reply, for routes that answer by themselves (event streams). */
  reply: FastifyReply;
}

type StaticOr<S, D> = S extends TSchema ? Static<S> : D;

/** A route as declared with `api.route(...)`. Omit `response` for a 204 answer without a body. */
export interface RouteDefinition<
  P extends TSchema | undefined = undefined,
  Q extends TSchema | undefined = undefined,
  B extends TSchema | undefined = undefined,
  R extends TSchema | undefined = undefined,
> {
  method: HttpMethod;
  /** Literal segments and `:name` parameters, e.g. `/api/v1/services/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Defaults to the method plus the path's words, e.g. `getApiV1ServicesById`. */
  operationId?: string;
  params?: P;
  query?: Q;
  body?: B;
  response?: R;
  /** Success status; defaults to 200 with a response schema, 204 without. */
  status?: number;
  /** Extra error statuses this route may answer with, documented in OpenAPI (e.g. `{ 409: 'already published' }`). */
  errors?: Record<number, string>;
  /** Serve without the bearer token (health probes only). */
  public?: boolean;
  /** Answer with this content type (the handler returns the body as a string), e.g. Prometheus text. */
  contentType?: string;
  handler(
    ctx: RequestContext<
      StaticOr<P, Record<never, never>>,
      StaticOr<Q, Record<never, never>>,
      StaticOr<B, undefined>
    >,
  ): R extends TSchema ? Static<R> | Promise<Static<R>> : unknown;
}

/** The stored, type-erased form of a route. */
export interface AnyRoute {
  method: HttpMethod;
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  params?: TSchema;
  query?: TSchema;
  body?: TSchema;
  response?: TSchema;
  status?: number;
  errors?: Record<number, string>;
  public?: boolean;
  contentType?: string;
  handler(ctx: RequestContext<unknown, unknown, unknown>): unknown;
}
