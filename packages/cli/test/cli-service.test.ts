import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

interface ServiceJson {
  id: string;
  name: string;
  type: string;
  owner: string;
  host: string;
  own: boolean;
  target?: string;
  allow?: string[];
  policy: string;
  active: boolean;
}

const running = (stdout: string) => stdout.includes('"status":"running"');

describe('dibs service: publish, list, show, policy and retire beside a running node', () => {
  const home = tempHome();
  let node: Awaited<ReturnType<typeof startCli>>;
  let web: Server;
  let webPort: number;
  /** The network's ERC-20 (18 decimals), from `dibs up --json`. */
  let token: string;

  before(async () => {
    web = createServer((_req, res) => res.end('ok'));
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    webPort = (web.address() as { port: number }).port;
    node = await startCli(['up', '--json'], home.env, running, 180_000);
    const up = node.output().stdout.split('\n').find(running) ?? '';
    token = (JSON.parse(up) as { chain: { contracts: { token: string } } }).chain.contracts.token;
  });
  after(async () => {
    await stopChild(node.child);
    web.close();
    home.cleanup();
  });

  test('publish → list → show → retire, all with --json', async () => {
    const pub = await runCli(
      ['service', 'publish', 'web', '--type', 'http', '--target', `127.0.0.1:${webPort}`, '--json'],
      home.env,
    );
    assert.equal(pub.code, 0, pub.stderr + pub.stdout);
    const published = lastJson<ServiceJson>(pub.stdout);
    assert.equal(published.name, 'web');
    assert.equal(published.type, 'http');
    assert.equal(published.own, true);
    assert.equal(published.target, `127.0.0.1:${webPort}`);
    assert.equal(published.policy, 'public');
    assert.match(published.id, /^\d+$/);

    const vpn = await runCli(
      [
        'service',
        'publish',
        'lan',
        '--type',
        'vpn',
        '--allow-dest',
        '10.0.0.0/8:22+80-443,192.168.1.5',
        '--json',
      ],
      home.env,
    );
    assert.equal(vpn.code, 0, vpn.stderr + vpn.stdout);
    assert.deepEqual(lastJson<ServiceJson>(vpn.stdout).allow, ['10.0.0.0/8:22+80-443', '192.168.1.5/32']);

    const list = await runCli(['service', 'list', '--json'], home.env);
    assert.equal(list.code, 0, list.stderr);
    const names = lastJson<{ services: ServiceJson[] }>(list.stdout).services.map((s) => s.name);
    assert.ok(names.includes('web') && names.includes('lan'), names.join(','));

    const byName = await runCli(['service', 'show', 'web', '--json'], home.env);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(lastJson<ServiceJson>(byName.stdout).id, published.id);
    const byId = await runCli(['service', 'show', published.id, '--json'], home.env);
    assert.equal(lastJson<ServiceJson>(byId.stdout).name, 'web');

    const retire = await runCli(['service', 'retire', 'web', '--json'], home.env);
    assert.equal(retire.code, 0, retire.stderr + retire.stdout);
    assert.equal(lastJson<{ retired: boolean }>(retire.stdout).retired, true);
    const after = await runCli(['service', 'show', published.id, '--json'], home.env);
    assert.equal(lastJson<ServiceJson>(after.stdout).active, false);
  });

  test('allow → disallow → update a service’s policy, with --json and the chain’s refusal', async () => {
    const a1 = `0x${'a1'.repeat(20)}`;
    const b2 = `0x${'b2'.repeat(20)}`;
    const pub = await runCli(
      ['service', 'publish', 'wiki', '--target', `127.0.0.1:${webPort}`, '--allow', a1, '--json'],
      home.env,
    );
    assert.equal(pub.code, 0, pub.stderr + pub.stdout);
    type Policy = { policy: string; price: string; allowlist: string[]; organizationId: string | null };
    const lower = (p: Policy) => p.allowlist.map((x) => x.toLowerCase()).sort();
    const allow = await runCli(['service', 'allow', 'wiki', b2, '--json'], home.env);
    assert.equal(allow.code, 0, allow.stderr + allow.stdout);
    assert.deepEqual(lower(lastJson<Policy>(allow.stdout)), [a1, b2]);
    const disallow = await runCli(['service', 'disallow', 'wiki', a1, '--json'], home.env);
    assert.equal(disallow.code, 0, disallow.stderr + disallow.stdout);
    assert.deepEqual(lower(lastJson<Policy>(disallow.stdout)), [b2]);

    const update = await runCli(
      ['service', 'update', 'wiki', '--policy', 'public', '--price', '7', '--json'],
      home.env,
    );
    assert.equal(update.code, 0, update.stderr + update.stdout);
    assert.equal(lastJson<Policy>(update.stdout).policy, 'public');
    assert.equal(lastJson<Policy>(update.stdout).price, '7');

    const badOrg = await runCli(
      ['service', 'update', 'wiki', '--policy', 'organization', '--org', '999', '--json'],
      home.env,
    );
    assert.notEqual(badOrg.code, 0);
    assert.match(lastJson<{ error: { message: string } }>(badOrg.stdout).error.message, /InvalidPolicyRef/);
  });

  test('token holders: --token-threshold in the token’s units at publish and update, as the chain holds it', async () => {
    type Holders = { policy: string; holderThreshold: string; holderThresholdBaseUnits: string };
    const pub = await runCli(
      ['service', 'publish', 'vault', '--target', `127.0.0.1:${webPort}`, '--holder-token', token].concat([
        '--token-threshold',
        '2.5',
        '--json',
      ]),
      home.env,
    );
    assert.equal(pub.code, 0, pub.stderr + pub.stdout);
    assert.equal(lastJson<ServiceJson>(pub.stdout).policy, 'token-holders');
    const shown = await runCli(['service', 'policy', 'vault', '--json'], home.env);
    assert.equal(shown.code, 0, shown.stderr + shown.stdout);
    assert.equal(lastJson<Holders>(shown.stdout).holderThreshold, '2.5');
    assert.equal(lastJson<Holders>(shown.stdout).holderThresholdBaseUnits, String(25n * 10n ** 17n));
    const raised = await runCli(['service', 'update', 'vault', '--token-threshold', '7', '--json'], home.env);
    assert.equal(raised.code, 0, raised.stderr + raised.stdout);
    assert.equal(lastJson<Holders>(raised.stdout).holderThreshold, '7');
    assert.equal(lastJson<Holders>(raised.stdout).holderThresholdBaseUnits, String(7n * 10n ** 18n));
  });

  test('mistakes get an error code and a hint', async () => {
    const noTarget = await runCli(['service', 'publish', 'x', '--json'], home.env);
    assert.notEqual(noTarget.code, 0);
    const e1 = lastJson<{ error: { code: string; hint?: string } }>(noTarget.stdout).error;
    assert.equal(e1.code, 'TARGET_REQUIRED');
    assert.match(e1.hint ?? '', /--target/);
    const badRule = await runCli(
      ['service', 'publish', 'v', '--type', 'vpn', '--allow-dest', '10.0.0.0/33', '--json'],
      home.env,
    );
    assert.equal(lastJson<{ error: { code: string } }>(badRule.stdout).error.code, 'BAD_ALLOW_RULE');
    const missing = await runCli(['service', 'show', 'no-such-service', '--json'], home.env);
    assert.equal(lastJson<{ error: { code: string } }>(missing.stdout).error.code, 'UNKNOWN_SERVICE');
    const twoPolicies = await runCli(
      ['service', 'publish', 'y', '--target', '127.0.0.1:1', '--public', '--org', '1', '--json'],
      home.env,
    );
    assert.equal(lastJson<{ error: { code: string } }>(twoPolicies.stdout).error.code, 'BAD_ARGUMENT');
  });
});
