import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The CLI the tests run: its sources by default (a single test file sees the code as edited), the
 * compiled build when `DIBS_TEST_CLI=dist` (`npm test` sets it after `npm run build`: the shipped
 * code, and about 30% less CPU per command than type-stripping the sources).
 */
const USE_DIST = process.env.DIBS_TEST_CLI === 'dist';
export const CLI = fileURLToPath(new URL(USE_DIST ? '../dist/main.js' : '../src/main.ts', import.meta.url));
/** `node` arguments that run the CLI: the entry, preceded by the dist condition when compiled. */
export const CLI_ARGS: readonly string[] = USE_DIST ? ['--conditions=dibs-dist', CLI] : [CLI];

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temp data directory with a passphrase file; removed by `cleanup`. */
export function tempHome(passphrase = 'correct horse battery staple') {
  const root = mkdtempSync(join(tmpdir(), 'dibs-cli-'));
  const home = join(root, 'home');
  const passFile = join(root, 'pass');
  writeFileSync(passFile, `${passphrase}\n`, { mode: 0o600 });
  return {
    root,
    home,
    passFile,
    env: { DIBS_HOME: home, DIBS_PASSPHRASE_FILE: passFile } as Record<string, string>,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Environment for a child CLI: the test's own, without DIBS_* leaking in from outside. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DIBS_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs `dibs <args>` to completion (bounded by `timeoutMs`). */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<CliRun> {
  return runNode([...CLI_ARGS, ...args], childEnv(env), timeoutMs, `dibs ${args.join(' ')}`);
}

/** Runs node with `args` to completion (bounded by `timeoutMs`), collecting its output. */
export function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  label = `node ${args.join(' ')}`,
  cwd?: string,
): Promise<CliRun> {
  return runProgram(process.execPath, args, env, timeoutMs, label, cwd);
}

/** Runs the executable `file` with `args` to completion (bounded by `timeoutMs`), collecting its output. */
export function runProgram(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  label = `${file} ${args.join(' ')}`,
  cwd?: string,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running `dibs <args>`; resolves once `ready(stdout, stderr)` says so. */
export function startCli(
  args: string[],
  env: Record<string, string>,
  ready: (stdout: string, stderr: string) => boolean,
  timeoutMs = 120_000,
): Promise<{ child: ChildProcess; output: () => { stdout: string; stderr: string } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, ...args], {
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let done = false;
    const check = () => {
      if (!done && ready(stdout, stderr)) {
        done = true;
        clearTimeout(timer);
        resolve({ child, output: () => ({ stdout, stderr }) });
      }
    };
    child.stdout!.on('data', (d) => {
      stdout += d;
      check();
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
      check();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dibs ${args.join(' ')} was not ready in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      if (!done) {
        clearTimeout(timer);
        reject(
          new Error(`dibs ${args.join(' ')} exited with ${code} before it was ready\n${stdout}\n${stderr}`),
        );
      }
    });
  });
}

/** Stops a child by PID: SIGINT (as Ctrl-C), then SIGKILL after a bounded wait. Resolves with its exit code. */
export function stopChild(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGINT');
  });
}

/** Parses the last JSON line a `--json` command printed. */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}
