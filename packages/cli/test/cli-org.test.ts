import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

interface UpJson {
  chain: { rpcUrl: string; contracts: Record<string, string> };
}
interface OrgJson {
  id: string;
  name: string;
  networkLabel: string;
  admin: string;
  token: string;
  networkServiceId: string;
  members?: string[];
  nodes?: string[];
}

const running = (stdout: string) => stdout.includes('"status":"running"');

async function ok(args: string[], env: Record<string, string>) {
  const run = await runCli([...args, '--json'], env);
  assert.equal(run.code, 0, `dibs ${args.join(' ')}\n${run.stderr}${run.stdout}`);
  return lastJson(run.stdout);
}

describe('dibs org: organizations, their token, fleet configuration and a service paid in the org token', () => {
  const a = tempHome();
  const b = tempHome();
  let nodeA: Awaited<ReturnType<typeof startCli>>;
  let nodeB: Awaited<ReturnType<typeof startCli>> | undefined;
  let bEnv: Record<string, string>;
  let addressA: string;
  let addressB: string;
  let orgId: string;

  before(async () => {
    nodeA = await startCli(['up', '--json'], a.env, running, 180_000);
    const upA = lastJson<UpJson>(nodeA.output().stdout);
    bEnv = { ...b.env, DIBS_CONTRACTS: JSON.stringify(upA.chain.contracts) };
    nodeB = await startCli(
      ['node', 'start', '--rpc-url', upA.chain.rpcUrl, '--json'],
      bEnv,
      running,
      180_000,
    );
    addressA = (await ok(['id', 'show'], a.env)).address as string;
    addressB = (await ok(['id', 'show'], bEnv)).address as string;
  });
  after(async () => {
    if (nodeB) await stopChild(nodeB.child);
    await stopChild(nodeA.child);
    for (const h of [a, b]) h.cleanup();
  });

  test('create, members and nodes, list and show', async () => {
    const created = (await ok(['org', 'create', 'Acme Corp'], a.env)) as unknown as OrgJson;
    assert.equal(created.name, 'Acme Corp');
    assert.equal(created.networkLabel, 'acme-corp');
    assert.equal(created.admin, addressA);
    assert.match(created.token, /^0x[0-9a-fA-F]{40}$/);
    assert.notEqual(created.networkServiceId, '0');
    orgId = created.id;

    // The organization's network service admits members and member nodes only.
    const netService = await ok(['service', 'show', created.networkServiceId], a.env);
    assert.equal(netService.type, 'network');
    assert.equal(netService.policy, 'organization-network');

    await ok(['org', 'add-member', orgId, addressB], a.env);
    await ok(['org', 'add-node', orgId, addressA], a.env);
    const dup = await runCli(['org', 'add-member', orgId, addressB, '--json'], a.env);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stdout + dup.stderr, /AlreadyMember/);
    const notAdmin = await runCli(['org', 'add-member', orgId, addressA, '--json'], bEnv);
    assert.notEqual(notAdmin.code, 0);
    assert.match(notAdmin.stdout + notAdmin.stderr, /NotOrganizationAdmin/);

    const shown = (await ok(['org', 'show', orgId], a.env)) as unknown as OrgJson;
    assert.deepEqual(shown.members, [addressB]);
    assert.deepEqual(shown.nodes, [addressA]);
    const listedByB = (await ok(['org', 'list'], bEnv)).organizations as Array<OrgJson & { role?: string }>;
    assert.equal(listedByB.find((o) => o.id === orgId)?.role, 'member');
  });

  test('token mint, transfer and balance', async () => {
    const minted = await ok(['org', 'token', 'mint', orgId, addressA, '100'], a.env);
    assert.equal(minted.balance, '100');
    const sent = await ok(['org', 'token', 'transfer', orgId, addressB, '30'], a.env);
    assert.equal(sent.balance, '70');
    assert.equal((await ok(['org', 'token', 'balance', orgId, addressB], a.env)).balance, '30');
    const tooMuch = await runCli(['org', 'token', 'transfer', orgId, addressA, '31', '--json'], bEnv);
    assert.notEqual(tooMuch.code, 0);
    assert.match(tooMuch.stdout + tooMuch.stderr, /less than 31/);
  });

  test('fleet configuration set/get/list, removal, bad input and help', async () => {
    await ok(['org', 'env', 'set', orgId, 'relays', '/dns/relay.example/tcp/4001'], a.env);
    await ok(['org', 'env', 'set', orgId, 'mtu', '1380'], a.env);
    assert.equal((await ok(['org', 'env', 'get', orgId, 'mtu'], bEnv)).value, '1380');
    assert.deepEqual((await ok(['org', 'env', 'list', orgId], bEnv)).env, {
      mtu: '1380',
      relays: '/dns/relay.example/tcp/4001',
    });
    await ok(['org', 'env', 'set', orgId, 'mtu', ''], a.env);
    const gone = await runCli(['org', 'env', 'get', orgId, 'mtu', '--json'], a.env);
    assert.notEqual(gone.code, 0);
    const longKey = await runCli(['org', 'env', 'set', orgId, 'k'.repeat(65), 'v', '--json'], a.env);
    assert.notEqual(longKey.code, 0);
    assert.match(longKey.stdout + longKey.stderr, /1-64 bytes/);
    const byMember = await runCli(['org', 'env', 'set', orgId, 'x', 'y', '--json'], bEnv);
    assert.notEqual(byMember.code, 0);
    assert.match(byMember.stdout + byMember.stderr, /NotOrganizationAdmin/);

    await ok(['org', 'remove-member', orgId, addressB], a.env);
    assert.deepEqual(((await ok(['org', 'show', orgId], a.env)) as unknown as OrgJson).members, []);
    await ok(['org', 'remove-node', orgId, addressA], a.env);

    const bad = await runCli(['org', 'show', 'abc', '--json'], a.env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout + bad.stderr, /not an id/);
    const help = await runCli(['org', '--help'], a.env);
    for (const sub of [
      'create',
      'add-member',
      'remove-member',
      'add-node',
      'remove-node',
      'list',
      'show',
      'token',
      'env',
    ]) {
      assert.match(help.stdout, new RegExp(`\\b${sub}\\b`));
    }
  });

  test('a service priced in an OrgToken: a member pays in it and gets the grant', async () => {
    const created = (await ok(['org', 'create', 'payers', '--token', 'new'], a.env)) as unknown as OrgJson;
    const orgId = created.id;
    await ok(['org', 'add-member', orgId, addressB], a.env);
    await ok(['org', 'token', 'mint', orgId, addressB, '12'], a.env);

    const pub = await ok(
      [
        'service',
        'publish',
        'paid',
        '--target',
        '127.0.0.1:9',
        '--price',
        '5',
        '--token',
        created.token,
        '--org',
        orgId,
      ],
      a.env,
    );
    assert.equal(pub.price, '5');
    assert.equal(pub.token, created.token);
    assert.equal(pub.policy, 'organization');

    const before = BigInt((await ok(['org', 'token', 'balance', orgId], a.env)).balance as string);
    const grant = await ok(['access', 'request', pub.id as string], bEnv);
    assert.equal(grant.serviceId, pub.id);
    assert.equal((await ok(['org', 'token', 'balance', orgId, addressB], a.env)).balance, '7');
    assert.equal(
      BigInt((await ok(['org', 'token', 'balance', orgId], a.env)).balance as string),
      before + 5n,
    );
    const grants = (await ok(['access', 'list'], bEnv)).grants as Array<{ serviceId: string }>;
    assert.ok(grants.some((g) => g.serviceId === pub.id));

    // A non-member holding the token is still refused by the organization policy.
    await ok(['org', 'remove-member', orgId, addressB], a.env);
    const refused = await runCli(['access', 'request', pub.id as string, '--json'], bEnv);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /NotAllowed/);
    assert.equal((await ok(['org', 'token', 'balance', orgId, addressB], a.env)).balance, '7');
  });

  test('org join and leave: both nodes run the organization network beside the public one, shown by status', async () => {
    const created = (await ok(['org', 'create', 'Teams'], a.env)) as unknown as OrgJson;
    const id = created.id;
    await ok(['org', 'add-node', id, addressA], a.env);
    await ok(['org', 'add-member', id, addressB], a.env);
    const joinedA = await ok(['org', 'join', id], a.env);
    assert.equal(joinedA.orgId, id);
    assert.equal(joinedA.protocolPrefix, `/dibs/org/teams/${id}`);
    await ok(['org', 'join', id], bEnv);
    type Status = { orgs: Array<{ orgId: string; admitted: number }> };
    const inOrg = async (env: Record<string, string>) =>
      ((await ok(['status'], env)) as unknown as Status).orgs.find((o) => o.orgId === id);
    let admitted = 0;
    for (let i = 0; i < 60 && admitted === 0; i++) {
      admitted = Math.min((await inOrg(a.env))?.admitted ?? 0, (await inOrg(bEnv))?.admitted ?? 0);
      if (admitted === 0) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(admitted, 1, 'each node admits the other in the organization network');
    const left = await ok(['org', 'leave', id], bEnv);
    assert.equal(left.left, true);
    assert.equal(await inOrg(bEnv), undefined);
    assert.ok(await inOrg(a.env), 'the other node still runs it');
    // A node that is in no way part of an organization is refused, with what to do.
    const other = (await ok(['org', 'create', 'Others'], a.env)) as unknown as OrgJson;
    const refused = await runCli(['org', 'join', other.id, '--json'], bEnv);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /neither a member nor a node/);
    assert.match(refused.stdout + refused.stderr, /add-node/);
    const help = await runCli(['org', '--help'], a.env);
    assert.match(help.stdout, /\bjoin\b/);
    assert.match(help.stdout, /\bleave\b/);
  });
});
