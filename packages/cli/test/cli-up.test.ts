import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isProcessAlive } from '@dibs/chain';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

/** Running: a zombie (killed, not yet reaped by whoever inherited it) counts as gone. */
const alive = isProcessAlive;

interface UpJson {
  status: string;
  address: string;
  chain: { deployment: string; contracts: Record<string, string>; anvilPid: number; rpcUrl: string };
  identity: { registered: boolean; action: string };
}

describe('dibs up on the embedded chain', () => {
  const home = tempHome();
  after(() => home.cleanup());

  test('a fresh data dir: chain up, contracts deployed, identity registered; a second start reuses all of it', async () => {
    const first = await runCli(['up', '--exit-after-start', '--json'], home.env);
    assert.equal(first.code, 0, first.stderr);
    const a = lastJson<UpJson>(first.stdout);
    assert.equal(a.status, 'running');
    assert.equal(a.chain.deployment, 'deployed');
    assert.equal(a.identity.action, 'registered');
    assert.equal(alive(a.chain.anvilPid), false, 'anvil is stopped when up exits');

    const second = await runCli(['up', '--exit-after-start', '--json'], home.env);
    assert.equal(second.code, 0, second.stderr);
    const b = lastJson<UpJson>(second.stdout);
    assert.equal(b.chain.deployment, 'reused', 'the persisted chain still has the contracts');
    assert.deepEqual(b.chain.contracts, a.chain.contracts);
    assert.equal(b.address, a.address);
    assert.equal(b.identity.action, 'unchanged', 'the registration survived the restart');
    assert.equal(b.identity.registered, true);
  });

  test('init refuses to replace an existing identity', async () => {
    const r = await runCli(['init'], home.env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /already holds a DIBS identity/);
  });
});

