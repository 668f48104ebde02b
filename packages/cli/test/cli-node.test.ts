import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

interface UpJson {
  status: string;
  address: string;
  peerId: string;
  chain: { rpcUrl: string; contracts: Record<string, string>; networkServiceId: string };
  network: { peerId: string; multiaddrs: string[]; grantId: string; roles: number };
}

interface StatusJson {
  running: boolean;
  network: {
    peerId: string;
    admitted: number;
    peers: Array<{ peerId: string; admitted: boolean; admittedBy: boolean }>;
  };
}

const running = (stdout: string) => stdout.includes('"status":"running"');

/** Polls `dibs node status --json` until `check` holds (bounded); returns the last status. */
async function statusUntil(
  env: Record<string, string>,
  check: (s: StatusJson) => boolean,
  attempts = 30,
): Promise<StatusJson> {
  let last: StatusJson | undefined;
  for (let i = 0; i < attempts; i++) {
    const r = await runCli(['node', 'status', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    last = lastJson<StatusJson>(r.stdout);
    if (check(last)) return last;
    await new Promise((res) => setTimeout(res, 1_000));
  }
  return last!;
}

describe('dibs node: a second data dir joins the network of a first node with one command', () => {
  const first = tempHome();
  const second = tempHome();
  let a: Awaited<ReturnType<typeof startCli>>;
  let b: Awaited<ReturnType<typeof startCli>> | undefined;
  let upA: UpJson;

  before(async () => {
    a = await startCli(['up', '--json'], first.env, running, 180_000);
    upA = lastJson<UpJson>(a.output().stdout);
  });
  after(async () => {
    if (b) await stopChild(b.child);
    await stopChild(a.child);
    first.cleanup();
    second.cleanup();
  });

  test('the first node runs the embedded chain and is the network bootstrap', async () => {
    assert.equal(upA.network.peerId, upA.peerId);
    assert.ok(upA.network.multiaddrs.some((m) => m.startsWith('/ip4/127.0.0.1/tcp/')));
    assert.equal(upA.network.roles & 3, 3, 'bootstrap and relay roles');
    assert.match(upA.network.grantId, /^[0-9]+$/);
  });

  test('a fresh data dir given the RPC URL and contracts joins; both see each other admitted', async () => {
    b = await startCli(
      ['node', 'start', '--rpc-url', upA.chain.rpcUrl, '--json'],
      { ...second.env, DIBS_CONTRACTS: JSON.stringify(upA.chain.contracts) },
      running,
      180_000,
    );
    const upB = lastJson<UpJson>(b.output().stdout);
    assert.notEqual(upB.address, upA.address, 'its own wallet');
    assert.equal(upB.chain.networkServiceId, upA.chain.networkServiceId, 'found the same network on chain');
    assert.notEqual(upB.network.grantId, upA.network.grantId, 'its own network grant');

    const sawB = await statusUntil(first.env, (s) =>
      s.network.peers.some((p) => p.peerId === upB.peerId && p.admitted && p.admittedBy),
    );
    assert.ok(
      sawB.network.peers.some((p) => p.peerId === upB.peerId && p.admitted && p.admittedBy),
      `the first node admits the second: ${JSON.stringify(sawB.network)}`,
    );
    const sawA = await statusUntil(second.env, (s) =>
      s.network.peers.some((p) => p.peerId === upA.peerId && p.admitted && p.admittedBy),
    );
    assert.ok(
      sawA.network.peers.some((p) => p.peerId === upA.peerId && p.admitted && p.admittedBy),
      `the second node admits the first: ${JSON.stringify(sawA.network)}`,
    );
    assert.ok(sawA.network.admitted >= 1);
  });

  test('node start without a chain, or status without a running node, says what to do', async () => {
    const lonely = tempHome();
    try {
      const start = await runCli(['node', 'start', '--json'], lonely.env);
      assert.notEqual(start.code, 0);
      assert.match(start.stderr + start.stdout, /NEEDS_RPC_URL/);
      const status = await runCli(['node', 'status', '--json'], lonely.env);
      assert.notEqual(status.code, 0);
      assert.match(status.stderr + status.stdout, /NOT_RUNNING/);
      const badEnv = await runCli(['node', 'start', '--rpc-url', upA.chain.rpcUrl, '--json'], {
        ...lonely.env,
        DIBS_CONTRACTS: '{"registry":"nope"}',
      });
      assert.notEqual(badEnv.code, 0);
      assert.match(badEnv.stderr + badEnv.stdout, /BAD_CONTRACTS_ENV/);
    } finally {
      lonely.cleanup();
    }
  });
});
