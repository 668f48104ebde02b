/** The node's HTTP API server: declared routes, bearer auth, JSON errors, OpenAPI, SSE and the UI's files. */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenCheck } from './auth.ts';
import {
  API_PREFIX,
  LOOPBACK_HOSTS,
  MAX_BODY_BYTES,
  MAX_QUERY_PARAMS,
  MAX_REPORTED_ISSUES,
  MAX_URL_LENGTH,
  OPENAPI_PATH,
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
import { buildOpenApi, type DocumentedRoute, type DocumentedStream, type OpenApiInfo } from './openapi.ts';
import { compilePath, type PathPattern, splitPath } from './path-pattern.ts';
import type { AnyRoute, HttpMethod, RouteDefinition } from './route.ts';
import { type Issue, type JsonSchema, type Schema, type Shape, validate } from './schema.ts';
import { createStaticHandler } from './static-files.ts';

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
  /** Check every handler's answer against its response schema (default true; a mismatch is a 500). */
  validateResponses?: boolean;
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
  /** Declares a JSON route; its schemas validate input and appear in the OpenAPI document. */
  route<
    P extends Shape = Record<never, never>,
    Q extends Shape = Record<never, never>,
    B = undefined,
    RS extends Schema<unknown> | undefined = undefined,
  >(definition: RouteDefinition<P, Q, B, RS>): void;
  /** Declares a server-sent-events route and returns its typed publisher. */
  eventStream<E extends EventMap>(definition: EventStreamDefinition<E>): EventStream<E>;
  /** The generated OpenAPI 3.1 document (also served at GET /api/v1/openapi.json). */
  openapi(): JsonSchema;
  listen(): Promise<ApiAddress>;
  /** Ends event streams, stops accepting and closes every connection. */
  close(): Promise<void>;
  readonly address: ApiAddress | undefined;
  /** The UI address carrying the token in its fragment (never sent to the server, never in logs). */
  uiUrl(): string;
}

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

function issuesMessage(where: string, issues: Issue[]): string {
  const shown = issues.slice(0, MAX_REPORTED_ISSUES).map((i) => `${i.path || where} ${i.message}`);
  const more =
    issues.length > MAX_REPORTED_ISSUES ? ` (and ${issues.length - MAX_REPORTED_ISSUES} more)` : '';
  return `${shown.join('; ')}${more}`;
}

