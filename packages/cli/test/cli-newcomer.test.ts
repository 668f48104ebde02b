/**
 * What a newcomer meets first: `--version`, the global options in every command's help, hints that
 * name a command this checkout can run, a first start that asks for the passphrase only twice, and a
 * data dir's own passphrase file used without being asked for.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/program.ts';
import { CLI_ARGS, runCli } from './cli-helpers.ts';

const PASSPHRASE = 'correct horse battery staple';

/** PATH with this node's directory and the system's, and no node_modules/.bin. */
function plainPath(): string {
  return [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
}

function everyCommand(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(everyCommand)];
}

describe('the newcomer', () => {
  const root = mkdtempSync(join(tmpdir(), 'dibs-newcomer-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('--version and -V print the version of the CLI', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { DIBS_HOME: join(root, 'none') });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), version);
    }
  });

  test("every subcommand's --help lists the global options", async () => {
    const program = buildProgram();
    const subcommands = everyCommand(program).filter((c) => c !== program);
    assert.ok(subcommands.length > 15, `${subcommands.length} commands`);
    for (const cmd of subcommands) {
      const help = cmd.helpInformation();
      assert.match(help, /Global Options:/, `${cmd.name()} --help`);
      for (const option of ['--data-dir', '--json', '--rpc-url', '--passphrase-file']) {
        assert.ok(help.includes(option), `${cmd.name()} --help lists ${option}`);
      }
    }
    const r = await runCli(['access', 'request', '--help'], { DIBS_HOME: join(root, 'none') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Global Options:[\s\S]*--data-dir/);
  });

  test('hints name `npm run dibs -- …` in a checkout, and `dibs …` when dibs is on PATH', async () => {
    const home = join(root, 'no-node');
    const clone = await runCli(['status'], { DIBS_HOME: home, PATH: plainPath() });
    assert.notEqual(clone.code, 0);
    assert.match(clone.stderr, /hint: start one with `npm run dibs -- up` or `npm run dibs -- node start`/);
    // npm's own node_modules/.bin (on PATH while npm runs a script) does not count.
    const underNpm = await runCli(['status'], {
      DIBS_HOME: home,
      PATH: `${join(process.cwd(), 'node_modules', '.bin')}:${plainPath()}`,
    });
    assert.match(underNpm.stderr, /`npm run dibs -- up`/);

    const bin = join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'dibs'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, 'dibs'), 0o755);
    const installed = await runCli(['status', '--json'], { DIBS_HOME: home, PATH: `${bin}:${plainPath()}` });
    const hint = (JSON.parse(installed.stdout.trim()) as { error: { hint: string } }).error.hint;
    assert.equal(hint, 'start one with `dibs up` or `dibs node start`');
  });

  test('the first `dibs up` asks for the passphrase twice (new, repeat), unlocks with it, never a third time', async () => {
    const home = join(root, 'first-start');
    const env: NodeJS.ProcessEnv = { PATH: plainPath(), HOME: root, DIBS_HOME: home, TERM: 'dumb' };
    // `script` gives the CLI a terminal, where it prompts (util-linux, as on every Debian).
    const command = `'${process.execPath}' ${CLI_ARGS.map((a) => `'${a}'`).join(' ')} up --exit-after-start --no-p2p --no-api`;
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let prompts = 0;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const seen = (out.match(/Passphrase for |Repeat passphrase: /g) ?? []).length;
      while (prompts < seen) {
        prompts += 1;
        if (prompts > 2) {
          child.kill('SIGKILL');
          return;
        }
        child.stdin.write(`${PASSPHRASE}\r`);
      }
    });
    child.stderr.resume();
    const code = await exited;
    clearTimeout(timer);
    child.stdin.destroy();
    assert.equal(prompts, 2, `prompts seen:\n${out}`);
    assert.equal(code, 0, out);
    assert.match(out, /DIBS node is up/);
    assert.doesNotMatch(
      out,
      new RegExp(PASSPHRASE),
      `the passphrase is never echoed:\n${JSON.stringify(out)}`,
    );

    // The data dir's own passphrase file (as a devnet writes it) comes before the environment.
    writeFileSync(join(home, 'passphrase'), `${PASSPHRASE}\n`, { mode: 0o600 });
    const wrong = join(root, 'wrong-pass');
    writeFileSync(wrong, 'not this one\n', { mode: 0o600 });
    const again = await runCli(['up', '--exit-after-start', '--no-p2p', '--no-api', '--json'], {
      DIBS_HOME: home,
      DIBS_PASSPHRASE_FILE: wrong,
    });
    assert.equal(again.code, 0, again.stderr + again.stdout);
  });
});
