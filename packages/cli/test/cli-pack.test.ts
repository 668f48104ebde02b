/**
 * Packaging: `node scripts/pack.ts` packs the built CLI as one tarball, `npm install -g` of it into a
 * temporary prefix gives a `dibs` command that needs no workspace (run here from outside the checkout,
 * with the checkout's node_modules off every path), and that command works: --version, --help, and
 * `dibs up --exit-after-start` with its embedded chain, contracts and management API.
 * (`npm run build` must have run: the tarball ships compiled output.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliRun, lastJson, runProgram } from './cli-helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs the installed `dibs` (its own shebang line) with the prefix's bin and node only on PATH. */
function dibs(prefix: string, args: string[], env: Record<string, string>, cwd: string): Promise<CliRun> {
  const path = [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':');
  return runProgram(
    join(prefix, 'bin', 'dibs'),
    args,
    { PATH: path, HOME: cwd, ...env },
    120_000,
    `dibs ${args.join(' ')}`,
    cwd,
  );
}

describe('npm pack → npm install -g', () => {
  let work: string;
  let prefix: string;

  before(() => {
    work = realpathSync(mkdtempSync(join(tmpdir(), 'dibs-pack-test-')));
    prefix = join(work, 'prefix');
    const tarball = execFileSync(
      process.execPath,
      [join(ROOT, 'scripts', 'pack.ts'), '--out', work, '--json'],
      { encoding: 'utf8', cwd: ROOT },
    );
    const { tarball: file } = JSON.parse(tarball.trim().split('\n').at(-1)!) as { tarball: string };
    assert.ok(existsSync(file), file);
    // From the cache this checkout's npm install filled; the registry only for what it lacks.
    execFileSync(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', file],
      {
        cwd: work,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
      },
    );
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('installs a dibs command that prints its version and help', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', 'cli', 'package.json'), 'utf8'));
    const version = await dibs(prefix, ['--version'], {}, work);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    const help = await dibs(prefix, ['--help'], {}, work);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['up', 'service', 'connect', 'audit'])
      assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
    const installed = join(prefix, 'lib', 'node_modules', 'dibs');
    assert.ok(!existsSync(join(installed, 'packages', 'node', 'src')), 'no TypeScript sources shipped');
    assert.ok(existsSync(join(installed, 'packages', 'ui', 'dist', 'index.html')), 'the web UI ships built');
  });

  it('runs a node from the installed command: embedded chain, contracts, API', async () => {
    const pass = join(work, 'passphrase');
    writeFileSync(pass, 'correct horse battery staple\n', { mode: 0o600 });
    const up = await dibs(
      prefix,
      ['--data-dir', join(work, 'node'), '--json', 'up', '--exit-after-start', '--no-p2p'],
      { DIBS_PASSPHRASE_FILE: pass },
      work,
    );
    assert.equal(up.code, 0, up.stderr);
    const info = lastJson<{
      status: string;
      chain: { embedded: boolean; deployment: string };
      api?: { url: string };
    }>(up.stdout);
    assert.equal(info.status, 'running');
    assert.equal(info.chain.embedded, true);
    assert.equal(info.chain.deployment, 'deployed', 'the contracts deployed from the packaged artifacts');
    assert.ok(info.api?.url, 'the management API was served');
  });
});
