/**
 * The node's HTTP API server on Fastify: declared routes with TypeBox schemas (validated by TypeBox's
 * compiler, documented by @fastify/swagger as OpenAPI 3.1), bearer auth, loopback Host check, one
 * JSON error body for every failure, server-sent events, and the UI's files (static-files.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type FastifyServerOptions,
} from 'fastify';
import { type TSchema, Type } from 'typebox';
import { createTokenCheck } from './auth.ts';
import {
  API_PREFIX,
  HEALTHZ_PATH,
  LOOPBACK_HOSTS,
  MAX_BODY_BYTES,
  MAX_QUERY_PARAMS,
  MAX_SSE_CLIENTS,
  MAX_URL_LENGTH,
  METRICS_PATH,
  OPENAPI_PATH,
  READYZ_PATH,
  REQUEST_TIMEOUT_MS,
  SSE_HEARTBEAT_MS,
} from './constants.ts';
import { ApiError, type ApiErrorBody, isTypedHttpError } from './errors.ts';
import {
  createEventStream,
  type EventMap,
  type EventStream,
  type EventStreamDefinition,
  type EventStreamRoute,
} from './event-stream.ts';
import { type ApiLogger, stderrApiLogger } from './log.ts';
import { findUiFile, sendUiFile, uiRootOf } from './static-files.ts';
import type { AnyRoute, HttpMethod, RouteDefinition } from './route.ts';
import { compileValidator, describeIssues, type HttpPart, type Validate } from './validation.ts';

/** Title, version and description of the generated OpenAPI document. */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** Interface to bind; loopback unless `allowRemote` is set. Default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number;
  /** The bearer token every /api request must present. */
  token: string;
  /** Directory of the built UI (index.html + assets); without it only /api is served. */
  staticDir?: string;
  log?: ApiLogger;
  /** Permit a non-loopback `host` (the token then crosses the network in clear: put TLS in front). */
  allowRemote?: boolean;
  info?: Partial<OpenApiInfo>;
}

/** Where a listening server can be reached. */
export interface ApiAddress {
  host: string;
  port: number;
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
}

/** A running (or ready to run) API server. */
export interface ApiServer {
  /** Declares a JSON route; its schemas validate input and output and appear in the OpenAPI document. */
  route<
    P extends TSchema | undefined = undefined,
    Q extends TSchema | undefined = undefined,
    B extends TSchema | undefined = undefined,
    R extends TSchema | undefined = undefined,
  >(definition: RouteDefinition<P, Q, B, R>): void;
  /** Declares a server-sent-events route and returns its typed publisher. */
  eventStream<E extends EventMap>(definition: EventStreamDefinition<E>): EventStream<E>;
  /** The generated OpenAPI 3.1 document (also served at GET /api/v1/openapi.json). */
  openapi(): Promise<Record<string, unknown>>;
  listen(): Promise<ApiAddress>;
  /** Ends event streams, stops accepting and closes every connection. */
  close(): Promise<void>;
  readonly address: ApiAddress | undefined;
  /** The UI address carrying the token in its fragment (never sent to the server, never in logs). */
  uiUrl(): string;
}

/** Paths outside /api that routes may take: health probes and metrics. */
const ROOT_PATHS = new Set([HEALTHZ_PATH, READYZ_PATH, METRICS_PATH]);

const errorBodySchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    requestId: Type.Optional(Type.String()),
  }),
});

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    return end < 0 ? undefined : header.slice(0, end + 1).toLowerCase();
  }
  const colon = header.indexOf(':');
  return (colon < 0 ? header : header.slice(0, colon)).toLowerCase();
}

function pathNames(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s.startsWith(':'))
    .map((s) => s.slice(1));
}

