/**
 * `dibs devnet`: three real node processes on one embedded anvil, detached from the command; status
 * sees them admitted to each other, the published demo service is reachable through a client's
 * local port, and `down` stops every PID (twice is fine).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { isProcessAlive } from '@dibs/chain';
import { isAlive, readDevnetState } from '../src/commands/devnet.ts';
import { parseApiPort } from '../src/commands/up.ts';
import { CliError } from '../src/errors.ts';
import { runCli, startCli, stopChild } from './cli-helpers.ts';

/** Running: a zombie (killed, not yet reaped by whoever inherited it) counts as gone. */
const alive = isProcessAlive;

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return check();
}

interface NodeStatus {
  name: string;
  role: string;
  pid: number;
  alive: boolean;
  address: string;
  admittedPeers: number | null;
  uiUrl: string | null;
}

interface UpResult {
  dir: string;
  running: boolean;
  rpcUrl: string;
  nodes: NodeStatus[];
  demo: { pid: number; target: string; serviceId: string | null } | null;
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(path));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

/**
 * Scans every file the devnet wrote for each node's API token and passphrase: each secret is only
 * in its own file, and that file is 0600; every log is 0600 too.
 */
function assertNoSecretOutsideItsFile(dir: string, nodes: string[]): void {
  const secrets: Array<{ value: string; home: string }> = [];
  for (const n of nodes) {
    for (const name of ['api-token', 'passphrase']) {
      const home = join(dir, n, name);
      assert.equal(statSync(home).mode & 0o777, 0o600, `${relative(dir, home)} is 0600`);
      const value = readFileSync(home, 'utf8').trim();
      assert.ok(value.length >= 16, `${relative(dir, home)} holds a secret`);
      secrets.push({ value, home });
    }
  }
  const files = filesUnder(dir);
  assert.ok(
    files.some((f) => f.includes(`${join('logs', 'node-0')}.out.log`)),
    'the logs were scanned',
  );
  for (const file of files) {
    const text = readFileSync(file).toString('latin1');
    for (const s of secrets) {
      if (file === s.home) continue;
      for (const form of new Set([s.value, encodeURIComponent(s.value)])) {
        assert.ok(
          !text.includes(form),
          `${relative(dir, file)} contains the secret of ${relative(dir, s.home)}`,
        );
      }
    }
  }
  for (const file of files.filter((f) => f.startsWith(join(dir, 'logs')))) {
    assert.equal(statSync(file).mode & 0o777, 0o600, `${relative(dir, file)} is 0600`);
  }
}