/** Reads at most MAX_BODY_BYTES of the request body. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
    throw new ApiError(
      413,
      'BODY_TOO_LARGE',
      `request body is ${declared} bytes; the limit is ${MAX_BODY_BYTES} bytes`,
    );
  }
  // Listeners rather than async iteration: leaving an iterator early would destroy the socket
  // before the 413 answer could be written.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.off('end', onEnd);
        chunks.length = 0;
        reject(
          new ApiError(413, 'BODY_TOO_LARGE', `request body exceeds the limit of ${MAX_BODY_BYTES} bytes`),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks, size));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

async function parseJsonBody(req: IncomingMessage): Promise<unknown> {
  if (!hasBody(req)) {
    throw new ApiError(
      400,
      'INVALID_BODY',
      'request body is required: send JSON with Content-Type: application/json',
    );
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `request body must be JSON with Content-Type: application/json (got ${type ? JSON.stringify(type.slice(0, 64)) : 'none'})`,
    );
  }
  const raw = await readBody(req);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ApiError(400, 'MALFORMED_JSON', 'request body is not valid UTF-8 text');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message.slice(0, 160) : 'parse error';
    throw new ApiError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${detail}`);
  }
}

function queryObject(search: string, route: AnyRoute): Record<string, unknown> {
  const params = new URLSearchParams(search);
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const key of new Set(params.keys())) {
    if (++count > MAX_QUERY_PARAMS) {
      throw new ApiError(400, 'INVALID_QUERY', `too many query parameters (limit ${MAX_QUERY_PARAMS})`);
    }
    const values = params.getAll(key);
    const schema = route.query?.shape[key];
    if (schema?.kind === 'array') out[key] = values;
    else if (values.length > 1)
      throw new ApiError(
        400,
        'INVALID_QUERY',
        `query parameter "${key.slice(0, 64)}" is given more than once`,
      );
    else out[key] = values[0];
  }
  return out;
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
  const validateResponses = options.validateResponses ?? true;
  const info: OpenApiInfo = {
    title: options.info?.title ?? 'DIBS node API',
    version: options.info?.version ?? '0.1.0',
    ...(options.info?.description ? { description: options.info.description } : {}),
  };
  const staticHandler = options.staticDir ? createStaticHandler(options.staticDir) : undefined;

  const routes: DocumentedRoute[] = [];
  const streams: { route: EventStreamRoute<EventMap>; path: PathPattern }[] = [];
  const sseCount = { value: 0 };
  let address: ApiAddress | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let requestSeq = 0;
  const requestPrefix = randomBytes(3).toString('hex');

  const assertNew = (method: HttpMethod, pattern: PathPattern) => {
    const clash =
      routes.some((r) => r.route.method === method && r.path.openapiPath === pattern.openapiPath) ||
      (method === 'GET' && streams.some((s) => s.path.openapiPath === pattern.openapiPath));
    if (clash)
      throw new ApiError(500, 'INVALID_ROUTE', `route ${method} ${pattern.pattern} is declared twice`);
    if (!pattern.pattern.startsWith(API_PREFIX)) {
      throw new ApiError(500, 'INVALID_ROUTE', `route ${pattern.pattern} must live under ${API_PREFIX}`);
    }
  };

  const addRoute = (route: AnyRoute) => {
    const path = compilePath(route.path);
    assertNew(route.method, path);
    const declared = Object.keys(route.params?.shape ?? {})
      .sort()
      .join(',');
    if (declared !== [...path.names].sort().join(',')) {
      throw new ApiError(
        500,
        'INVALID_ROUTE',
        `route ${route.method} ${route.path}: params schema (${declared || 'none'}) must list exactly the path's :parameters (${path.names.join(',') || 'none'})`,
      );
    }
    routes.push({ route, path });
  };

  const documentedStreams = (): DocumentedStream[] =>
    streams.map((s) => ({ definition: s.route.definition, path: s.path }));
  const openapi = () => buildOpenApi(info, routes, documentedStreams());

  addRoute({
    method: 'GET',
    path: OPENAPI_PATH,
    summary: 'This API described as OpenAPI 3.1, generated from the route declarations',
    tags: ['meta'],
    operationId: 'getOpenApi',
    response: {
      kind: 'object',
      optional: false,
      check: (v) => v,
      toJsonSchema: () => ({ type: 'object', description: 'An OpenAPI 3.1 document' }),
    } satisfies Schema<unknown>,
    handler: () => openapi(),
  });

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(text);
  };

  const sendError = (req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string) => {
    let status = 500;
    let code = 'INTERNAL_ERROR';
    let message = `the node failed unexpectedly while handling ${req.method} ${(req.url ?? '').split('?')[0]!.slice(0, 200)}; see the node's log for request ${requestId}`;
    const headers: Record<string, string> = { 'x-request-id': requestId };
    if (isTypedHttpError(err)) {
      status = err.status;
      code = err.code;
      message = err.message;
      if (status >= 500)
        log.error('request failed', { requestId, method: req.method, code, error: err.message });
    } else {
      log.error('unhandled error in API handler', {
        requestId,
        method: req.method,
        path: (req.url ?? '').split('?')[0],
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="dibs"';
    if (err instanceof ApiError && err.code === 'METHOD_NOT_ALLOWED' && 'allow' in err) {
      headers.allow = String((err as ApiError & { allow: string }).allow);
    }
    if (status === 413) headers.connection = 'close';
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body: ApiErrorBody = { error: { code, message, requestId } };
    sendJson(res, status, body, headers);
  };

  const handleApi = async (
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    search: string,
    requestId: string,
  ) => {
    checkToken(req.headers.authorization);
    const segments = splitPath(pathname);
    const method = (req.method ?? 'GET').toUpperCase();

    for (const s of streams) {
      if (!s.path.match(segments)) continue;
      if (method !== 'GET') {
        throw Object.assign(
          new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${s.path.pattern}; use GET`),
          { allow: 'GET' },
        );
      }
      await s.route.attach(req, res);
      return;
    }

    const allowed: string[] = [];
    for (const { route, path } of routes) {
      const raw = path.match(segments);
      if (!raw) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        try {
          params[k] = decodeURIComponent(v);
        } catch {
          throw new ApiError(400, 'INVALID_PARAMS', `path parameter "${k}" is not valid percent-encoding`);
        }
      }
      const p = route.params
        ? validate(route.params, params, { coerce: true, root: 'params' })
        : { ok: true as const, value: {} };
      if (!p.ok)
        throw new ApiError(
          400,
          'INVALID_PARAMS',
          `invalid path parameter: ${issuesMessage('params', p.issues)}`,
        );
      const rawQuery = queryObject(search, route);
      const queryValue = route.query
        ? validate(route.query, rawQuery, { coerce: true, root: 'query' })
        : Object.keys(rawQuery).length === 0
          ? { ok: true as const, value: {} }
          : {
              ok: false as const,
              issues: [
                {
                  path: 'query',
                  message: `takes no parameters (got ${Object.keys(rawQuery).slice(0, 5).join(', ')})`,
                },
              ],
            };
      if (!queryValue.ok)
        throw new ApiError(
          400,
          'INVALID_QUERY',
          `invalid query: ${issuesMessage('query', queryValue.issues)}`,
        );
      let body: unknown;
      if (route.body) {
        const parsed = await parseJsonBody(req);
        const b = validate(route.body, parsed, { root: 'body' });
        if (!b.ok)
          throw new ApiError(400, 'INVALID_BODY', `invalid request body: ${issuesMessage('body', b.issues)}`);
        body = b.value;
      } else if (hasBody(req)) {
        const raw = await readBody(req);
        if (raw.length > 0)
          throw new ApiError(
            400,
            'UNEXPECTED_BODY',
            `${method} ${route.path} takes no request body; send none`,
          );
      }
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      const result = await route.handler({
        params: p.value,
        query: queryValue.value,
        body,
        signal: abort.signal,
        requestId,
        request: req,
      });
      const status = route.status ?? (route.response ? 200 : 204);
      if (!route.response) {
        sendJson(res, status, undefined, { 'x-request-id': requestId });
        return;
      }
      if (validateResponses) {
        const checked = validate(route.response, result, { root: 'response' });
        if (!checked.ok) {
          log.error('handler answer does not match its response schema', {
            requestId,
            route: `${route.method} ${route.path}`,
            issues: issuesMessage('response', checked.issues),
          });
          throw new ApiError(
            500,
            'INTERNAL_ERROR',
            `the node produced an invalid answer for ${route.method} ${route.path}; see the node's log for request ${requestId}`,
          );
        }
        sendJson(res, status, checked.value, { 'x-request-id': requestId });
        return;
      }
      sendJson(res, status, result, { 'x-request-id': requestId });
      return;
    }
    if (allowed.length > 0) {
      throw Object.assign(
        new ApiError(
          405,
          'METHOD_NOT_ALLOWED',
          `${method} is not allowed on ${pathname.slice(0, 200)}; allowed: ${allowed.join(', ')}`,
        ),
        { allow: allowed.join(', ') },
      );
    }
    throw new ApiError(
      404,
      'NOT_FOUND',
      `no API route ${method} ${pathname.slice(0, 200)}; the list of routes is at GET ${OPENAPI_PATH}`,
    );
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = `${requestPrefix}-${(++requestSeq).toString(36)}`;
    try {
      const target = req.url ?? '/';
      if (target.length > MAX_URL_LENGTH) {
        throw new ApiError(414, 'URL_TOO_LONG', `request URL is longer than ${MAX_URL_LENGTH} characters`);
      }
      if (!target.startsWith('/'))
        throw new ApiError(400, 'BAD_PATH', 'request target must be a path starting with /');
      if (!options.allowRemote) {
        const name = hostName(req.headers.host);
        if (name === undefined || !LOOPBACK_HOSTS.includes(name)) {
          throw new ApiError(
            403,
            'FORBIDDEN_HOST',
            `this node's API answers only to localhost, 127.0.0.1 or [::1], not ${JSON.stringify((req.headers.host ?? '').slice(0, 64))}`,
          );
        }
      }
      const q = target.indexOf('?');
      const pathname = q < 0 ? target : target.slice(0, q);
      const search = q < 0 ? '' : target.slice(q + 1);
      if (pathname === '/api' || pathname.startsWith(API_PREFIX)) {
        await handleApi(req, res, pathname, search, requestId);
      } else if (staticHandler) {
        await staticHandler(req, res, pathname);
      } else {
        throw new ApiError(
          404,
          'NOT_FOUND',
          `nothing is served at ${pathname.slice(0, 200)}: the UI is not enabled on this node; the API lives under ${API_PREFIX}`,
        );
      }
      log.debug('request', {
        requestId,
        method: req.method,
        path: pathname.slice(0, 200),
        status: res.statusCode,
      });
    } catch (err) {
      sendError(req, res, err, requestId);
      log.debug('request failed', {
        requestId,
        method: req.method,
        status: res.statusCode,
        code: isTypedHttpError(err) ? err.code : 'INTERNAL_ERROR',
      });
    }
  };

  const server: Server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    void onRequest(req, res);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  return {
    route(definition) {
      addRoute(definition as unknown as AnyRoute);
    },
    eventStream<E extends EventMap>(definition: EventStreamDefinition<E>): EventStream<E> {
      const path = compilePath(definition.path);
      if (path.names.length > 0)
        throw new ApiError(500, 'INVALID_ROUTE', `event stream ${definition.path} cannot take :parameters`);
      assertNew('GET', path);
      const route = createEventStream(definition, log, sseCount);
      streams.push({ route: route as unknown as EventStreamRoute<EventMap>, path });
      return route;
    },
    openapi,
    async listen() {
      if (address) return address;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const a = server.address() as AddressInfo;
      const shown = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      address = { host: a.address, port: a.port, url: `http://${shown}:${a.port}` };
      heartbeat = setInterval(() => {
        for (const s of streams) s.route.heartbeat();
      }, SSE_HEARTBEAT_MS);
      heartbeat.unref();
      log.info('API listening', { url: address.url });
      return address;
    },
    async close() {
      if (heartbeat) clearInterval(heartbeat);
      for (const s of streams) s.route.closeAll();
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
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
