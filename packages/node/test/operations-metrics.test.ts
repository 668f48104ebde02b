/**
 * Metrics and health on real daemons: two nodes (embedded anvil + one joining over RPC) admit each
 * other; node a's /metrics is scraped with its token and parsed as the Prometheus text exposition
 * format; /healthz and /readyz answer JSON without the token and carry no secret.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Wallet } from '@dibs/core';
import { type Daemon, startDaemon } from '../src/daemon/daemon.ts';
import { createLogger, type LogRing } from '../src/daemon/log.ts';
import { waitFor } from './helpers.ts';

const CHAIN_ID = 31337;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (0.0.4); throws on any line that does not fit it. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${name})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = new RegExp(`^# HELP (${name}) (.*)$`).exec(line);
    if (m) continue;
    m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      assert.ok(!types.has(m[1]!), `TYPE of ${m[1]} given twice`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = sampleRe.exec(line);
    assert.ok(m, `not an exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1));
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value) || m[3] === 'NaN', `bad value in ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}

describe('metrics and health endpoints on real daemons', () => {
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  let a: Daemon;
  let b: Daemon;
  let token: string;
  const rings = new Map<string, LogRing>();

  const start = async (name: string, chain: Parameters<typeof startDaemon>[0]['chain']) => {
    const dir = mkdtempSync(join(tmpdir(), `dibs-metrics-${name}-`));
    dirs.push(dir);
    const log = createLogger({ console: null, component: name });
    rings.set(name, log.ring!);
    const d = await startDaemon({
      dataDir: dir,
      databasePath: join(dir, 'dibs.db'),
      runtimePath: join(dir, 'run', 'node.json'),
      chain,
      wallet: Wallet.generate(),
      log,
      p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], liveness: { intervalMs: 500 } },
      api: { port: 0 },
    });
    daemons.push(d);
    return d;
  };

  before(async () => {
    a = await start('a', { mode: 'embedded', chainId: CHAIN_ID });
    const contracts = { ...a.info.chain.contracts, networkServiceId: a.info.chain.networkServiceId };
    b = await start('b', { mode: 'rpc', rpcUrl: a.info.chain.rpcUrl, chainId: CHAIN_ID, contracts });
    token = readFileSync(join(a.info.dataDir, 'api-token'), 'utf8').trim();
    assert.ok(
      await waitFor(() => a.network!.host.admission.admittedPeers().length > 0, 60_000),
      'a admits b',
    );
  });

  after(async () => {
    for (const d of daemons.reverse()) await d.stop().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics in the Prometheus text format, with the token only', async () => {
    const anon = await fetch(`${a.api!.url}/metrics`);
    assert.equal(anon.status, 401);
    await anon.text();
    const res = await fetch(`${a.api!.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.ok(!text.includes(token), 'the token never appears in metrics');
    const { types, samples } = parseExposition(text);
    const one = (n: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === n && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    for (const [n, t] of [
      ['dibs_admissions_total', 'counter'],
      ['dibs_refusals_total', 'counter'],
      ['dibs_sessions_started_total', 'counter'],
      ['dibs_session_bytes_total', 'counter'],
      ['dibs_peers', 'gauge'],
      ['dibs_sessions_open', 'gauge'],
      ['dibs_grant_cache_grants', 'gauge'],
      ['dibs_chain_lag_blocks', 'gauge'],
      ['dibs_relay_reservations', 'gauge'],
      ['dibs_tx_queue_depth', 'gauge'],
      ['dibs_tx_in_flight', 'gauge'],
      ['dibs_grant_cache_services', 'gauge'],
      ['dibs_peers_connected', 'gauge'],
      ['dibs_sessions_ended_total', 'counter'],
      ['dibs_grant_events_total', 'counter'],
      ['dibs_process_resident_memory_bytes', 'gauge'],
    ] as const) {
      assert.equal(types.get(n), t, `${n} is a ${t}`);
    }
    assert.ok((one('dibs_admissions_total')?.value ?? 0) >= 1, 'a admitted b');
    assert.ok((one('dibs_peers')?.value ?? 0) >= 1);
    assert.ok((one('dibs_grant_cache_grants')?.value ?? 0) >= 2, 'both network grants are cached');
    assert.ok((one('dibs_chain_head_block')?.value ?? 0) > 0);
    const lag = one('dibs_chain_lag_blocks')?.value;
    assert.ok(lag !== undefined && lag >= 0, 'chain lag is known');
    assert.equal(one('dibs_sessions_open')?.value, 0);
    // The wallet's transaction queue is wired: idle now, so a sample of 0 (not a missing gauge).
    assert.equal(one('dibs_tx_queue_depth')?.value, 0, 'the transaction queue reports its depth');
    assert.equal(one('dibs_tx_in_flight')?.value, 0);
    assert.ok(
      (one('dibs_grant_events_total', { kind: 'issued' })?.value ?? 0) >= 1,
      "b's network grant, issued while a ran, is counted",
    );
    assert.equal(one('dibs_session_bytes_total', { direction: 'in' })?.value, 0);
  });

  it('answers /healthz and /readyz as small JSON without the token and without secrets', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(`${a.api!.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const text = await res.text();
      assert.ok(text.length < 300, `${path} is small`);
      assert.ok(!text.includes(token));
      assert.ok(!/0x[0-9a-fA-F]{40}|0x[0-9a-fA-F]{64}/.test(text), `${path} names no address or key`);
    }
    const health = await (await fetch(`${a.api!.url}/healthz`)).json();
    assert.equal(health.status, 'ok');
    const ready = await (await fetch(`${a.api!.url}/readyz`)).json();
    assert.deepEqual(ready, { ready: true, checks: { chain: true, network: true, api: true } });
    const evil = await new Promise<number>((resolve, reject) => {
      const req = request(`${a.api!.url}/healthz`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(evil, 403, 'the Host check covers the probes too');
  });

  it('keeps the grants it saw on chain in the audit trail, queryable over the API', async () => {
    const auth = { authorization: `Bearer ${token}` };
    let records: Array<{ kind: string; grantId: string | null; who: string | null }> = [];
    await waitFor(async () => {
      const res = await fetch(`${a.api!.url}/api/v1/audit?kind=grant-issued`, { headers: auth });
      records = (await res.json()).records;
      return records.length >= 2;
    }, 30_000);
    const grantees = records.map((r) => r.who?.toLowerCase());
    assert.ok(grantees.includes(a.info.address.toLowerCase()), "a's network grant");
    assert.ok(grantees.includes(b.info.address.toLowerCase()), "b's network grant");
    assert.equal(new Set(records.map((r) => r.grantId)).size, records.length, 'one record per grant');
    const bad = await fetch(`${a.api!.url}/api/v1/audit?kind=nope`, { headers: auth });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'INVALID_QUERY');
  });

  it('logs the role change, each session start and end, and records the session with its bytes', async () => {
    const web = createServer((_req, res) => res.end('x'.repeat(5000)));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const view = await a.network!.services!.publish({
        name: 'ops-web',
        type: 'http',
        target: `127.0.0.1:${(web.address() as AddressInfo).port}`,
        policy: 'public',
      });
      const lines = () => rings.get('a')!.entries(1000);
      assert.ok(
        await waitFor(() => lines().some((l) => l.message === 'roles changed'), 30_000),
        'hosting a service sets the service-host role: a log line',
      );
      const roles = lines().find((l) => l.message === 'roles changed')!;
      assert.match(roles.fields.roles ?? '', /service-host/);
      assert.doesNotMatch(roles.fields.previous ?? '', /service-host/);

      const c = await b.network!.services!.connect({ serviceId: view.id, listen: '127.0.0.1:0' });
      const body = await (await fetch(`http://${c.localAddress}/`)).text();
      assert.equal(body.length, 5000);
      assert.ok(
        await waitFor(() => lines().some((l) => l.message === 'session started'), 15_000),
        'session start logged',
      );
      await b.network!.services!.disconnect(c.id);
      assert.ok(
        await waitFor(() => lines().some((l) => l.message === 'session ended'), 15_000),
        'session end logged',
      );
      const ended = lines().find((l) => l.message === 'session ended')!;
      assert.equal(ended.fields.service, 'ops-web');
      assert.ok(Number(ended.fields.bytesOut) >= 5000, `bytes out counted: ${ended.fields.bytesOut}`);
      const res = await fetch(`${a.api!.url}/api/v1/audit?kind=session`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const { records } = (await res.json()) as {
        records: Array<{ serviceName: string | null; endedAt: number | null; bytesOut: number | null }>;
      };
      const session = records.find((r) => r.serviceName === 'ops-web');
      assert.ok(session?.endedAt, 'the audit trail holds the ended session');
      assert.ok((session.bytesOut ?? 0) >= 5000);
      const text = await (
        await fetch(`${a.api!.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
      ).text();
      const { samples } = parseExposition(text);
      const ended2 = samples.find(
        (x) => x.name === 'dibs_sessions_ended_total' && x.labels.direction === 'inbound',
      );
      assert.ok((ended2?.value ?? 0) >= 1, 'the ended session is counted');
      assert.ok(!lines().some((l) => JSON.stringify(l).includes(token)), 'the API token is never logged');
    } finally {
      web.close();
    }
  });
});
