/**
 * The management API mounted on real daemons: two nodes (embedded anvil + a node joining it over
 * RPC) with the p2p network, and one without it. Token file, runtime file, every read route over the
 * real chain and libp2p host, bad input and errors that say what to do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Wallet } from '@dibs/core';
import { type Address, formatUnits } from 'viem';
import { type Daemon, startDaemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/daemon/log.ts';
import { readRuntimeInfo } from '../src/daemon/runtime-file.ts';
import { waitFor } from './helpers.ts';

const CHAIN_ID = 31337;
const LISTEN = ['/ip4/127.0.0.1/tcp/0'];

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, asserted field by field below
  body: any;
}

function tokenOf(d: Daemon): string {
  const tokenFile = readRuntimeInfoOf(d).api?.tokenFile;
  assert.ok(tokenFile, 'the runtime file names the token file');
  return readFileSync(tokenFile, 'utf8').trim();
}

const runtimePaths = new Map<Daemon, string>();
function readRuntimeInfoOf(d: Daemon) {
  const info = readRuntimeInfo(runtimePaths.get(d)!);
  assert.ok(info, 'the runtime file exists while the node runs');
  return info;
}

async function call(
  d: Daemon,
  method: string,
  path: string,
  opts: { body?: string; token?: string | null; type?: string } = {},
): Promise<Answer> {
  const token = opts.token === undefined ? tokenOf(d) : opts.token;
  const res = await fetch(`${d.api!.url}${path}`, {
    method,
    headers: {
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('management API on real daemons', () => {
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  let a: Daemon;
  let b: Daemon;
  let bare: Daemon;

  async function start(
    name: string,
    chain: Parameters<typeof startDaemon>[0]['chain'],
    p2p: boolean,
  ): Promise<Daemon> {
    const dir = mkdtempSync(join(tmpdir(), `dibs-api-${name}-`));
    dirs.push(dir);
    const d = await startDaemon({
      dataDir: dir,
      databasePath: join(dir, 'dibs.db'),
      runtimePath: join(dir, 'run', 'node.json'),
      chain,
      wallet: Wallet.generate(),
      log: createLogger({ console: null, component: name }),
      p2p: p2p ? { listen: LISTEN, liveness: { intervalMs: 500 } } : false,
      api: { port: 0 },
    });
    daemons.push(d);
    runtimePaths.set(d, join(dir, 'run', 'node.json'));
    return d;
  }

  before(async () => {
    a = await start('a', { mode: 'embedded', chainId: CHAIN_ID }, true);
    const contracts = { ...a.info.chain.contracts, networkServiceId: a.info.chain.networkServiceId };
    const joined = { mode: 'rpc' as const, rpcUrl: a.info.chain.rpcUrl, chainId: CHAIN_ID, contracts };
    b = await start('b', joined, true);
    bare = await start('bare', joined, false);
  });

  after(async () => {
    for (const d of daemons.reverse()) await d.stop().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the token in a 0600 file, names it in the runtime file and the UI URL carries it in the fragment', () => {
    const info = readRuntimeInfoOf(a);
    assert.equal(info.api?.url, a.api?.url);
    assert.equal(info.api?.tokenFile, join(a.info.dataDir, 'api-token'));
    assert.equal(statSync(info.api!.tokenFile).mode & 0o777, 0o600);
    const token = tokenOf(a);
    assert.ok(token.length >= 24);
    assert.equal(a.info.api?.uiUrl, `${a.api?.url}/#token=${encodeURIComponent(token)}`);
    assert.match(a.info.api!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(!JSON.stringify(info).includes(token), 'the runtime file never holds the token itself');
  });

  it('answers identity, chain and balance from the real chain', async () => {
    const id = await call(a, 'GET', '/api/v1/identity');
    assert.equal(id.status, 200);
    assert.equal(id.body.address, a.info.address);
    assert.equal(id.body.peerId, a.info.peerId);
    assert.equal(id.body.did, a.info.did);
    assert.ok(id.body.listenAddresses.length > 0);

    const chain = await call(a, 'GET', '/api/v1/chain');
    assert.equal(chain.status, 200);
    assert.equal(chain.body.chainId, CHAIN_ID);
    assert.equal(chain.body.embedded, true);
    assert.equal(chain.body.reachable, true);
    assert.ok(chain.body.headBlock > 0);
    assert.deepEqual(
      chain.body.contracts.map((c: { name: string }) => c.name),
      ['token', 'registry', 'services', 'accessGrants', 'organizations'],
    );
    assert.equal((await call(b, 'GET', '/api/v1/chain')).body.embedded, false);

    const bal = await call(b, 'GET', '/api/v1/balance');
    assert.equal(bal.status, 200);
    assert.equal(bal.body.address, b.info.address);
    assert.ok(BigInt(bal.body.native) > 0n, 'the joining node funded itself on the dev chain');
    assert.equal(bal.body.token.address, a.info.chain.contracts.token);
    assert.match(bal.body.token.balance, /^\d+$/);
    assert.ok(bal.body.token.symbol.length > 0);
  });

  it('lists the other node as a connected, direct peer with its address and, once measured, its RTT', async () => {
    const seen = await waitFor(async () => {
      const r = await call(a, 'GET', '/api/v1/peers');
      const p = r.body.peers.find((x: { peerId: string }) => x.peerId === b.info.peerId);
      return p?.connected === true && p.rttMs !== null;
    }, 20_000);
    assert.ok(seen, 'node b shows up with an RTT');
    const r = await call(a, 'GET', '/api/v1/peers');
    const p = r.body.peers.find((x: { peerId: string }) => x.peerId === b.info.peerId);
    assert.equal(p.address.toLowerCase(), b.info.address.toLowerCase());
    assert.equal(p.path, 'direct');
    assert.equal(p.relay, null);
    assert.match(p.remoteAddress, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
    assert.ok(p.since > 0);
    // b sees a, the bootstrap node, with its Registry roles.
    const fromB = (await call(b, 'GET', '/api/v1/peers')).body.peers.find(
      (x: { peerId: string }) => x.peerId === a.info.peerId,
    );
    assert.ok(fromB, 'b lists a');
    assert.ok(fromB.roles.includes('bootstrap'));
  });

  it('keeps recent log lines, newest last, filtered by level, with secrets redacted', async () => {
    const r = await call(a, 'GET', '/api/v1/logs?limit=500');
    assert.equal(r.status, 200);
    const messages = r.body.entries.map((e: { message: string }) => e.message);
    assert.ok(messages.includes('API listening'));
    const seqs = r.body.entries.map((e: { seq: number }) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x: number, y: number) => x - y),
    );
    const warn = await call(a, 'GET', '/api/v1/logs?level=warn');
    for (const e of warn.body.entries) assert.ok(e.level === 'warn' || e.level === 'error');
    const token = tokenOf(a);
    assert.ok(!JSON.stringify(r.body).includes(token));
    const limited = await call(a, 'GET', '/api/v1/logs?limit=1');
    assert.equal(limited.body.entries.length, 1);
  });

  it('streams counters over SSE', async () => {
    const res = await fetch(`${a.api!.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${tokenOf(a)}` },
      signal: AbortSignal.timeout(15_000),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    for (let i = 0; i < 50 && (text.match(/event: counters/g) ?? []).length < 2; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    assert.ok((text.match(/event: counters/g) ?? []).length >= 2, 'the first counters and a timed one');
  });

  it('a node without p2p answers network routes with 503 and what to do, and still serves the rest', async () => {
    for (const path of ['/api/v1/peers', '/api/v1/services']) {
      const r = await call(bare, 'GET', path);
      assert.equal(r.status, 503, path);
      assert.equal(r.body.error.code, 'NO_NETWORK');
      assert.match(r.body.error.message, /dibs up/);
    }
    const post = await call(bare, 'POST', '/api/v1/connections', { body: '{"serviceId":"1"}' });
    assert.equal(post.status, 503);
    const proxy = await call(bare, 'POST', '/api/v1/proxies', { body: '{}' });
    assert.equal(proxy.status, 503);
    assert.deepEqual((await call(bare, 'GET', '/api/v1/sessions')).body, { sessions: [], connections: [] });
    assert.deepEqual((await call(bare, 'GET', '/api/v1/proxies')).body, { proxies: [] });
    assert.deepEqual((await call(bare, 'GET', '/api/v1/grants')).body, { grants: [] });
    assert.equal((await call(bare, 'GET', '/api/v1/identity')).body.listenAddresses.length, 0);
    assert.equal((await call(bare, 'GET', '/api/v1/balance')).status, 200);
  });

  it('reports the L3 VPN and refuses to join what is not a vpn service', async () => {
    const status = await call(a, 'GET', '/api/v1/vpn');
    assert.equal(status.status, 200);
    assert.equal(typeof status.body.supported, 'boolean');
    assert.deepEqual(status.body.sessions, []);
    const up = await call(a, 'POST', '/api/v1/vpn', { body: '{"serviceId":"987654"}' });
    if (status.body.supported) {
      assert.equal(up.status, 404, JSON.stringify(up.body));
      assert.equal(up.body.error.code, 'UNKNOWN_SERVICE');
    } else {
      // An unprivileged host: 501 with the way to the L4 VPN.
      assert.equal(up.status, 501, JSON.stringify(up.body));
      assert.match(up.body.error.message, /dibs proxy/);
    }
    const down = await call(a, 'DELETE', '/api/v1/vpn/987654');
    assert.equal(down.status, 404);
    assert.equal(down.body.error.code, 'NOT_UP');
    assert.equal((await call(bare, 'GET', '/api/v1/vpn')).body.supported, false);
  });

  it('refuses missing, malformed and wrong tokens with 401 and a hint', async () => {
    const none = await call(a, 'GET', '/api/v1/identity', { token: null });
    assert.equal(none.status, 401);
    assert.match(none.body.error.message, /Authorization: Bearer/);
    const wrong = await call(a, 'GET', '/api/v1/identity', { token: tokenOf(b) });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.error.message, /wrong API token/);
    const res = await fetch(`${a.api!.url}/api/v1/identity`, { headers: { authorization: 'Basic abc' } });
    assert.equal(res.status, 401);
  });

  it('refuses bad input with 4xx and a message naming the problem', async () => {
    const malformed = await call(a, 'POST', '/api/v1/grants', { body: '{"serviceId": ' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'MALFORMED_JSON');

    const wrongType = await call(a, 'POST', '/api/v1/grants', { body: '{"serviceId": 7}' });
    assert.equal(wrongType.status, 400);
    assert.match(wrongType.body.error.message, /serviceId/);

    const notAnId = await call(a, 'POST', '/api/v1/grants', { body: '{"serviceId": "0x12"}' });
    assert.equal(notAnId.status, 400);

    const unknownField = await call(a, 'POST', '/api/v1/proxies', { body: '{"port": 1080}' });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.body.error.message, /port/);

    const remoteProxy = await call(a, 'POST', '/api/v1/proxies', { body: '{"listen": "0.0.0.0:1080"}' });
    assert.equal(remoteProxy.status, 400, 'a proxy never listens beyond loopback');

    const text = await call(a, 'POST', '/api/v1/grants', { body: 'serviceId=1', type: 'text/plain' });
    assert.equal(text.status, 415);

    const vpnNoRules = await call(a, 'POST', '/api/v1/services', {
      body: JSON.stringify({ name: 'x', type: 'vpn' }),
    });
    assert.ok(vpnNoRules.status === 400 || vpnNoRules.status === 503, String(vpnNoRules.status));

    const badGrantId = await call(a, 'DELETE', '/api/v1/grants/abc');
    assert.equal(badGrantId.status, 400);
    assert.match(badGrantId.body.error.message, /grant id/);
  });

  it('maps chain answers to 404/403 with the reason: unknown service, unknown and foreign grants', async () => {
    const unknown = await call(b, 'POST', '/api/v1/grants', { body: '{"serviceId": "999999"}' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /999999/);

    const noGrant = await call(b, 'DELETE', '/api/v1/grants/123456789');
    assert.equal(noGrant.status, 404);

    // a's network grant is on the network service, which b does not own: b may not revoke it.
    const networkGrant = readRuntimeInfoOf(a).p2p?.grantId;
    assert.ok(networkGrant);
    const foreign = await call(b, 'DELETE', `/api/v1/grants/${networkGrant}`);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, 'NOT_SERVICE_OWNER');
  });

  it('publish, grant, connect, sessions, proxies, revoke and retire over the real services runtime', async () => {
    const target = createServer((_req, res) => res.end('through the API\n'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    try {
      const port = (target.address() as AddressInfo).port;
      const published = await call(a, 'POST', '/api/v1/services', {
        body: JSON.stringify({ name: 'api-web', type: 'http', target: `127.0.0.1:${port}` }),
      });
      assert.equal(published.status, 201, JSON.stringify(published.body));
      const id = published.body.id as string;
      assert.equal(published.body.own, true);
      assert.equal(published.body.target, `127.0.0.1:${port}`);

      const seen = await waitFor(async () => {
        const list = await call(b, 'GET', '/api/v1/services');
        return list.body.services.some((x: { id: string; own: boolean }) => x.id === id && !x.own);
      }, 20_000);
      assert.ok(seen, 'b lists a’s service');
      const notMine = await call(b, 'DELETE', `/api/v1/services/${id}`);
      assert.equal(notMine.status, 403);

      const grant = await call(b, 'POST', '/api/v1/grants', { body: JSON.stringify({ serviceId: id }) });
      assert.equal(grant.status, 201, JSON.stringify(grant.body));
      assert.equal(grant.body.owner, a.info.address);
      const conn = await call(b, 'POST', '/api/v1/connections', { body: JSON.stringify({ serviceId: id }) });
      assert.equal(conn.status, 201, JSON.stringify(conn.body));
      const answer = await fetch(`http://${conn.body.localAddress}/`, {
        signal: AbortSignal.timeout(20_000),
      });
      assert.equal(await answer.text(), 'through the API\n');
      const listed = await call(b, 'GET', '/api/v1/services');
      const row = listed.body.services.find((x: { id: string }) => x.id === id);
      assert.equal(row.connection.localAddress, conn.body.localAddress);
      const inbound = await waitFor(async () => {
        const ss = (await call(a, 'GET', '/api/v1/sessions')).body.sessions;
        return ss.some((x: { serviceId: string; direction: string }) => x.serviceId === id);
      }, 10_000);
      assert.ok(inbound, 'the host lists the tunnel of the kept-alive HTTP connection as a session');
      const clientSide = (await call(b, 'GET', '/api/v1/sessions')).body;
      assert.ok(
        clientSide.sessions.some((x: { serviceId: string; direction: string }) => x.direction === 'outbound'),
      );
      const listener = clientSide.connections.find((x: { id: string }) => x.id === conn.body.id);
      assert.equal(listener?.localAddress, conn.body.localAddress, JSON.stringify(clientSide.connections));
      assert.ok(
        listener.bytesIn >= 'through the API\n'.length && listener.bytesOut > 0,
        JSON.stringify(listener),
      );

      // a owns the service: it sees b's grant as owner and may revoke it.
      const grants = (await call(a, 'GET', '/api/v1/grants')).body.grants;
      const issued = grants.find((g: { id: string }) => g.id === grant.body.id);
      assert.ok(issued, 'the owner lists the grant on its service');
      assert.equal(issued.role, 'owner');
      assert.equal(issued.grantee.toLowerCase(), b.info.address.toLowerCase());
      const revoked = await call(a, 'DELETE', `/api/v1/grants/${grant.body.id}`);
      assert.equal(revoked.status, 204, JSON.stringify(revoked.body));

      const gone = await call(b, 'DELETE', `/api/v1/connections/${conn.body.id}`);
      assert.equal(gone.status, 204);
      assert.equal((await call(b, 'DELETE', `/api/v1/connections/${conn.body.id}`)).status, 404);

      const proxy = await call(b, 'POST', '/api/v1/proxies', { body: '{"listen":"127.0.0.1:0"}' });
      assert.equal(proxy.status, 201, JSON.stringify(proxy.body));
      assert.match(proxy.body.localAddress, /^127\.0\.0\.1:\d+$/);
      assert.equal((await call(b, 'GET', '/api/v1/proxies')).body.proxies.length, 1);
      const taken = await call(b, 'POST', '/api/v1/proxies', {
        body: JSON.stringify({ listen: proxy.body.localAddress }),
      });
      assert.equal(taken.status, 409, JSON.stringify(taken.body));
      assert.equal((await call(b, 'DELETE', `/api/v1/proxies/${proxy.body.id}`)).status, 204);
      assert.equal((await call(b, 'DELETE', `/api/v1/proxies/${proxy.body.id}`)).status, 404);

      assert.equal((await call(a, 'DELETE', `/api/v1/services/${id}`)).status, 204);
      const after = (await call(a, 'GET', '/api/v1/services')).body.services;
      assert.equal(after.find((x: { id: string }) => x.id === id)?.active ?? false, false);
    } finally {
      target.closeAllConnections();
      await new Promise<void>((r) => target.close(() => r()));
    }
  });

  it("changes an own service's policy and allowlist on chain, refuses others' and bad changes, lists the fleet", async () => {
    const published = await call(a, 'POST', '/api/v1/services', {
      body: JSON.stringify({
        name: 'api-policy',
        type: 'tcp',
        target: '127.0.0.1:9',
        policy: 'allowlist',
        allowlist: [b.info.address],
      }),
    });
    assert.equal(published.status, 201, JSON.stringify(published.body));
    const id = published.body.id as string;
    const read = await call(b, 'GET', `/api/v1/services/${id}/policy`);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.policy, 'allowlist');
    assert.deepEqual(
      read.body.allowlist.map((x: string) => x.toLowerCase()),
      [b.info.address.toLowerCase()],
    );

    // Add and remove in one call: the chain's allowlist is what the answer shows.
    const other = Wallet.generate().address;
    const changed = await call(a, 'POST', `/api/v1/services/${id}/allowlist`, {
      body: JSON.stringify({ add: [other], remove: [b.info.address] }),
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(
      changed.body.allowlist.map((x: string) => x.toLowerCase()),
      [other.toLowerCase()],
    );

    // Price and policy through Services.update.
    const updated = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: JSON.stringify({ policy: 'public', price: '5' }),
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.policy, 'public');
    assert.equal(updated.body.price, '5');
    assert.ok(updated.body.paymentToken, 'a priced service names its payment token');

    // Token holders above a threshold given in the token's units: the chain enforces exactly it.
    const serviceId = BigInt(id);
    const holder = b.info.address as Address;
    await a.chain.registry.mintToken(holder, 3n * 10n ** 18n);
    const held = await a.chain.registry.tokenBalance(holder);
    const gated = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: JSON.stringify({
        policy: 'token-holders',
        holderToken: a.chain.deployment.token,
        tokenThreshold: formatUnits(held, 18),
      }),
    });
    assert.equal(gated.status, 200, JSON.stringify(gated.body));
    assert.equal(gated.body.holderThreshold, formatUnits(held, 18));
    assert.equal(gated.body.holderThresholdBaseUnits, held.toString());
    assert.equal(gated.body.holderTokenDecimals, 18);
    assert.equal(await a.chain.registry.meetsPolicy(serviceId, holder), true);
    const raised = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: JSON.stringify({ tokenThreshold: formatUnits(held + 1n, 18) }),
    });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal((await a.chain.registry.getService(serviceId))?.tokenThreshold, held + 1n);
    assert.equal(await a.chain.registry.meetsPolicy(serviceId, holder), false, 'one base unit short');
    const tooFine = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: '{"tokenThreshold":"0.0000000000000000001"}',
    });
    assert.equal(tooFine.status, 400, JSON.stringify(tooFine.body));
    assert.equal(tooFine.body.error.code, 'BAD_TOKEN_AMOUNT');
    const notHolders = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: '{"policy":"public","tokenThreshold":"1"}',
    });
    assert.equal(notHolders.status, 400, JSON.stringify(notHolders.body));
    assert.equal(notHolders.body.error.code, 'BAD_TOKEN_THRESHOLD');
    const badText = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: '{"tokenThreshold":"1e18"}',
    });
    assert.equal(badText.status, 400);

    // Someone else's service, a missing organization, an organization the chain does not know, nothing to do.
    const foreign = await call(b, 'PATCH', `/api/v1/services/${id}/policy`, { body: '{"price":"0"}' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, 'NOT_SERVICE_OWNER');
    assert.match(foreign.body.error.message, /only its owner/);
    const noOrg = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: '{"policy":"organization"}',
    });
    assert.equal(noOrg.status, 400);
    const badOrg = await call(a, 'PATCH', `/api/v1/services/${id}/policy`, {
      body: '{"policy":"organization","organizationId":"999"}',
    });
    assert.equal(badOrg.status, 400, JSON.stringify(badOrg.body));
    assert.match(badOrg.body.error.message, /InvalidPolicyRef/);
    const empty = await call(a, 'POST', `/api/v1/services/${id}/allowlist`, { body: '{}' });
    assert.equal(empty.status, 400);
    const badAddress = await call(a, 'POST', `/api/v1/services/${id}/allowlist`, {
      body: '{"add":["0x1234"]}',
    });
    assert.equal(badAddress.status, 400);
    assert.equal((await call(a, 'GET', '/api/v1/services/999999/policy')).status, 404);

    // The fleet: every node registered on chain (the bare node runs no p2p, so it never registered).
    assert.equal(
      (await call(a, 'PUT', `/api/v1/fleet/${b.info.address}/label`, { body: '{"label":"bee"}' })).status,
      204,
    );
    const fleet = await call(a, 'GET', '/api/v1/fleet');
    assert.equal(fleet.status, 200, JSON.stringify(fleet.body));
    const byAddress = new Map(
      fleet.body.nodes.map((n: { address: string }) => [n.address.toLowerCase(), n] as const),
    );
    const self = byAddress.get(a.info.address.toLowerCase()) as {
      self: boolean;
      online: boolean;
      services: Array<{ id: string; name: string }>;
    };
    assert.ok(self?.self && self.online);
    assert.ok(
      self.services.some((x) => x.id === id && x.name === 'api-policy'),
      JSON.stringify(self.services),
    );
    const bee = byAddress.get(b.info.address.toLowerCase()) as {
      label: string;
      online: boolean;
      peerId: string;
    };
    assert.equal(bee?.label, 'bee');
    assert.equal(bee.online, true);
    assert.equal(bee.peerId, b.info.peerId);
    assert.equal(
      byAddress.has(bare.info.address.toLowerCase()),
      false,
      'a node without p2p is not registered',
    );
    assert.equal((await call(a, 'DELETE', `/api/v1/services/${id}`)).status, 204);
  });

  it('documents the added routes in the OpenAPI document', async () => {
    const doc = await call(a, 'GET', '/api/v1/openapi.json');
    assert.equal(doc.status, 200);
    for (const p of ['/api/v1/balance', '/api/v1/proxies', '/api/v1/proxies/{id}'])
      assert.ok(doc.body.paths[p], p);
  });
});
