import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  ApiError,
  type ApiLogger,
  type ApiServer,
  createApiServer,
  generateApiToken,
  MAX_BODY_BYTES,
  OPENAPI_PATH,
  silentApiLogger,
} from '../src/api/index.ts';
import { Type } from 'typebox';

interface Logged {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function memoryLogger(lines: Logged[]): ApiLogger {
  return {
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  };
}

class ConflictError extends Error {
  readonly status = 409;
  readonly code = 'SERVICE_EXISTS';
}

const obj = <P extends Parameters<typeof Type.Object>[0]>(p: P) =>
  Type.Object(p, { additionalProperties: false });
const serviceSchema = obj({
  id: Type.String(),
  name: Type.String({ minLength: 1, maxLength: 64 }),
  price: Type.Integer({ minimum: 0 }),
});

describe('API server', () => {
  const token = generateApiToken();
  const lines: Logged[] = [];
  let api: ApiServer;
  let base: string;
  const services = new Map<string, { id: string; name: string; price: number }>();

  before(async () => {
    api = createApiServer({ host: '127.0.0.1', port: 0, token, log: memoryLogger(lines) });
    api.route({
      method: 'GET',
      path: '/api/v1/services',
      summary: 'List services',
      query: obj({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
      response: obj({ services: Type.Array(serviceSchema) }),
      handler: ({ query }) => ({ services: [...services.values()].slice(0, query.limit ?? 100) }),
    });
    api.route({
      method: 'POST',
      path: '/api/v1/services',
      summary: 'Publish a service',
      status: 201,
      body: obj({ name: Type.String({ minLength: 1, maxLength: 64 }), price: Type.Integer({ minimum: 0 }) }),
      response: serviceSchema,
      errors: { 409: 'A service with this name exists' },
      handler: ({ body }) => {
        if ([...services.values()].some((x) => x.name === body.name)) {
          throw new ConflictError(`a service named ${body.name} is already published; pick another name`);
        }
        const svc = { id: String(services.size + 1), ...body };
        services.set(svc.id, svc);
        return svc;
      },
    });
    api.route({
      method: 'GET',
      path: '/api/v1/services/:id',
      summary: 'One service',
      params: obj({ id: Type.String({ pattern: '^\\d+$', description: 'a decimal service id' }) }),
      response: serviceSchema,
      handler: ({ params }) => {
        const svc = services.get(params.id);
        if (!svc) throw new ApiError(404, 'SERVICE_NOT_FOUND', `no service ${params.id}`);
        return svc;
      },
    });
    api.route({
      method: 'DELETE',
      path: '/api/v1/services/:id',
      summary: 'Retire a service',
      params: obj({ id: Type.String() }),
      handler: ({ params }) => {
        services.delete(params.id);
      },
    });
    api.route({
      method: 'GET',
      path: '/api/v1/boom',
      summary: 'Fails with a plain error',
      response: obj({}),
      handler: () => {
        throw new Error('disk exploded at /secret/path');
      },
    });
    api.route({
      method: 'GET',
      path: '/api/v1/liar',
      summary: 'Answers outside its schema',
      response: obj({ n: Type.Integer() }),
      handler: () => ({ n: 'not a number' }) as unknown as { n: number },
    });
    await api.listen();
    base = api.address!.url;
  });

  after(async () => {
    await api.close();
  });

  const call = async (
    method: string,
    path: string,
    init: { body?: string; headers?: Record<string, string>; auth?: string | null } = {},
  ) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.auth !== null) headers.authorization = init.auth ?? `Bearer ${token}`;
    const res = await fetch(base + path, { method, headers, body: init.body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const post = (path: string, body: unknown) =>
    call('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it('requires the bearer token on every API route', async () => {
    for (const path of ['/api/v1/services', '/api/v1/services/1', OPENAPI_PATH, '/api/v1/nothing-here']) {
      const r = await call('GET', path, { auth: null });
      assert.equal(r.status, 401, path);
      assert.equal(r.json.error.code, 'UNAUTHORIZED');
      assert.match(r.json.error.message, /Authorization: Bearer/);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="dibs"');
    }
    const wrong = await call('GET', '/api/v1/services', { auth: `Bearer ${generateApiToken()}` });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error.message, /wrong API token/);
    const short = await call('GET', '/api/v1/services', { auth: `Bearer ${token.slice(0, -1)}` });
    assert.equal(short.status, 401);
    const malformed = await call('GET', '/api/v1/services', { auth: token });
    assert.equal(malformed.status, 401);
    assert.match(malformed.json.error.message, /malformed Authorization header/);
    const ok = await call('GET', '/api/v1/services');
    assert.equal(ok.status, 200);
  });

  it('never logs the token', () => {
    const all = JSON.stringify(lines);
    assert.equal(all.includes(token), false);
  });

  it('publishes, lists, reads and retires through validated routes', async () => {
    const created = await post('/api/v1/services', { name: 'web', price: 3 });
    assert.equal(created.status, 201);
    assert.deepEqual(created.json, { id: '1', name: 'web', price: 3 });
    assert.ok(created.headers.get('x-request-id'));
    const list = await call('GET', '/api/v1/services?limit=10');
    assert.deepEqual(list.json, { services: [{ id: '1', name: 'web', price: 3 }] });
    const one = await call('GET', '/api/v1/services/1');
    assert.equal(one.json.name, 'web');
    const del = await call('DELETE', '/api/v1/services/1');
    assert.equal(del.status, 204);
    assert.equal(del.json, undefined);
    const gone = await call('GET', '/api/v1/services/1');
    assert.equal(gone.status, 404);
    assert.deepEqual(Object.keys(gone.json.error).sort(), ['code', 'message', 'requestId']);
    assert.equal(gone.json.error.code, 'SERVICE_NOT_FOUND');
  });

  it('answers malformed JSON with 400 and the parser position', async () => {
    const r = await call('POST', '/api/v1/services', {
      body: '{"name": "x", price: }',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'MALFORMED_JSON');
    assert.match(r.json.error.message, /^request body is not valid JSON: /);
    const bin = await call('POST', '/api/v1/services', {
      body: '\uD800',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(bin.status, 400);
  });

  it('answers wrong types and missing fields with 400 naming each field', async () => {
    const r = await post('/api/v1/services', { name: 12 });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'INVALID_BODY');
    assert.match(r.json.error.message, /^invalid request body: /);
    assert.match(r.json.error.message, /body\.name must be a string, got 12/);
    assert.match(r.json.error.message, /body\.price is required/);
    const extra = await post('/api/v1/services', { name: 'x', price: -1, colour: 'red' });
    assert.equal(extra.status, 400);
    assert.equal(extra.json.error.code, 'INVALID_BODY');
    assert.match(extra.json.error.message, /body\.colour is not a known property \(expected name, price\)/);
    assert.match(extra.json.error.message, /body\.price must be ≥ 0, got -1/);
    const empty = await call('POST', '/api/v1/services', { headers: { 'content-type': 'application/json' } });
    assert.equal(empty.status, 400);
    assert.match(empty.json.error.message, /request body is required/);
  });

  it('rejects a body that is not JSON, and bodies on routes that take none', async () => {
    const r = await call('POST', '/api/v1/services', {
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(r.status, 415);
    assert.equal(r.json.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const extra = await call('DELETE', '/api/v1/services/9', {
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(extra.status, 400);
    assert.equal(extra.json.error.code, 'UNEXPECTED_BODY');
  });

  it('bounds the body: a declared or streamed body over the limit gets 413', async () => {
    const big = JSON.stringify({ name: 'x', price: 1, pad: 'a'.repeat(MAX_BODY_BYTES) });
    const r = await call('POST', '/api/v1/services', {
      body: big,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'BODY_TOO_LARGE');
    // Chunked upload without a Content-Length: the limit must hold while streaming.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/api/v1/services`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write('a'.repeat(8 * 1024));
      req.end();
    });
    assert.equal(status, 413);
  });

  it('validates path and query parameters with actionable messages', async () => {
    const badId = await call('GET', '/api/v1/services/abc');
    assert.equal(badId.status, 400);
    assert.equal(
      badId.json.error.message,
      'invalid path parameter: params.id must be a decimal service id, got "abc"',
    );
    const badLimit = await call('GET', '/api/v1/services?limit=0');
    assert.equal(badLimit.status, 400);
    assert.equal(badLimit.json.error.message, 'invalid query: query.limit must be ≥ 1, got 0');
    const unknown = await call('GET', '/api/v1/services?limt=5');
    assert.equal(unknown.status, 400);
    assert.match(unknown.json.error.message, /query.limt is not a known property \(expected limit\)/);
    const twice = await call('GET', '/api/v1/services?limit=1&limit=2');
    assert.equal(twice.status, 400);
    const badEncoding = await call('GET', '/api/v1/services/%E0%A4%A');
    assert.equal(badEncoding.status, 400);
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    const r = await call('GET', '/api/v1/nothing-here');
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'NOT_FOUND');
    assert.match(r.json.error.message, /openapi\.json/);
    const m = await call('PUT', '/api/v1/services');
    assert.equal(m.status, 405);
    assert.equal(m.headers.get('allow'), 'GET, POST');
    const noUi = await call('GET', '/index.html', { auth: null });
    assert.equal(noUi.status, 404);
  });

  it("maps a handler's typed error to its status and code", async () => {
    await post('/api/v1/services', { name: 'dup', price: 0 });
    const r = await post('/api/v1/services', { name: 'dup', price: 0 });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'SERVICE_EXISTS');
    assert.match(r.json.error.message, /already published/);
  });

  it('turns any other failure into a generic 500 and a log line with the request id', async () => {
    const r = await call('GET', '/api/v1/boom');
    assert.equal(r.status, 500);
    assert.equal(r.json.error.code, 'INTERNAL_ERROR');
    assert.doesNotMatch(r.json.error.message, /secret|exploded/);
    assert.match(r.json.error.message, /node's log/);
    const line = lines.find((l) => l.level === 'error' && l.fields?.requestId === r.json.error.requestId);
    assert.ok(line, 'an error line with the request id');
    assert.match(String(line.fields?.error), /disk exploded/);
  });

  it('refuses to send an answer that breaks its own response schema', async () => {
    const r = await call('GET', '/api/v1/liar');
    assert.equal(r.status, 500);
    assert.ok(lines.some((l) => l.msg === 'handler answer does not match its response schema'));
  });

  it('refuses requests whose Host is not loopback (DNS rebinding)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/api/v1/services`, {
        headers: { host: 'evil.example:80', authorization: `Bearer ${token}` },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });

  it('generates OpenAPI 3.1 listing every route with its schemas', async () => {
    const r = await call('GET', OPENAPI_PATH);
    assert.equal(r.status, 200);
    const doc = r.json;
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
    assert.deepEqual(
      Object.keys(doc.paths).sort(),
      ['/api/v1/boom', '/api/v1/liar', OPENAPI_PATH, '/api/v1/services', '/api/v1/services/{id}'].sort(),
    );
    assert.deepEqual(Object.keys(doc.paths['/api/v1/services']).sort(), ['get', 'post']);
    assert.deepEqual(Object.keys(doc.paths['/api/v1/services/{id}']).sort(), ['delete', 'get']);
    const postOp = doc.paths['/api/v1/services'].post;
    assert.deepEqual(postOp.requestBody.content['application/json'].schema, {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        price: { type: 'integer', minimum: 0 },
      },
      required: ['name', 'price'],
      additionalProperties: false,
    });
    const { description: _, ...answer } = postOp.responses['201'].content['application/json'].schema;
    assert.deepEqual(answer, JSON.parse(JSON.stringify(serviceSchema)));
    assert.ok(postOp.responses['409']);
    assert.ok(postOp.responses['413']);
    const getOne = doc.paths['/api/v1/services/{id}'].get;
    assert.deepEqual(getOne.parameters, [
      {
        name: 'id',
        in: 'path',
        required: true,
        description: 'a decimal service id',
        schema: { type: 'string', pattern: '^\\d+$' },
      },
    ]);
    const list = doc.paths['/api/v1/services'].get;
    assert.deepEqual(list.parameters, [
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } },
    ]);
    assert.equal(doc.paths['/api/v1/services/{id}'].delete.responses['204'].description, 'Retire a service');
    const ids = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops as Record<string, { operationId: string }>).map((o) => o.operationId),
    );
    assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
  });

  it('prints a UI URL with the token only in the fragment', () => {
    const url = new URL(api.uiUrl());
    assert.equal(url.hash, `#token=${token}`);
    assert.equal(url.search, '');
  });
});

describe('API server configuration', () => {
  it('refuses a non-loopback bind unless allowed', () => {
    assert.throws(
      () => createApiServer({ host: '0.0.0.0', token: generateApiToken() }),
      /not a loopback address/,
    );
  });

  it('refuses a weak token', () => {
    assert.throws(() => createApiServer({ token: 'short' }), /at least 24 characters/);
  });

  it('refuses routes outside /api, duplicates, and params schemas that disagree with the path', () => {
    const api = createApiServer({ token: generateApiToken() });
    assert.throws(
      () => api.route({ method: 'GET', path: '/x', summary: 'x', handler: () => undefined }),
      /must live under/,
    );
    api.route({ method: 'GET', path: '/api/v1/a', summary: 'a', handler: () => undefined });
    assert.throws(
      () => api.route({ method: 'GET', path: '/api/v1/a', summary: 'a', handler: () => undefined }),
      /declared twice/,
    );
    assert.throws(
      () => api.route({ method: 'GET', path: '/api/v1/b/:id', summary: 'b', handler: () => undefined }),
      /must list exactly the path's :parameters/,
    );
  });
});

describe('answers', () => {
  it('drop keys their schema does not declare, so internal fields never leak', async () => {
    const token = generateApiToken();
    const api = createApiServer({ token, log: silentApiLogger });
    api.route({
      method: 'GET',
      path: '/api/v1/wallet',
      summary: 'A wallet',
      response: obj({ address: Type.String(), nested: obj({ label: Type.String() }) }),
      handler: () =>
        ({
          address: '0xabc',
          passphrase: 'hunter2',
          nested: { label: 'main', privateKey: '0x01' },
        }) as never,
    });
    const { url } = await api.listen();
    try {
      const res = await fetch(`${url}/api/v1/wallet`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { address: '0xabc', nested: { label: 'main' } });
    } finally {
      await api.close();
    }
  });
});