function defaultOperationId(method: HttpMethod, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((s) =>
      s.startsWith(':')
        ? `By${cap(s.slice(1))}`
        : cap(s.replace(/[^A-Za-z0-9]+(.)?/g, (_, c) => (c ?? '').toUpperCase())),
    );
  return method.toLowerCase() + words.join('');
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A pattern matching the concrete paths of a declared route, for 405 answers. */
function pathRegex(path: string): RegExp {
  const body = path
    .split('/')
    .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;

/**
 * Fastify's compiler factories (server option `schemaController.compilersFactory`). Its types name
 * Ajv's and fast-json-stringify's factories, but any factory of compilers is accepted; with both
 * given, Fastify never loads its default ones.
 */
function compilerFactories(
  buildValidator: () => (route: { schema: object; httpPart?: string }) => unknown,
  buildSerializer: () => (route: { schema: object; contentType?: string }) => unknown,
): CompilersFactory {
  return { buildValidator, buildSerializer } as unknown as CompilersFactory;
}

/** The error answers a route may give, for the OpenAPI document. */
function describeErrors(r: AnyRoute, response: Record<string, unknown>): void {
  response[400] = { description: 'Invalid input', ...errorBodySchema };
  if (!r.public) response[401] = { description: 'Missing or wrong bearer token', ...errorBodySchema };
  response[500] = { description: 'The node failed; see its log', ...errorBodySchema };
  if (r.body) {
    response[413] = { description: 'Body too large', ...errorBodySchema };
    response[415] = { description: 'Not JSON', ...errorBodySchema };
  }
  for (const [code, description] of Object.entries(r.errors ?? {}))
    response[code] = { description, ...errorBodySchema };
}

/** Raised when a handler's answer does not fit its declared response schema. */
class AnswerSchemaError extends Error {
  override name = 'AnswerSchemaError';
}

/** Creates the API server; declare routes, then `listen()`. Binds loopback only unless told otherwise. */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.allowRemote) {
    throw new ApiError(
      500,
      'INVALID_CONFIG',
      `refusing to bind the API to ${host}: it is not a loopback address; set allowRemote (and put TLS in front) to expose it`,
    );
  }
  const log = options.log ?? stderrApiLogger;
  const checkToken = createTokenCheck(options.token);
  const token = options.token;
  const info: OpenApiInfo = {
    title: options.info?.title ?? 'DIBS node API',
    version: options.info?.version ?? '0.1.0',
    ...(options.info?.description ? { description: options.info.description } : {}),
  };
  const requestPrefix = randomBytes(3).toString('hex');
  let requestSeq = 0;

  // Validators are compiled on a route's first use, not at start: a node serves a handful of the
  // ~100 routes' schemas in a typical run, and each compiled check stays in memory. Answers are
  // checked, cleaned and written with JSON.stringify. Given as Fastify's compiler factories, so its
  // default ones (Ajv through @fastify/ajv-compiler, fast-json-stringify) are never loaded.
  // Fastify hands the compilers its own copies of the schemas, without TypeBox's kind markers that
  // conversion (params, query) and cleaning (answers) go by: the declared schema is looked up.
  const mounted = new Map<string, AnyRoute>();
  const declaredSchema = (method: unknown, url: unknown, part: HttpPart, given: object): object => {
    const r = mounted.get(`${String(method)} ${String(url)}`);
    const schema =
      part === 'body'
        ? r?.body
        : part === 'querystring'
          ? r?.query
          : part === 'params'
            ? r?.params
            : part === 'response'
              ? r?.response
              : undefined;
    return (schema as object | undefined) ?? given;
  };
  type CompilerInput = { schema: object; method?: string; url?: string };
  const validatorCompiler = ({ schema, method, url, httpPart }: CompilerInput & { httpPart?: string }) => {
    let check: Validate | undefined;
    const part = (httpPart ?? 'body') as HttpPart;
    return (data: unknown) => {
      check ??= compileValidator(declaredSchema(method, url, part, schema), part);
      const result = check(data);
      return result.ok
        ? { value: result.value }
        : { error: Object.assign(new Error('invalid'), { validation: result.issues }) };
    };
  };
  const serializerCompiler = ({
    schema,
    method,
    url,
    contentType,
  }: CompilerInput & { contentType?: string }) => {
    let check: Validate | undefined;
    const json = contentType === undefined || contentType.includes('json');
    return (data: unknown) => {
      if (!json && typeof data === 'string') return data;
      check ??= compileValidator(declaredSchema(method, url, 'response', schema), 'response');
      const result = check(data);
      if (!result.ok) throw new AnswerSchemaError(describeIssues('response', result.issues));
      return JSON.stringify(result.value);
    };
  };

  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    genReqId: () => `${requestPrefix}-${(++requestSeq).toString(36)}`,
    requestIdHeader: false,
    return503OnClosing: true,
    schemaController: {
      compilersFactory: compilerFactories(
        () => validatorCompiler,
        () => serializerCompiler,
      ),
    },
    routerOptions: {
      maxParamLength: 200,
      querystringParser: (text: string) => {
        const params = new URLSearchParams(text);
        const out: Record<string, string | string[]> = {};
        let count = 0;
        for (const key of new Set(params.keys())) {
          if (++count > MAX_QUERY_PARAMS)
            throw new ApiError(400, 'INVALID_QUERY', `too many query parameters (limit ${MAX_QUERY_PARAMS})`);
          const values = params.getAll(key);
          out[key] = values.length === 1 ? values[0]! : values;
        }
        return out;
      },
    },
    frameworkErrors: (err, request, reply) => {
      void sendError(
        request,
        reply,
        new ApiError(400, 'BAD_PATH', `the request path is not valid: ${err.message}`),
      );
    },
  });

  // JSON only: a text/plain body is refused (415) rather than handed to handlers as a string.
  app.removeContentTypeParser('text/plain');
  const declared: AnyRoute[] = [];
  const known: { method: HttpMethod; re: RegExp }[] = [];
  const streams: EventStreamRoute<EventMap>[] = [];
  const sseCount = { value: 0 };
  let address: ApiAddress | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let readyPromise: Promise<void> | undefined;

  const sendError = (request: FastifyRequest, reply: FastifyReply, err: unknown) => {
    const requestId = request.id;
    let status = 500;
    let code = 'INTERNAL_ERROR';
    let message = `the node failed unexpectedly while handling ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}; see the node's log for request ${requestId}`;
    const e = err as FastifyError & { validation?: unknown[]; validationContext?: string; allow?: string };
    if (isTypedHttpError(err)) {
      status = err.status;
      code = err.code;
      message = err.message;
      if (status >= 500)
        log.error('request failed', { requestId, method: request.method, code, error: err.message });
    } else if (Array.isArray(e.validation)) {
      const part = e.validationContext ?? 'body';
      status = 400;
      if (part === 'body' && request.body === undefined) {
        code = 'INVALID_BODY';
        message = 'request body is required: send JSON with Content-Type: application/json';
      } else {
        const text = describeIssues(part, e.validation as never);
        [code, message] =
          part === 'params'
            ? ['INVALID_PARAMS', `invalid path parameter: ${text}`]
            : part === 'querystring'
              ? ['INVALID_QUERY', `invalid query: ${text}`]
              : ['INVALID_BODY', `invalid request body: ${text}`];
      }
    } else if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      [status, code, message] = [
        413,
        'BODY_TOO_LARGE',
        `request body exceeds the limit of ${MAX_BODY_BYTES} bytes`,
      ];
    } else if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = String(request.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .slice(0, 64);
      [status, code, message] = [
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `request body must be JSON with Content-Type: application/json (got ${type ? JSON.stringify(type) : 'none'})`,
      ];
    } else if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      [status, code, message] = [
        400,
        'INVALID_BODY',
        'request body is required: send JSON with Content-Type: application/json',
      ];
    } else if (
      e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      (err instanceof SyntaxError && e.statusCode === 400)
    ) {
      [status, code, message] = [
        400,
        'MALFORMED_JSON',
        `request body is not valid JSON: ${String(e.message).slice(0, 160)}`,
      ];
    } else if (e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      [status, code, message] = [400, 'INVALID_BODY', 'the Content-Length does not match the body sent'];
    } else if (err instanceof AnswerSchemaError) {
      log.error('handler answer does not match its response schema', {
        requestId,
        path: request.url.split('?')[0],
        issues: err.message,
      });
      message = `the node produced an invalid answer for ${request.method} ${request.routeOptions.url ?? ''}; see the node's log for request ${requestId}`;
    } else {
      log.error('unhandled error in API handler', {
        requestId,
        method: request.method,
        path: request.url.split('?')[0],
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return reply;
    }
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="dibs"');
    if (e.allow) void reply.header('allow', e.allow);
    if (status === 413) void reply.header('connection', 'close');
    const body: ApiErrorBody = { error: { code, message, requestId } };
    return reply.code(status).type('application/json; charset=utf-8').serializer(JSON.stringify).send(body);
  };

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));

  app.addHook('onRequest', async (request) => {
    if (request.url.length > MAX_URL_LENGTH) {
      throw new ApiError(414, 'URL_TOO_LONG', `request URL is longer than ${MAX_URL_LENGTH} characters`);
    }
    if (!options.allowRemote) {
      const name = hostName(request.headers.host);
      if (name === undefined || !LOOPBACK_HOSTS.includes(name)) {
        throw new ApiError(
          403,
          'FORBIDDEN_HOST',
          `this node's API answers only to localhost, 127.0.0.1 or [::1], not ${JSON.stringify((request.headers.host ?? '').slice(0, 64))}`,
        );
      }
    }
    const path = request.url.split('?')[0]!;
    const guarded = path === '/api' || path.startsWith(API_PREFIX) || path === METRICS_PATH;
    if (guarded && (request.routeOptions.config as { public?: boolean } | undefined)?.public !== true) {
      checkToken(request.headers.authorization);
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    void reply.header('x-request-id', request.id);
    const path = request.url.split('?')[0]!;
    if (!reply.hasHeader('cache-control') || path.startsWith(API_PREFIX)) {
      if (path.startsWith(API_PREFIX) || ROOT_PATHS.has(path)) void reply.header('cache-control', 'no-store');
    }
    void reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  const uiRoot = options.staticDir ? uiRootOf(options.staticDir) : undefined;
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const method = request.method.toUpperCase();
    if (path === '/api' || path.startsWith(API_PREFIX) || ROOT_PATHS.has(path)) {
      const allowed = [...new Set(known.filter((k) => k.re.test(path)).map((k) => k.method))];
      if (allowed.length > 0) {
        throw Object.assign(
          new ApiError(
            405,
            'METHOD_NOT_ALLOWED',
            `${method} is not allowed on ${path.slice(0, 200)}; allowed: ${allowed.join(', ')}`,
          ),
          { allow: allowed.join(', ') },
        );
      }
      throw new ApiError(
        404,
        'NOT_FOUND',
        `no API route ${method} ${path.slice(0, 200)}; the list of routes is at GET ${OPENAPI_PATH}`,
      );
    }
    if (!options.staticDir) {
      throw new ApiError(
        404,
        'NOT_FOUND',
        `nothing is served at ${path.slice(0, 200)}: the UI is not enabled on this node; the API lives under ${API_PREFIX}`,
      );
    }
    if (method !== 'GET' && method !== 'HEAD') {
      throw Object.assign(
        new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on UI files; use GET`),
        {
          allow: 'GET, HEAD',
        },
      );
    }
    const file = uiRoot ? findUiFile(uiRoot, path) : undefined;
    const ifNoneMatch = request.headers['if-none-match'];
    if (file) return sendUiFile(reply, file, ifNoneMatch);
    // Client-side routes (/peers, /services/12) have no extension: they all load the app shell.
    if (extname(path) === '' && !path.split('/').some((s) => s.startsWith('.') || s.includes('%'))) {
      const shell = uiRoot ? findUiFile(uiRoot, '/index.html') : undefined;
      if (shell) return sendUiFile(reply, shell, ifNoneMatch);
    }
    throw new ApiError(404, 'NOT_FOUND', `no such file: ${path.slice(0, 200)}`);
  });

  /** Registers every declared route, once. */
  const ready = () => {
    readyPromise ??= (async () => {
      for (const r of declared) mount(r);
      await app.ready();
    })();
    return readyPromise;
  };

  /**
   * The OpenAPI document, generated on request by a second Fastify instance that only describes the
   * declared routes: @fastify/swagger (and the YAML and schema-resolver modules under it) is loaded
   * and its document built only when someone asks for it, and nothing of it stays in memory after.
   */
  const openapiDocument = async (): Promise<Record<string, unknown>> => {
    const { default: fastifySwagger } = await import('@fastify/swagger');
    const docs = Fastify({
      logger: false,
      schemaController: {
        compilersFactory: compilerFactories(
          () => () => () => true,
          () => () => (data: unknown) => JSON.stringify(data),
        ),
      },
    });
    try {
      await docs.register(fastifySwagger, {
        openapi: {
          openapi: '3.1.0',
          info,
          components: {
            securitySchemes: {
              bearerAuth: {
                type: 'http',
                scheme: 'bearer',
                description:
                  "The token in the node's data directory (api-token); the UI gets it in the URL fragment.",
              },
            },
          },
          security: [{ bearerAuth: [] }],
        },
      });
      for (const r of declared) describe(docs, r);
      await docs.ready();
      return docs.swagger() as unknown as Record<string, unknown>;
    } finally {
      await docs.close();
    }
  };

  const describe = (instance: FastifyInstance, r: AnyRoute) =>
    instance.route({ method: r.method, url: r.path, schema: routeSchema(r), handler: async () => null });

  /**
   * A route's schemas. The error answers are described for the OpenAPI document only: the server
   * writes every error body itself (sendError), so it needs no serializer for them.
   */
  const routeSchema = (r: AnyRoute, withErrors = true): FastifySchema => {
    const status = r.status ?? (r.response ? 200 : 204);
    const success = r.contentType
      ? { description: r.summary, content: { [r.contentType]: { schema: r.response ?? Type.String() } } }
      : r.response
        ? { description: r.summary, ...r.response }
        : { description: r.summary, type: 'null' };
    const response: Record<string, unknown> = { [status]: success };
    if (withErrors) describeErrors(r, response);
    const querystring = r.query ?? Type.Object({}, { additionalProperties: false });
    return {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(r.tags ? { tags: r.tags } : {}),
      operationId: r.operationId ?? defaultOperationId(r.method, r.path),
      ...(r.public ? { security: [] } : {}),
      ...(r.params ? { params: r.params } : {}),
      querystring,
      ...(r.body ? { body: r.body } : {}),
      response,
    } as FastifySchema;
  };

  const mount = (r: AnyRoute) => {
    const status = r.status ?? (r.response ? 200 : 204);
    mounted.set(`${r.method} ${r.path}`, r);
    app.route({
      method: r.method,
      url: r.path,
      config: { public: r.public === true },
      schema: routeSchema(r, false),
      preHandler: async (request) => {
        if (!r.body && request.body !== undefined && request.body !== null && request.body !== '') {
          throw new ApiError(
            400,
            'UNEXPECTED_BODY',
            `${r.method} ${r.path} takes no request body; send none`,
          );
        }
      },
      handler: async (request, reply) => {
        const abort = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) abort.abort();
        });
        const result = await r.handler({
          params: request.params ?? {},
          query: request.query ?? {},
          body: request.body,
          signal: abort.signal,
          requestId: request.id,
          request,
          reply,
        });
        if (reply.sent) return reply;
        if (r.contentType) return reply.code(status).type(r.contentType).send(result);
        if (!r.response) return reply.code(status).send();
        return reply.code(status).type('application/json; charset=utf-8').send(result);
      },
    });
  };

  const addRoute = (r: AnyRoute) => {
    if (!r.path.startsWith(API_PREFIX) && !ROOT_PATHS.has(r.path)) {
      throw new ApiError(500, 'INVALID_ROUTE', `route ${r.path} must live under ${API_PREFIX}`);
    }
    if (declared.some((d) => d.method === r.method && d.path === r.path)) {
      throw new ApiError(500, 'INVALID_ROUTE', `route ${r.method} ${r.path} is declared twice`);
    }
    const names = pathNames(r.path).sort().join(',');
    const params = Object.keys((r.params as { properties?: object } | undefined)?.properties ?? {})
      .sort()
      .join(',');
    if (names !== params) {
      throw new ApiError(
        500,
        'INVALID_ROUTE',
        `route ${r.method} ${r.path}: params schema (${params || 'none'}) must list exactly the path's :parameters (${names || 'none'})`,
      );
    }
    if (readyPromise)
      throw new ApiError(500, 'INVALID_ROUTE', `route ${r.method} ${r.path} is declared after start`);
    declared.push(r);
    known.push({ method: r.method, re: pathRegex(r.path) });
  };

  addRoute({
    method: 'GET',
    path: OPENAPI_PATH,
    summary: 'This API described as OpenAPI 3.1, generated from the route declarations',
    tags: ['meta'],
    operationId: 'getOpenApi',
    response: Type.Object({}, { additionalProperties: true, description: 'An OpenAPI 3.1 document' }),
    handler: async () => (await openapiDocument()) as Record<string, never>,
  });

  return {
    route(definition) {
      addRoute(definition as unknown as AnyRoute);
    },
    eventStream<E extends EventMap>(definition: EventStreamDefinition<E>): EventStream<E> {
      if (pathNames(definition.path).length > 0)
        throw new ApiError(500, 'INVALID_ROUTE', `event stream ${definition.path} cannot take :parameters`);
      const stream = createEventStream(definition, log, sseCount);
      const events = Object.entries(definition.events).map(([event, schema]) =>
        Type.Object({ event: Type.Literal(event), data: schema }),
      );
      addRoute({
        method: 'GET',
        path: definition.path,
        summary: definition.summary,
        ...(definition.description ? { description: definition.description } : {}),
        ...(definition.tags ? { tags: definition.tags } : {}),
        operationId: defaultOperationId('GET', definition.path),
        errors: { 503: 'Too many open event streams' },
        response: {
          description: `text/event-stream: ${Object.keys(definition.events).join(', ')} events`,
          content: { 'text/event-stream': { schema: Type.Union(events) } },
        } as never,
        handler: async ({ request, reply }) => {
          if (sseCount.value >= MAX_SSE_CLIENTS) {
            throw new ApiError(
              503,
              'TOO_MANY_STREAMS',
              `too many open event streams (${MAX_SSE_CLIENTS}); close other UI tabs or clients and retry`,
            );
          }
          reply.hijack();
          await stream.attach(request.raw, reply.raw);
          return undefined as never;
        },
      });
      streams.push(stream as unknown as EventStreamRoute<EventMap>);
      return stream;
    },
    openapi: openapiDocument,
    async listen() {
      if (address) return address;
      await ready();
      await app.listen({ host, port: options.port ?? 0 });
      const a = app.server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      address = { host: a.address, port: a.port, url: `http://${shown}:${a.port}` };
      heartbeat = setInterval(() => {
        for (const s of streams) s.heartbeat();
      }, SSE_HEARTBEAT_MS);
      heartbeat.unref();
      log.info('API listening', { url: address.url });
      return address;
    },
    async close() {
      if (heartbeat) clearInterval(heartbeat);
      for (const s of streams) s.closeAll();
      if (!address) return;
      app.server.closeAllConnections();
      await app.close();
      address = undefined;
    },
    get address() {
      return address;
    },
    uiUrl() {
      if (!address)
        throw new ApiError(500, 'INVALID_CONFIG', 'the API server is not listening yet: call listen() first');
      return `${address.url}/#token=${encodeURIComponent(token)}`;
    },
  };
}
