/**
 * The organization routes on real daemons and a real anvil: node A (embedded anvil) creates an
 * organization and administers it over its API, node B (joined over RPC) is made a member, reads it,
 * takes a grant on its network service and is removed. Bad input and refusals answer with a status
 * and a code that say what went wrong; the routes need the token like every route.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Wallet } from '@dibs/core';
import { type Daemon, startDaemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/daemon/log.ts';

const CHAIN_ID = 31337;

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, asserted field by field below
  body: any;
}

describe('organization routes on real daemons', () => {
  const dirs: string[] = [];
  const daemons: Daemon[] = [];
  const tokens = new Map<Daemon, string>();
  let a: Daemon;
  let b: Daemon;
  let orgId: string;

  async function start(name: string, chain: Parameters<typeof startDaemon>[0]['chain']): Promise<Daemon> {
    const dir = mkdtempSync(join(tmpdir(), `dibs-api-orgs-${name}-`));
    dirs.push(dir);
    const d = await startDaemon({
      dataDir: dir,
      databasePath: join(dir, 'dibs.db'),
      runtimePath: join(dir, 'run', 'node.json'),
      chain,
      wallet: Wallet.generate(),
      log: createLogger({ console: null, component: name }),
      p2p: false,
      api: { port: 0 },
    });
    daemons.push(d);
    tokens.set(d, readFileSync(join(dir, 'api-token'), 'utf8').trim());
    return d;
  }

  async function call(
    d: Daemon,
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
  ): Promise<Answer> {
    const auth = token === undefined ? tokens.get(d) : token;
    const res = await fetch(`${d.api!.url}${path}`, {
      method,
      headers: {
        ...(auth !== null ? { authorization: `Bearer ${auth}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Asserts an error answer: status, code, and a message that names what went wrong. */
  function refused(answer: Answer, status: number, code: string, message: RegExp): void {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, code);
    assert.match(answer.body.error.message, message);
  }

  before(async () => {
    a = await start('a', { mode: 'embedded', chainId: CHAIN_ID });
    const contracts = { ...a.info.chain.contracts, networkServiceId: a.info.chain.networkServiceId };
    b = await start('b', { mode: 'rpc', rpcUrl: a.info.chain.rpcUrl, chainId: CHAIN_ID, contracts });
  });

  after(async () => {
    for (const d of daemons.reverse()) await d.stop().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('creates an organization with its network service, and lists it as this node’s', async () => {
    const created = await call(a, 'POST', '/api/v1/orgs', { name: 'Acme Labs' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.name, 'Acme Labs');
    assert.equal(created.body.networkLabel, 'acme-labs');
    assert.equal(created.body.admin, a.info.address);
    assert.equal(created.body.role, 'admin');
    assert.notEqual(created.body.networkServiceId, '0');
    orgId = created.body.id;

    const all = await call(b, 'GET', '/api/v1/orgs');
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.organizations.map((o: { id: string; role: unknown }) => [o.id, o.role]),
      [[orgId, null]],
    );
    assert.deepEqual((await call(b, 'GET', '/api/v1/orgs?mine=true')).body.organizations, []);
    const mineA = await call(a, 'GET', '/api/v1/orgs?mine=true');
    assert.deepEqual(
      mineA.body.organizations.map((o: { id: string }) => o.id),
      [orgId],
    );
  });

  it('adds a member and a node, shows them with token, label, network service and fleet configuration', async () => {
    const added = await call(a, 'POST', `/api/v1/orgs/${orgId}/members`, { address: b.info.address });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual(added.body, { orgId, address: b.info.address, role: 'member', present: true });
    assert.equal(
      (await call(a, 'POST', `/api/v1/orgs/${orgId}/nodes`, { address: a.info.address })).status,
      201,
    );

    refused(
      await call(a, 'POST', `/api/v1/orgs/${orgId}/members`, { address: b.info.address }),
      409,
      'ALREADY_MEMBER',
      /already a member of organization/,
    );
    refused(
      await call(b, 'POST', `/api/v1/orgs/${orgId}/members`, { address: a.info.address }),
      403,
      'NOT_ORG_ADMIN',
      /is not the admin of organization .*ask them/,
    );

    const shown = await call(b, 'GET', `/api/v1/orgs/${orgId}`);
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.role, 'member');
    assert.deepEqual(shown.body.members, [b.info.address]);
    assert.deepEqual(shown.body.nodes, [a.info.address]);
    assert.equal(shown.body.networkLabel, 'acme-labs');
    assert.equal(shown.body.tokenInfo.address, shown.body.token);
    assert.ok(shown.body.tokenInfo.symbol.length > 0);
    assert.equal(shown.body.networkService.id, shown.body.networkServiceId);
    assert.equal(shown.body.networkService.audience, 'network');
    assert.deepEqual(shown.body.env, {});
  });

  it('sets, reads, lists and removes fleet configuration keys (admin only)', async () => {
    const set = await call(a, 'PUT', `/api/v1/orgs/${orgId}/env/relays`, {
      value: '/dns/relay.example/tcp/4001',
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal((await call(a, 'PUT', `/api/v1/orgs/${orgId}/env/mtu`, { value: '1380' })).status, 200);
    assert.deepEqual((await call(b, 'GET', `/api/v1/orgs/${orgId}/env/mtu`)).body, {
      orgId,
      key: 'mtu',
      value: '1380',
    });
    assert.deepEqual((await call(b, 'GET', `/api/v1/orgs/${orgId}/env`)).body.env, {
      mtu: '1380',
      relays: '/dns/relay.example/tcp/4001',
    });
    refused(
      await call(b, 'PUT', `/api/v1/orgs/${orgId}/env/mtu`, { value: '9000' }),
      403,
      'NOT_ORG_ADMIN',
      /not the admin/,
    );
    assert.equal((await call(a, 'DELETE', `/api/v1/orgs/${orgId}/env/mtu`)).status, 200);
    refused(await call(b, 'GET', `/api/v1/orgs/${orgId}/env/mtu`), 404, 'ENV_KEY_NOT_SET', /mtu is not set/);
    refused(
      await call(a, 'PUT', `/api/v1/orgs/${orgId}/env/${'k'.repeat(65)}`, { value: 'v' }),
      400,
      'INVALID_PARAMS',
      /key/,
    );
  });

  it('mints and transfers the organization token; a transfer beyond the balance is refused', async () => {
    const minted = await call(a, 'POST', `/api/v1/orgs/${orgId}/token/mint`, {
      to: a.info.address,
      amount: '100',
    });
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    assert.equal(minted.body.balance, '100');
    const sent = await call(a, 'POST', `/api/v1/orgs/${orgId}/token/transfer`, {
      to: b.info.address,
      amount: '30',
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.balance, '70');
    assert.equal((await call(b, 'GET', `/api/v1/orgs/${orgId}`)).body.tokenInfo.balance, '30');
    refused(
      await call(b, 'POST', `/api/v1/orgs/${orgId}/token/transfer`, { to: a.info.address, amount: '31' }),
      409,
      'INSUFFICIENT_BALANCE',
      /you hold 30 .* less than 31/,
    );
    refused(
      await call(b, 'POST', `/api/v1/orgs/${orgId}/token/mint`, { to: b.info.address, amount: '5' }),
      403,
      'NOT_ORG_ADMIN',
      /not the admin/,
    );
  });

  it('lists the organization’s services and the grants on them', async () => {
    const services = await call(a, 'GET', `/api/v1/orgs/${orgId}/services`);
    assert.equal(services.status, 200);
    const network = services.body.services.find((s: { audience: string }) => s.audience === 'network');
    assert.ok(network, 'the network service is listed');
    assert.equal(network.name, 'org:Acme Labs');

    // B, a member, takes a grant on the organization's network service.
    const grant = await call(b, 'POST', '/api/v1/grants', { serviceId: network.id });
    assert.equal(grant.status, 201, JSON.stringify(grant.body));
    const grants = await call(a, 'GET', `/api/v1/orgs/${orgId}/grants`);
    assert.equal(grants.status, 200);
    assert.deepEqual(
      grants.body.grants.map((g: { grantee: string; serviceName: string; revoked: boolean }) => [
        g.grantee,
        g.serviceName,
        g.revoked,
      ]),
      [[b.info.address, 'org:Acme Labs', false]],
    );
  });

  it('removes the member; the organization shows it gone', async () => {
    const removed = await call(a, 'DELETE', `/api/v1/orgs/${orgId}/members/${b.info.address}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.present, false);
    assert.deepEqual((await call(a, 'GET', `/api/v1/orgs/${orgId}`)).body.members, []);
    assert.equal((await call(b, 'GET', `/api/v1/orgs/${orgId}`)).body.role, null);
    refused(
      await call(a, 'DELETE', `/api/v1/orgs/${orgId}/members/${b.info.address}`),
      409,
      'NOT_A_MEMBER',
      /is not a member/,
    );
  });

  it('answers bad input and unknown organizations with errors that say what is wrong, and needs the token', async () => {
    refused(
      await call(a, 'GET', '/api/v1/orgs/999'),
      404,
      'ORG_NOT_FOUND',
      /organization 999 does not exist/,
    );
    refused(await call(a, 'GET', '/api/v1/orgs/abc'), 400, 'INVALID_PARAMS', /id/);
    refused(
      await call(a, 'POST', `/api/v1/orgs/${orgId}/members`, { address: '0x1234' }),
      400,
      'INVALID_BODY',
      /address/,
    );
    refused(
      await call(a, 'POST', `/api/v1/orgs/${orgId}/token/mint`, { to: a.info.address, amount: '-1' }),
      400,
      'INVALID_BODY',
      /amount/,
    );
    refused(await call(a, 'POST', '/api/v1/orgs', { name: '' }), 400, 'INVALID_BODY', /name/);
    refused(await call(a, 'POST', '/api/v1/orgs', { name: 'x', extra: 1 }), 400, 'INVALID_BODY', /extra/);
    assert.equal((await call(a, 'GET', '/api/v1/orgs', undefined, null)).status, 401);
    assert.equal(
      (await call(a, 'POST', '/api/v1/orgs', { name: 'x' }, 'wrong-token-wrong-token-wrong')).status,
      401,
    );
    // DNS rebinding: a Host that is not loopback is refused before the route runs.
    const host = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${a.api!.url}/api/v1/orgs`, {
        headers: { host: 'evil.example:80', authorization: `Bearer ${tokens.get(a)}` },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(host, 403);
  });
});
