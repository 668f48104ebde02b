/**
 * The README's tour, run as a newcomer runs it in a checkout — `npm run dibs -- devnet up`, a CLI
 * command on a devnet node's data dir, `connect 2`, curl through it, `devnet down` — and then the
 * lint of `npm test` on that same tree, which must not trip over what the tour left behind.
 *
 * The tree is a copy of this checkout's files (what git tracks or would track) in a fresh git
 * repository, with this checkout's node_modules and build output linked in, so a devnet the
 * developer runs here is never touched.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { stopChild } from './cli-helpers.ts';

const exec = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..', '..', '..');

/** Environment of a newcomer's shell: no DIBS_* settings, npm's scripts find their own node. */
function shellEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DIBS_') && !k.startsWith('npm_')) env[k] = v;
  }
  return { ...env, HOME: home, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
}

/** Copies the checkout's files into `dest` as a fresh git repository (one commit). */
async function copyTree(dest: string): Promise<void> {
  const { stdout } = await exec('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(REPO, file))) continue; // deleted in the work tree
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    cpSync(join(REPO, file), join(dest, file));
  }
  // Installed and built parts are ignored by git: link them instead of copying.
  symlinkSync(join(REPO, 'node_modules'), join(dest, 'node_modules'));
  for (const pkg of readdirSync(join(REPO, 'packages'))) {
    for (const built of ['dist', 'node_modules']) {
      const from = join(REPO, 'packages', pkg, built);
      if (existsSync(from) && existsSync(join(dest, 'packages', pkg))) {
        symlinkSync(from, join(dest, 'packages', pkg, built));
      }
    }
  }
  const git = (...args: string[]) =>
    exec('git', ['-c', 'user.name=tour', '-c', 'user.email=tour@localhost', ...args], { cwd: dest });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'tree');
}

describe('the README tour, then the lint on the same tree', () => {
  const root = mkdtempSync(join(tmpdir(), 'dibs-tour-'));
  const tree = join(root, 'dibs');
  const home = join(root, 'home');
  mkdirSync(home);
  const env = shellEnv(home);
  const npmDibs = (args: string[], timeout = 120_000) =>
    exec('npm', ['run', '--silent', 'dibs', '--', ...args], { cwd: tree, env, timeout });

  after(async () => {
    await npmDibs(['devnet', 'down'], 180_000).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  test('devnet up, a command on node-2, connect 2, curl, devnet down; then biome check . passes', async () => {
    await copyTree(tree);

    const up = await npmDibs(['devnet', 'up'], 420_000);
    assert.match(up.stdout, /DIBS devnet is up in .*\.dibs-devnet/);
    assert.match(
      up.stdout,
      /try: {2}npm run dibs -- --data-dir .*node-2 connect 2/,
      'the hint runs in a clone',
    );

    // A CLI command on a devnet node's data dir finds that node's passphrase file by itself.
    const grant = await npmDibs(['--data-dir', '.dibs-devnet/node-2', '--json', 'access', 'request', '2']);
    assert.equal(
      (JSON.parse(grant.stdout.trim().split('\n').at(-1)!) as { serviceId: string }).serviceId,
      '2',
    );

    // connect holds a local port until Ctrl-C; run like `npm run dibs`, stopped by its own PID.
    const connect = spawn(
      process.execPath,
      [
        '--conditions=dibs-dist',
        'packages/cli/dist/main.js',
        '--data-dir',
        '.dibs-devnet/node-2',
        'connect',
        '2',
      ],
      { cwd: tree, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    connect.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    connect.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    try {
      const deadline = Date.now() + 120_000;
      while (
        !/listening:\s+127\.0\.0\.1:\d+/.test(out) &&
        connect.exitCode === null &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const local = /listening:\s+(127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(local, `connect printed its port:\n${out}\n${err}`);
      const curl = await exec('curl', ['-sS', '--max-time', '30', `http://${local}/`], { timeout: 40_000 });
      assert.equal(curl.stdout.trim(), 'hello from the DIBS devnet demo service (GET /)');
    } finally {
      assert.equal(await stopChild(connect), 0, err);
    }

    const down = await npmDibs(['devnet', 'down'], 180_000);
    assert.match(down.stdout, /stopped node-2, node-1, node-0/);

    // What the tour wrote is ignored by git, and so by the lint of `npm test`.
    assert.ok(existsSync(join(tree, '.dibs-devnet', 'node-0', 'config.json')));
    const status = await exec('git', ['status', '--porcelain'], { cwd: tree });
    assert.equal(status.stdout, '', 'the tour leaves git status clean');
    const lint = await exec('npm', ['run', 'lint'], { cwd: tree, env, timeout: 300_000 }).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.ok(!('code' in lint) || lint.code === 0, `npm run lint failed:\n${lint.stdout}\n${lint.stderr}`);
  });
});