describe('dibs devnet', () => {
  const root = mkdtempSync(join(tmpdir(), 'dibs-devnet-'));
  const dir = join(root, 'net');
  const env = { DIBS_HOME: join(root, 'home') };
  let pids: number[] = [];

  after(async () => {
    await runCli(['devnet', 'down', '--dir', dir], env, 120_000).catch(() => {});
    // Whatever survived a failed assertion is stopped by its own PID.
    for (const pid of pids) {
      try {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {}
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('starts 3 detached nodes and a demo service, status sees them peered, a client reaches the service, down stops every PID', async () => {
    const up = await runCli(['--json', 'devnet', 'up', '--nodes', '3', '--dir', dir], env, 420_000);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    const result = JSON.parse(up.stdout) as UpResult;
    const state = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as {
      anvilPid: number | null;
      nodes: Array<{ pid: number }>;
    };
    pids = [...result.nodes.map((n) => n.pid), ...(state.anvilPid ? [state.anvilPid] : [])];
    if (result.demo) pids.push(result.demo.pid);

    // The command returned, and every process it started still runs.
    assert.deepEqual(
      result.nodes.map((n) => [n.name, n.role]),
      [
        ['node-0', 'bootstrap'],
        ['node-1', 'service-host'],
        ['node-2', 'client'],
      ],
    );
    for (const pid of pids) assert.ok(alive(pid), `pid ${pid} runs after devnet up returned`);
    assert.ok(state.anvilPid, 'the embedded chain runs under node-0');
    for (const n of ['node-0', 'node-1', 'node-2']) {
      const pass = join(dir, n, 'passphrase');
      assert.equal(statSync(pass).mode & 0o777, 0o600, `${pass} is private`);
    }

    // status: all alive, each admitted by the others.
    const peered = await waitUntil(async () => {
      const st = await runCli(['--json', 'devnet', 'status', '--dir', dir], env);
      const s = JSON.parse(st.stdout) as UpResult;
      return s.nodes.length === 3 && s.nodes.every((n) => n.alive && (n.admittedPeers ?? 0) >= 2);
    }, 60_000);
    assert.ok(peered, 'every node admitted the two others');

    // Each UI URL works with the token it carries.
    for (const n of result.nodes) {
      assert.ok(n.uiUrl, `${n.name} has a UI URL`);
      const url = new URL(n.uiUrl);
      const token = decodeURIComponent(url.hash.replace(/^#token=/, ''));
      const res = await fetch(`${url.origin}/api/v1/identity`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { address: string }).address, n.address);
    }

    // The README's tour: `dibs --data-dir <node-2> connect <id>` holds a local port; curl goes through.
    assert.ok(result.demo?.serviceId, 'node-1 published the demo service');
    const client = result.nodes[2]!;
    const connect = await startCli(
      ['--data-dir', join(dir, client.name), 'connect', result.demo.serviceId],
      env,
      (stdout) => /listening:\s+127\.0\.0\.1:\d+/.test(stdout),
      60_000,
    );
    try {
      const local = /listening:\s+(127\.0\.0\.1:\d+)/.exec(connect.output().stdout)![1];
      const page = await fetch(`http://${local}/through-dibs`, { signal: AbortSignal.timeout(30_000) });
      assert.match(await page.text(), /hello from the DIBS devnet demo service \(GET \/through-dibs\)/);
    } finally {
      await stopChild(connect.child);
    }

    // down stops every PID, anvil and the demo service included, and is idempotent.
    const down = await runCli(['--json', 'devnet', 'down', '--dir', dir], env, 180_000);
    assert.equal(down.code, 0, down.stderr);
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} stopped`);
    assert.ok(!existsSync(join(dir, 'devnet.json')));
    assertNoSecretOutsideItsFile(dir, ['node-0', 'node-1', 'node-2']);
    const again = await runCli(['--json', 'devnet', 'down', '--dir', dir], env);
    assert.equal(again.code, 0);
    assert.deepEqual(JSON.parse(again.stdout).stopped, []);
    const status = JSON.parse((await runCli(['--json', 'devnet', 'status', '--dir', dir], env)).stdout);
    assert.equal(status.running, false);
  });

  it('refuses a corrupt or oversized devnet.json with a typed error, never a crash', async () => {
    const bad = join(root, 'bad');
    mkdirSync(bad, { recursive: true });
    const file = join(bad, 'devnet.json');
    const inputs = [
      '',
      '{',
      'null',
      '[]',
      '{"version":2,"nodes":[]}',
      '{"version":1}',
      JSON.stringify({ version: 1, nodes: 'x' }),
      ' '.repeat(1024 * 1024 + 1),
      ...Array.from({ length: 30 }, () => randomBytes(Math.floor(Math.random() * 400)).toString('latin1')),
    ];
    for (const text of inputs) {
      writeFileSync(file, text);
      assert.throws(
        () => readDevnetState(bad),
        (err: unknown) => err instanceof CliError && err.code === 'CORRUPT_DEVNET',
        JSON.stringify(text.slice(0, 40)),
      );
    }
    writeFileSync(file, '{"version":1,"nodes":[{"pid":"12"}]}');
    assert.equal(readDevnetState(bad)?.nodes.length, 1);
    assert.equal(isAlive(Number.NaN), false);
    assert.equal(isAlive(-1), false);
    writeFileSync(file, '{');
    const status = await runCli(['--json', 'devnet', 'status', '--dir', bad], env);
    assert.equal(status.code, 1);
    assert.equal(JSON.parse(status.stdout).error.code, 'CORRUPT_DEVNET');
    assert.match(JSON.parse(status.stdout).error.hint, /delete/);
  });

  it('picks the API port from --api-port, then DIBS_API_PORT, then api.port in the config', () => {
    const cfg = join(root, 'api-port-config.json');
    writeFileSync(cfg, JSON.stringify({ version: 1, api: { port: 7411 } }));
    assert.equal(parseApiPort('7400', { DIBS_API_PORT: '7401' }, cfg), 7400);
    assert.equal(parseApiPort(undefined, { DIBS_API_PORT: '7401' }, cfg), 7401);
    assert.equal(parseApiPort(undefined, {}, cfg), 7411);
    assert.equal(parseApiPort(undefined, {}, join(root, 'missing.json')), undefined);
    assert.equal(parseApiPort('0', {}), 0);
    for (const bad of ['-1', '65536', 'http', '80a', '1e3']) {
      assert.throws(
        () => parseApiPort(bad, {}),
        (err: unknown) => err instanceof CliError && err.code === 'BAD_API_PORT',
        bad,
      );
    }
    writeFileSync(cfg, JSON.stringify({ api: { port: '7411' } }));
    assert.throws(
      () => parseApiPort(undefined, {}, cfg),
      (err: unknown) => err instanceof CliError,
    );
  });
});