describe('commands beside a running node', () => {
  const home = tempHome();
  let node: Awaited<ReturnType<typeof startCli>>;
  before(async () => {
    node = await startCli(['up'], home.env, (stdout) => stdout.includes('Press Ctrl-C'));
  });
  after(async () => {
    await stopChild(node.child);
    home.cleanup();
  });

  test('chain status, id show --check and id register answer from the running chain', async () => {
    const status = await runCli(['chain', 'status', '--json'], home.env);
    assert.equal(status.code, 0, status.stderr);
    const s = lastJson<{ chainId: number; contracts: Record<string, string>; headBlock: string }>(
      status.stdout,
    );
    assert.equal(s.chainId, 31337);
    assert.match(s.contracts.registry!, /^0x[0-9a-fA-F]{40}$/);

    const show = await runCli(['id', 'show', '--check', '--json'], home.env);
    assert.equal(show.code, 0, show.stderr);
    const id = lastJson<{ address: string; did: string; registered: boolean; peerId: string }>(show.stdout);
    assert.equal(id.registered, true);
    assert.equal(id.did, `did:pkh:eip155:31337:${id.address}`);
    assert.match(id.peerId, /^16Uiu2/);

    const reg = await runCli(['id', 'register', '--json'], home.env);
    assert.equal(reg.code, 0, reg.stderr);
    assert.equal(lastJson<{ action: string }>(reg.stdout).action, 'unchanged');
  });

  test('id resolve: the DID document carries the encryption key registered on chain', async () => {
    const show = lastJson<{ did: string; encryptionKey: string }>(
      (await runCli(['id', 'show', '--json'], home.env)).stdout,
    );
    const r = await runCli(['id', 'resolve', show.did, '--json'], home.env);
    assert.equal(r.code, 0, r.stderr);
    const doc = lastJson<{ id: string; keyAgreement?: Array<{ publicKeyMultibase: string }> }>(r.stdout);
    assert.equal(doc.id, show.did);
    const multibase = doc.keyAgreement?.[0]?.publicKeyMultibase;
    assert.ok(multibase, 'a registered identity has a key agreement method');
    const { x25519KeyFromMultibase } = await import('@dibs/core');
    assert.equal(`0x${Buffer.from(x25519KeyFromMultibase(multibase)!).toString('hex')}`, show.encryptionKey);
    const stranger = await runCli(
      ['id', 'resolve', 'did:pkh:eip155:31337:0x000000000000000000000000000000000000dEaD', '--json'],
      home.env,
    );
    assert.equal(stranger.code, 0, stranger.stderr);
    assert.equal(lastJson<{ keyAgreement?: unknown[] }>(stranger.stdout).keyAgreement, undefined);
  });

  test('access request, list and revoke a grant on the network service', async () => {
    const status = lastJson<{ networkServiceId: string }>(
      (await runCli(['chain', 'status', '--json'], home.env)).stdout,
    );
    const req = await runCli(['access', 'request', status.networkServiceId, '--json'], home.env);
    assert.equal(req.code, 0, req.stderr);
    const grant = lastJson<{ grantId: string; serviceId: string; revoked: boolean; expiresAt: string }>(
      req.stdout,
    );
    assert.equal(grant.serviceId, status.networkServiceId);
    assert.ok(BigInt(grant.expiresAt) * 1000n > BigInt(Date.now()));

    const list = await runCli(['access', 'list', '--json'], { DIBS_HOME: home.home });
    assert.equal(list.code, 0, list.stderr);
    const grants = lastJson<{ grants: Array<{ grantId: string; revoked: boolean }> }>(list.stdout).grants;
    assert.deepEqual(
      grants.map((g) => [g.grantId, g.revoked]),
      [[grant.grantId, false]],
    );

    const revoke = await runCli(['access', 'revoke', grant.grantId, '--json'], home.env);
    assert.equal(revoke.code, 0, revoke.stderr);
    const refreshed = await runCli(['access', 'list', '--refresh', '--json'], home.env);
    assert.equal(
      lastJson<{ grants: Array<{ revoked: boolean }> }>(refreshed.stdout).grants[0]!.revoked,
      true,
    );

    const again = await runCli(['access', 'revoke', grant.grantId], home.env);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /GrantAlreadyRevoked|already revoked/i);
    const bad = await runCli(['access', 'request', 'abc'], home.env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /not a number/);
  });

  test('anvil killed: the supervisor restarts it, logs it, and the chain answers again with its state', async () => {
    const runtime = JSON.parse(readFileSync(join(home.home, 'run', 'node.json'), 'utf8')) as {
      anvilPid: number;
    };
    const before = await runCli(['chain', 'status', '--json'], home.env);
    const contracts = lastJson<{ contracts: unknown }>(before.stdout).contracts;
    process.kill(runtime.anvilPid, 'SIGKILL');
    const deadline = Date.now() + 60_000;
    while (!/anvil running on .*attempt|restart/i.test(node.output().stderr) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(node.output().stderr, /exited|restart/i, 'the restart is logged');
    let status = await runCli(['chain', 'status', '--json'], home.env);
    for (let i = 0; i < 50 && status.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = await runCli(['chain', 'status', '--json'], home.env);
    }
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(lastJson<{ contracts: unknown }>(status.stdout).contracts, contracts);
  });

  test('Ctrl-C stops the node and its chain cleanly', async () => {
    const runtime = JSON.parse(readFileSync(join(home.home, 'run', 'node.json'), 'utf8')) as {
      anvilPid: number;
    };
    const code = await stopChild(node.child);
    assert.equal(code, 0);
    assert.equal(alive(runtime.anvilPid), false);
    const status = await runCli(['chain', 'status'], home.env);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /not running/);
  });
});

