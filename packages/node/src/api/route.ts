/** Route declarations: method, path and schemas as data, so one declaration drives validation and docs. */
import type { IncomingMessage } from 'node:http';
import type { Infer, ObjectOf, ObjectSchema, Schema, Shape } from './schema.ts';

/** HTTP methods a route may declare. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler receives: validated inputs plus the raw request for the rare case that needs it. */
export interface RequestContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Aborted when the client goes away before the answer is sent. */
  signal: AbortSignal;
  requestId: string;
  request: IncomingMessage;
}

/** A route as declared with `api.route(...)`. Omit `response` for a 204 answer without a body. */
export interface RouteDefinition<
  P extends Shape = Record<never, never>,
  Q extends Shape = Record<never, never>,
  B = undefined,
  RS extends Schema<unknown> | undefined = undefined,
> {
  method: HttpMethod;
  /** Literal segments and `:name` parameters, e.g. `/api/v1/services/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Defaults to the method plus the path's words, e.g. `getApiV1ServicesById`. */
  operationId?: string;
  params?: ObjectSchema<P>;
  query?: ObjectSchema<Q>;
  body?: Schema<B>;
  response?: RS;
  /** Success status; defaults to 200 with a response schema, 204 without. */
  status?: number;
  /** Extra error statuses this route may answer with, documented in OpenAPI (e.g. `{ 409: 'already published' }`). */
  errors?: Record<number, string>;
  handler(
    ctx: RequestContext<ObjectOf<P>, ObjectOf<Q>, B>,
  ): RS extends Schema<unknown> ? Infer<RS> | Promise<Infer<RS>> : unknown;
}

/** The stored, type-erased form of a route. */
export interface AnyRoute {
  method: HttpMethod;
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  params?: ObjectSchema<Shape>;
  query?: ObjectSchema<Shape>;
  body?: Schema<unknown>;
  response?: Schema<unknown>;
  status?: number;
  errors?: Record<number, string>;
  handler(ctx: RequestContext<unknown, unknown, unknown>): unknown;
}
