import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ApiServer,
  createApiServer,
  type EventStream,
  generateApiToken,
  silentApiLogger,
} from '../src/api/index.ts';
import { Type } from 'typebox';

/** Sends a raw request line so the path reaches the server exactly as written (no client normalisation). */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

/** Reads SSE events from a fetch body until `count` events arrived (bounded by the caller's timeout). */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  count: number,
): Promise<{ id: string; event: string; data: unknown }[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const out: { id: string; event: string; data: unknown }[] = [];
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(': ');
        if (i > 0) fields[line.slice(0, i)] = line.slice(i + 2);
      }
      if (fields.event) out.push({ id: fields.id!, event: fields.event, data: JSON.parse(fields.data!) });
      end = buffer.indexOf('\n\n');
    }
  }
  reader.releaseLock();
  return out;
}

const counters = Type.Object({
  at: Type.Integer({ minimum: 0 }),
  sessions: Type.Array(
    Type.Object({
      id: Type.String(),
      bytesIn: Type.Integer({ minimum: 0 }),
      bytesOut: Type.Integer({ minimum: 0 }),
    }),
  ),
});

describe('server-sent events', () => {
  const token = generateApiToken();
  let api: ApiServer;
  let events: EventStream<{ counters: typeof counters; changed: ReturnType<typeof changedSchema> }>;
  const changedSchema = () => Type.Object({ resource: Type.Enum(['peers', 'grants']) });

  before(async () => {
    api = createApiServer({ token, log: silentApiLogger });
    events = api.eventStream({
      path: '/api/v1/events',
      summary: 'Live counters',
      events: { counters, changed: changedSchema() },
      onConnect: () => [{ event: 'counters', data: { at: 1, sessions: [] } }],
    });
    await api.listen();
  });
  after(() => api.close());

  it('needs the token', async () => {
    const res = await fetch(`${api.address!.url}/api/v1/events`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });

  it('delivers the snapshot, then every sent event in order, typed and validated', async () => {
    const ac = new AbortController();
    const res = await fetch(`${api.address!.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.any([ac.signal, AbortSignal.timeout(20_000)]),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const first = await readEvents(res.body!, 1);
    assert.deepEqual(
      first.map((e) => e.data),
      [{ at: 1, sessions: [] }],
    );
    assert.equal(events.clientCount, 1);
    events.send('counters', { at: 2, sessions: [{ id: 'a', bytesIn: 10, bytesOut: 20 }] });
    events.send('changed', { resource: 'peers' });
    const next = await readEvents(res.body!, 2);
    assert.deepEqual(
      next.map((e) => [e.event, e.data]),
      [
        ['counters', { at: 2, sessions: [{ id: 'a', bytesIn: 10, bytesOut: 20 }] }],
        ['changed', { resource: 'peers' }],
      ],
    );
    assert.ok(Number(next[1]!.id) > Number(next[0]!.id));
    ac.abort();
    for (let i = 0; i < 200 && events.clientCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(events.clientCount, 0, 'a closed client is forgotten');
  });

  it('refuses to send data that breaks the event schema', () => {
    assert.throws(
      () => events.send('changed', { resource: 'nope' } as unknown as { resource: 'peers' }),
      /does not match its schema/,
    );
  });

  it('documents the stream and its events in OpenAPI', async () => {
    const doc = (await api.openapi()) as { paths: Record<string, { get: Record<string, unknown> }> };
    const op = doc.paths['/api/v1/events']!.get;
    const text = JSON.stringify(op.responses);
    assert.ok(text.includes('text/event-stream'));
    for (const name of ['counters', 'changed']) assert.ok(text.includes(`"enum":["${name}"]`), name);
  });
});

describe('static UI files', () => {
  const token = generateApiToken();
  let api: ApiServer;
  let dir: string;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dibs-api-static-'));
    const root = join(dir, 'ui');
    await mkdir(join(root, 'assets'), { recursive: true });
    await writeFile(join(root, 'index.html'), '<!doctype html><title>DIBS</title>');
    await writeFile(join(root, 'assets', 'app-1234.js'), 'console.log(1)');
    await writeFile(join(root, 'assets', 'app-1234.css'), 'body{}');
    await writeFile(join(root, 'logo.svg'), '<svg/>');
    await writeFile(join(root, '.env'), 'HIDDEN');
    await writeFile(join(dir, 'secret.txt'), 'TOP-SECRET');
    await symlink(join(dir, 'secret.txt'), join(root, 'link.txt'));
    api = createApiServer({ token, staticDir: root, log: silentApiLogger });
    port = (await api.listen()).port;
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves files with their content types, without a token', async () => {
    const cases: [string, string][] = [
      ['/assets/app-1234.js', 'application/javascript; charset=utf-8'],
      ['/assets/app-1234.css', 'text/css; charset=utf-8'],
      ['/logo.svg', 'image/svg+xml'],
      ['/', 'text/html; charset=utf-8'],
    ];
    for (const [path, type] of cases) {
      const res = await fetch(`${api.address!.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), type, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      await res.text();
    }
    const asset = await fetch(`${api.address!.url}/assets/app-1234.js`);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(await asset.text(), 'console.log(1)');
  });

  it('falls back to index.html for client-side routes, 404 for missing files', async () => {
    for (const path of ['/peers', '/services/12', '/grants?x=1']) {
      const res = await fetch(`${api.address!.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(await res.text(), /<title>DIBS<\/title>/);
    }
    const missing = await fetch(`${api.address!.url}/assets/missing.js`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, 'NOT_FOUND');
    const post = await fetch(`${api.address!.url}/index.html`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.text();
  });

  it('refuses every traversal attempt and never leaks a file outside the root', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/assets/%2e%2e%5c%2e%2e%5csecret.txt',
      '/secret.txt%00.js',
      '/%00',
      '/.env',
      '/link.txt',
      '//etc/passwd',
      '/%252e%252e/secret.txt',
      '/%E0%A4%A',
    ];
    for (const target of attempts) {
      const r = await rawGet(port, target);
      assert.ok(r.status >= 400 || r.body.includes('<title>DIBS</title>'), `${target} → ${r.status}`);
      assert.equal(r.body.includes('TOP-SECRET'), false, target);
      assert.equal(r.body.includes('HIDDEN'), false, target);
      assert.equal(r.body.includes('root:'), false, target);
    }
  });
});

describe('HTTP fuzz', () => {
  it('random bodies and paths never produce a 500 and the server keeps answering', async () => {
    const token = generateApiToken();
    const api = createApiServer({ token, log: silentApiLogger });
    api.route({
      method: 'POST',
      path: '/api/v1/things/:id',
      summary: 'Echo',
      params: Type.Object({ id: Type.Integer({ minimum: 0 }) }),
      body: Type.Object(
        {
          name: Type.String({ maxLength: 8 }),
          n: Type.Optional(Type.Array(Type.Number(), { maxItems: 3 })),
        },
        { additionalProperties: false },
      ),
      response: Type.Object({ ok: Type.Boolean() }),
      handler: () => ({ ok: true }),
    });
    await api.listen();
    try {
      let seed = 7;
      const r = () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x7fffffff;
      };
      const pieces = [
        '{',
        '}',
        '[',
        ']',
        '"name"',
        ':',
        ',',
        '"x"',
        '1',
        'null',
        'true',
        '"n"',
        '-',
        'e9',
        '\\u0000',
        '"\\ud800"',
        ' ',
      ];
      const statuses = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const body = Array.from(
          { length: Math.floor(r() * 12) },
          () => pieces[Math.floor(r() * pieces.length)],
        ).join('');
        const id = ['1', '-1', 'x', '%ff', '1e3', '00', String(Math.floor(r() * 1e6))][Math.floor(r() * 7)];
        const res = await fetch(`${api.address!.url}/api/v1/things/${id}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
        });
        const json = (await res.json()) as { ok?: boolean; error?: { code: string; message: string } };
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(
          res.status === 200 || (res.status >= 400 && res.status < 500),
          `status ${res.status} for ${id} ${body}`,
        );
        if (res.status !== 200) assert.ok(json.error?.message, 'every error has a message');
      }
      assert.ok((statuses.get(400) ?? 0) > 0);
      const ok = await fetch(`${api.address!.url}/api/v1/things/3`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"name":"fine"}',
      });
      assert.equal(ok.status, 200);
      await ok.text();
    } finally {
      await api.close();
    }
  });
});