/** PIDs of the anvil watchdogs whose parent is `pid` (found in /proc by their process name). */
function watchdogsOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('dibs-anvil-watchdog')) {
        found.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

describe('a node killed with SIGKILL', () => {
  const home = tempHome();
  const started: number[] = [];
  after(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    home.cleanup();
  });
  const up = async () => {
    const node = await startCli(['up'], home.env, (stdout) => stdout.includes('Press Ctrl-C'));
    const { anvilPid } = JSON.parse(readFileSync(join(home.home, 'run', 'node.json'), 'utf8')) as {
      anvilPid: number;
    };
    started.push(node.child.pid!, anvilPid);
    return { node, anvilPid };
  };
  const killed = (child: import('node:child_process').ChildProcess) =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  const gone = async (pid: number, what: string) => {
    // The bound: anvil's stop timeout (SIGTERM, then SIGKILL by the watchdog) plus slack.
    const deadline = Date.now() + 20_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, what);
  };

  test('its anvil does not outlive it; the next start finds an anvil orphaned with its watchdog and stops it', async () => {
    const first = await up();
    assert.equal(watchdogsOf(first.node.child.pid!).length, 1, 'one watchdog beside the chain');
    await killed(first.node.child);
    await gone(first.anvilPid, 'anvil exits after its node was killed with SIGKILL');

    // Node and watchdog both killed (as an OOM kill of the group would): the next start reaps anvil.
    const second = await up();
    for (const w of watchdogsOf(second.node.child.pid!)) process.kill(w, 'SIGKILL');
    await killed(second.node.child);
    assert.equal(alive(second.anvilPid), true, 'without its watchdog the orphaned anvil keeps running');
    const third = await runCli(['up', '--exit-after-start', '--json'], home.env);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(alive(second.anvilPid), false, 'the start stopped the stale anvil of its data dir');
    assert.equal(lastJson<UpJson>(third.stdout).chain.deployment, 'reused');
    assert.match(
      readFileSync(join(home.home, 'chain', 'anvil.log'), 'utf8'),
      new RegExp(`found anvil pid ${second.anvilPid} left running`),
    );
  });
});

describe('bad input', () => {
  const home = tempHome();
  after(() => home.cleanup());
  before(async () => {
    const r = await runCli(['init', '--json'], home.env);
    assert.equal(r.code, 0, r.stderr);
  });

  test('wrong passphrase: clear error, non-zero exit, keystore untouched', async () => {
    const keystore = join(home.home, 'keystore.json');
    const bytes = readFileSync(keystore);
    const wrong = join(home.root, 'wrong');
    writeFileSync(wrong, 'not the passphrase\n');
    const r = await runCli(['up', '--exit-after-start'], { ...home.env, DIBS_PASSPHRASE_FILE: wrong });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /wrong passphrase/);
    assert.deepEqual(readFileSync(keystore), bytes);
  });

  test('corrupt keystore: the error names the file', async () => {
    const other = tempHome();
    try {
      assert.equal((await runCli(['init'], other.env)).code, 0);
      const keystore = join(other.home, 'keystore.json');
      writeFileSync(keystore, '{"version": 3, "crypto": ');
      const r = await runCli(['up', '--exit-after-start'], other.env);
      assert.notEqual(r.code, 0);
      assert.ok(r.stderr.includes(keystore), r.stderr);
    } finally {
      other.cleanup();
    }
  });

  test('corrupt config: the error names the file', async () => {
    const config = join(home.home, 'config.json');
    const saved = readFileSync(config);
    try {
      writeFileSync(config, '{ "chain": { "mode": "sideways" } }');
      const r = await runCli(['chain', 'status'], home.env);
      assert.notEqual(r.code, 0);
      assert.ok(r.stderr.includes(config), r.stderr);
      assert.match(r.stderr, /chain\.mode/);
      writeFileSync(config, 'not json at all');
      const j = await runCli(['id', 'show', '--json'], home.env);
      assert.notEqual(j.code, 0);
      assert.ok(lastJson<{ error: { message: string } }>(j.stdout).error.message.includes(config));
    } finally {
      writeFileSync(config, saved);
    }
  });

  test('RPC unreachable: the error names the URL', async () => {
    const url = 'http://127.0.0.1:1';
    const r = await runCli(['up', '--exit-after-start', '--rpc-url', url], home.env);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(url), r.stderr);
  });

  test('no passphrase and no terminal: says how to provide one', async () => {
    const r = await runCli(['up', '--exit-after-start'], { DIBS_HOME: home.home });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /DIBS_PASSPHRASE_FILE/);
  });

  test('every command has --help; unknown commands fail', async () => {
    for (const args of [
      ['--help'],
      ['init', '--help'],
      ['up', '--help'],
      ['id', 'show', '--help'],
      ['chain', 'status', '--help'],
    ]) {
      const r = await runCli(args, home.env);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: dibs/);
    }
    const bad = await runCli(['frobnicate'], home.env);
    assert.notEqual(bad.code, 0);
  });
});
