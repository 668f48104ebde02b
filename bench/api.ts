/**
 * API bench: the management API of a running node (`dibs up`, compiled, embedded chain, p2p on), built
 * twice in one run — the baseline from `main`'s tree (checked out into a temporary git worktree that
 * shares this checkout's dependencies), and this tree — each started in turn: its idle RSS once it sits
 * still, then the latency of a status request (GET /api/v1/identity, bearer token) at a fixed 200
 * requests/s with autocannon. Goals: p99 ≤ 5 ms, idle RSS growth ≤ 5 MiB. Last line: one JSON object.
 *
 *   DIBS_BENCH_API_BASE (main)  DIBS_BENCH_API_SECONDS (15)  DIBS_BENCH_API_RATE (200)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { DIBS_NODE_OPTIONS } from '../packages/cli/src/node-options.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASE_REF = process.env.DIBS_BENCH_API_BASE ?? 'main';
const SECONDS = Number(process.env.DIBS_BENCH_API_SECONDS ?? 15);
const RATE = Number(process.env.DIBS_BENCH_API_RATE ?? 200);
/** The first node of a network publishes its DHT record in the background (~30 s with no peers). */
const IDLE_MS = 40_000;
const P99_GOAL_MS = 5;
const RSS_GROWTH_GOAL_MIB = 5;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A worktree of `ref` next to this one, with this checkout's node_modules except the workspace links. */
function prepareBaseline(ref: string): { dir: string; commit: string; remove(): void } {
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', ref], { encoding: 'utf8' }).trim();
  const dir = join(tmpdir(), `dibs-bench-api-${commit.slice(0, 12)}`);
  if (existsSync(dir)) {
    execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
  execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', dir, commit], { stdio: 'ignore' });
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@dibs'), { recursive: true });
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === '@dibs') continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
  }
  for (const pkg of readdirSync(join(dir, 'packages'))) {
    symlinkSync(join(dir, 'packages', pkg), join(modules, '@dibs', pkg));
    // A package's own node_modules holds the versions that differ from the hoisted ones.
    const own = join(ROOT, 'packages', pkg, 'node_modules');
    if (existsSync(own) && !existsSync(join(dir, 'packages', pkg, 'node_modules')))
      symlinkSync(own, join(dir, 'packages', pkg, 'node_modules'));
  }
  log(`baseline ${ref} (${commit.slice(0, 12)}): building in ${dir}…`);
  const env = { ...process.env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}` };
  execFileSync('npm', ['run', 'build'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  return {
    dir,
    commit,
    remove() {
      execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    },
  };
}

function rssMiB(pid: number): number {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Rss:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN) / 1024;
}

interface Figures {
  idleRssMiB: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  errors: number;
}

/** Starts `dibs up` from `tree`, measures idle RSS, then the status request at RATE/s; stops it. */
async function measure(tree: string, name: string): Promise<Figures> {
  const home = await mkdtemp(join(tmpdir(), `dibs-bench-api-${name.replace(/[^a-z0-9]+/gi, '-')}-`));
  const passFile = join(home, 'passphrase');
  writeFileSync(passFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const cli = join(tree, 'packages', 'cli', 'dist', 'main.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [...DIBS_NODE_OPTIONS, cli, '--data-dir', join(home, 'node'), '--json', 'up'],
    {
      cwd: tree,
      env: { ...process.env, DIBS_PASSPHRASE_FILE: passFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let errText = '';
  child.stderr!.on('data', (d: Buffer) => {
    errText = (errText + d.toString()).slice(-2000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    for (let i = 0; i < 240 && !out.includes('"running"'); i++) {
      if (child.exitCode !== null)
        throw new Error(`${name}: dibs up exited (${child.exitCode}): ${out}${errText}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const info = JSON.parse(out.slice(out.indexOf('{'))) as { api?: { url: string } };
    if (!info.api?.url) throw new Error(`${name}: dibs up reported no API`);
    const token = readFileSync(join(home, 'node', 'api-token'), 'utf8').trim();
    log(`${name}: running at ${info.api.url}; idle for ${IDLE_MS / 1000} s…`);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idleRssMiB = rssMiB(child.pid!);
    log(`${name}: idle RSS ${idleRssMiB.toFixed(1)} MiB; ${RATE} req/s for ${SECONDS} s…`);
    const result = await autocannon({
      url: `${info.api.url}/api/v1/identity`,
      headers: { authorization: `Bearer ${token}` },
      connections: 8,
      overallRate: RATE,
      duration: SECONDS,
    });
    return {
      idleRssMiB,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
      requests: result.requests.total,
      errors: result.errors + result.non2xx,
    };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    await rm(home, { recursive: true, force: true });
  }
}

const baseline = prepareBaseline(BASE_REF);
let base: Figures;
let ours: Figures;
try {
  base = await measure(baseline.dir, `baseline (${BASE_REF})`);
  ours = await measure(ROOT, 'ours');
} finally {
  baseline.remove();
}
const row = (n: string, f: Figures) =>
  `${n.padEnd(22)} idle RSS ${f.idleRssMiB.toFixed(1).padStart(6)} MiB   p50 ${String(f.p50Ms).padStart(3)} ms   p99 ${String(f.p99Ms).padStart(3)} ms   max ${String(f.maxMs).padStart(4)} ms   ${f.requests} requests, ${f.errors} errors`;
log('');
log(row(`baseline ${BASE_REF}`, base));
log(row('ours (Fastify)', ours));
const growth = ours.idleRssMiB - base.idleRssMiB;
log(
  `ratio ours/baseline: p99 ${(ours.p99Ms / Math.max(base.p99Ms, 1)).toFixed(2)}×, idle RSS ${(ours.idleRssMiB / base.idleRssMiB).toFixed(3)}× (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB)`,
);
console.log(
  JSON.stringify({
    bench: 'api',
    figures: {
      baselineCommit: baseline.commit,
      ratePerSecond: RATE,
      seconds: SECONDS,
      baseline: base,
      ours,
      idleRssGrowthMiB: Number(growth.toFixed(2)),
    },
    goals: {
      statusP99Ms: {
        value: ours.p99Ms,
        goal: P99_GOAL_MS,
        met: ours.p99Ms <= P99_GOAL_MS && ours.errors === 0,
      },
      idleRssGrowthMiB: {
        value: Number(growth.toFixed(2)),
        goal: RSS_GROWTH_GOAL_MIB,
        met: growth <= RSS_GROWTH_GOAL_MIB,
      },
    },
  }),
);
