/**
 * `dibs devnet up|status|down`: a whole DIBS network on this machine with one command. node-0 runs
 * the embedded chain and is bootstrap, relay and network operator; node-1 hosts a demo HTTP service;
 * the others are clients. Every node is its own detached process with its own data directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRuntimeInfo } from '@dibs/node';
import { Command } from 'commander';
import { CliError } from '../errors.ts';
import { writeFileAtomic } from '../fs.ts';
import { createOutput, type Output } from '../output.ts';
import type { GlobalOptions } from '../program.ts';

/** Nodes a devnet gets unless `--nodes` says otherwise. */
export const DEVNET_DEFAULT_NODES = 3;
/** Most nodes one machine's devnet may run (each is a process of ~100 MiB). */
export const DEVNET_MAX_NODES = 16;
/** How long one node may take to start (anvil, contracts, keystore, network join). */
export const DEVNET_NODE_START_TIMEOUT_MS = 180_000;
/** How long `down` waits for a node to exit after SIGTERM before it sends SIGKILL. */
export const DEVNET_STOP_TIMEOUT_MS = 15_000;
/** Name of the service node-1 publishes. */
export const DEVNET_DEMO_SERVICE = 'web';
/** Largest devnet.json read. */
const MAX_STATE_BYTES = 1024 * 1024;
/** Poll interval while waiting for a node to start or stop. */
const POLL_MS = 200;

const CLI_MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** One node of the devnet as devnet.json records it. */
export interface DevnetNode {
  name: string;
  role: 'bootstrap' | 'service-host' | 'client';
  dataDir: string;
  pid: number;
  address: string;
  peerId: string;
  apiUrl: string | null;
}

/** D/devnet.json: what `status` and `down` work from. */
export interface DevnetState {
  version: 1;
  createdAt: string;
  dir: string;
  rpcUrl: string;
  chainId: number;
  anvilPid: number | null;
  contracts: Record<string, string>;
  nodes: DevnetNode[];
  demo: { pid: number; target: string; serviceId: string | null } | null;
}

/** The devnet directory: `--dir`, else `$DIBS_HOME/devnet`, else `./.dibs-devnet`. */
export function devnetDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.DIBS_HOME) return resolve(env.DIBS_HOME, 'devnet');
  return resolve('.dibs-devnet');
}

function statePath(dir: string): string {
  return join(dir, 'devnet.json');
}

/** The recorded devnet in `dir`, or null when there is none. */
export function readDevnetState(dir: string): DevnetState | null {
  const path = statePath(dir);
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  if (text.length > MAX_STATE_BYTES) {
    throw new CliError('CORRUPT_DEVNET', `${path} is over ${MAX_STATE_BYTES} bytes`, `delete ${path}`);
  }
  try {
    const state = JSON.parse(text) as DevnetState;
    if (state.version !== 1 || !Array.isArray(state.nodes)) throw new Error('unknown layout');
    return state;
  } catch (err) {
    throw new CliError(
      'CORRUPT_DEVNET',
      `${path} is not a devnet state file: ${(err as Error).message}`,
      `stop leftover processes by hand if any, then delete ${path}`,
    );
  }
}

/** Whether a process with this PID runs (and may be signalled by us). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The API token of a node's data directory, or null before the node wrote it. */
function apiToken(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  } catch {
    return null;
  }
}

/** The UI address with the token in its fragment. */
function uiUrl(node: DevnetNode): string | null {
  const token = apiToken(node.dataDir);
  return node.apiUrl && token ? `${node.apiUrl}/#token=${encodeURIComponent(token)}` : null;
}

/** A passphrase for a node, generated once into `<dir>/passphrase` (0600) and never put in argv. */
function ensurePassphrase(dir: string): string {
  const file = join(dir, 'passphrase');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return file;
}

/** Environment of a node process: ours without DIBS_* settings that would point it elsewhere. */
function nodeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DIBS_')) env[k] = v;
  return { ...env, ...extra };
}

/** Starts a detached process writing to `<logDir>/<name>.{out,err}.log`. */
function spawnDetached(
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  name: string,
): { child: ChildProcess; out: string; err: string } {
  const out = join(logDir, `${name}.out.log`);
  const err = join(logDir, `${name}.err.log`);
  // Private like the data directories: a log may name addresses and paths, and must never be the
  // one world-readable copy of anything.
  const outFd = openSync(out, 'w', 0o600);
  const errFd = openSync(err, 'w', 0o600);
  fchmodSync(outFd, 0o600);
  fchmodSync(errFd, 0o600);
  try {
    const child = spawn(process.execPath, args, {
      env,
      detached: true,
      stdio: ['ignore', outFd, errFd],
    });
    child.unref();
    return { child, out, err };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
}

function tail(file: string, lines = 12): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Waits for the `--json` result line of a starting node; fails with its stderr when it exits first. */
async function waitForNodeInfo(
  started: { child: ChildProcess; out: string; err: string },
  name: string,
): Promise<Record<string, unknown>> {
  let exited: number | null | undefined;
  started.child.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + DEVNET_NODE_START_TIMEOUT_MS;
  for (let i = 0; Date.now() < deadline && i < DEVNET_NODE_START_TIMEOUT_MS / POLL_MS + 10; i++) {
    let text = '';
    try {
      text = readFileSync(started.out, 'utf8');
    } catch {}
    const line = text.split('\n').find((l) => l.startsWith('{'));
    if (line) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.error) {
        const e = parsed.error as { message?: string; hint?: string };
        throw new CliError(
          'DEVNET_NODE_FAILED',
          `${name} failed to start: ${e.message ?? 'unknown error'}`,
          e.hint ?? `see ${started.err}`,
        );
      }
      return parsed;
    }
    if (exited !== undefined) {
      throw new CliError(
        'DEVNET_NODE_FAILED',
        `${name} exited with code ${exited} while starting:\n${tail(started.err)}`,
        `see ${started.err}`,
      );
    }
    await sleep(POLL_MS);
  }
  throw new CliError(
    'DEVNET_NODE_TIMEOUT',
    `${name} did not finish starting in ${DEVNET_NODE_START_TIMEOUT_MS / 1000} s:\n${tail(started.err)}`,
    `see ${started.err}; the machine may be too busy for this many nodes`,
  );
}

/** Sends SIGTERM, waits, then SIGKILL; true when the process is gone. */
async function stopPid(pid: number, timeoutMs = DEVNET_STOP_TIMEOUT_MS): Promise<boolean> {
  if (!isAlive(pid)) return true;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < timeoutMs / POLL_MS + 10; i++) {
    if (!isAlive(pid)) return true;
    await sleep(POLL_MS);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
  for (let i = 0; i < 25; i++) {
    if (!isAlive(pid)) return true;
    await sleep(POLL_MS);
  }
  return !isAlive(pid);
}

/** Every PID of a devnet: clients first, node-0 (with the chain) last, then anvil and the demo. */
function pidsInStopOrder(state: DevnetState): Array<{ what: string; pid: number }> {
  const out = [...state.nodes].reverse().map((n) => ({ what: n.name, pid: n.pid }));
  if (state.anvilPid) out.push({ what: 'anvil', pid: state.anvilPid });
  if (state.demo) out.push({ what: 'demo service', pid: state.demo.pid });
  return out;
}

/** Stops every process of the devnet in `dir` and removes its state file; a no-op when none runs. */
export async function devnetDown(dir: string, out?: Output): Promise<{ stopped: string[] }> {
  const state = readDevnetState(dir);
  if (!state) return { stopped: [] };
  const stopped: string[] = [];
  const stuck: string[] = [];
  for (const { what, pid } of pidsInStopOrder(state)) {
    if (!isAlive(pid)) continue;
    out?.progress(`stopping ${what} (pid ${pid})…`);
    if (await stopPid(pid)) stopped.push(what);
    else stuck.push(`${what} (pid ${pid})`);
  }
  if (stuck.length > 0) {
    throw new CliError(
      'DEVNET_STOP_FAILED',
      `could not stop ${stuck.join(', ')}`,
      'stop them by hand (kill -9 PID), then run `dibs devnet down` again',
    );
  }
  rmSync(statePath(dir), { force: true });
  return { stopped };
}

/** Runs the demo HTTP service until SIGTERM, writing its port to `portFile` once it listens. */
export async function serveDemo(portFile: string): Promise<void> {
  const server = createServer((req, res) => {
    const body = `hello from the DIBS devnet demo service (${req.method} ${req.url?.slice(0, 200)})\n`;
    res.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  writeFileAtomic(portFile, `${port}\n`, 0o644);
  await new Promise<void>((r) => {
    process.once('SIGTERM', r);
    process.once('SIGINT', r);
  });
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

async function waitForPort(file: string, child: ChildProcess): Promise<number> {
  for (let i = 0; i < 150; i++) {
    try {
      const port = Number(readFileSync(file, 'utf8').trim());
      if (port > 0) return port;
    } catch {}
    if (child.exitCode !== null) break;
    await sleep(POLL_MS);
  }
  throw new CliError('DEVNET_DEMO_FAILED', 'the demo HTTP service did not start', `see ${file}`);
}

/** Publishes the demo service through node-1's API; returns its id, or null with a warning. */
async function publishDemo(node: DevnetNode, target: string, out: Output): Promise<string | null> {
  const token = apiToken(node.dataDir);
  if (!node.apiUrl || !token) {
    out.warn(`${node.name} serves no API, so the demo service was not published`);
    return null;
  }
  const auth = { authorization: `Bearer ${token}` };
  try {
    // A devnet started again over the same data publishes afresh: retire the demo of the last run,
    // whose target port is gone.
    const listed = await fetch(`${node.apiUrl}/api/v1/services`, {
      headers: auth,
      signal: AbortSignal.timeout(30_000),
    });
    if (listed.ok) {
      const { services } = (await listed.json()) as {
        services: Array<{ id: string; name: string; own: boolean; active: boolean }>;
      };
      for (const old of services.filter((x) => x.own && x.active && x.name === DEVNET_DEMO_SERVICE)) {
        await fetch(`${node.apiUrl}/api/v1/services/${encodeURIComponent(old.id)}`, {
          method: 'DELETE',
          headers: auth,
          signal: AbortSignal.timeout(60_000),
        });
      }
    }
    const res = await fetch(`${node.apiUrl}/api/v1/services`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: DEVNET_DEMO_SERVICE, type: 'http', target, policy: 'public' }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = (await res.json()) as { id?: string; error?: { message?: string } };
    if (!res.ok || !body.id) {
      out.warn(`publishing the demo service failed: ${body.error?.message ?? `HTTP ${res.status}`}`);
      return null;
    }
    return body.id;
  } catch (err) {
    out.warn(`publishing the demo service failed: ${(err as Error).message}`);
    return null;
  }
}

function roleOf(i: number): DevnetNode['role'] {
  return i === 0 ? 'bootstrap' : i === 1 ? 'service-host' : 'client';
}

function roleText(role: DevnetNode['role']): string {
  return role === 'bootstrap' ? 'bootstrap · relay · chain' : role;
}

/** Starts the devnet; see the module comment. */
export async function devnetUp(params: {
  dir: string;
  nodes: number;
  out: Output;
  apiBasePort?: number | undefined;
}): Promise<DevnetState> {
  const { dir, nodes, out } = params;
  const existing = readDevnetState(dir);
  if (existing) {
    const alive = pidsInStopOrder(existing).filter((p) => isAlive(p.pid));
    if (alive.length > 0) {
      throw new CliError(
        'DEVNET_RUNNING',
        `a devnet already runs in ${dir} (${alive.map((p) => `${p.what} pid ${p.pid}`).join(', ')})`,
        '`dibs devnet status` shows it; `dibs devnet down` stops it',
      );
    }
    rmSync(statePath(dir), { force: true });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const state: DevnetState = {
    version: 1,
    createdAt: new Date().toISOString(),
    dir,
    rpcUrl: '',
    chainId: 0,
    anvilPid: null,
    contracts: {},
    nodes: [],
    demo: null,
  };
  const save = () => writeFileAtomic(statePath(dir), `${JSON.stringify(state, null, 2)}\n`, 0o644);
  const started: ChildProcess[] = [];
  try {
    const launch = (i: number, args: string[], extraEnv: Record<string, string>) => {
      const name = `node-${i}`;
      const dataDir = join(dir, name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const passFile = ensurePassphrase(dataDir);
      const apiPort = params.apiBasePort !== undefined ? String(params.apiBasePort + i) : '0';
      const proc = spawnDetached(
        [CLI_MAIN, '--data-dir', dataDir, '--json', ...args],
        nodeEnv({ DIBS_PASSPHRASE_FILE: passFile, DIBS_API_PORT: apiPort, ...extraEnv }),
        logDir,
        name,
      );
      started.push(proc.child);
      return { name, dataDir, proc };
    };
    const record = (i: number, name: string, dataDir: string, pid: number, info: Record<string, unknown>) => {
      const api = info.api as { url?: string } | undefined;
      const node: DevnetNode = {
        name,
        role: roleOf(i),
        dataDir,
        pid,
        address: String(info.address),
        peerId: String(info.peerId),
        apiUrl: api?.url ?? null,
      };
      state.nodes[i] = node;
      save();
      return node;
    };

    out.progress(`starting node-0 (bootstrap, relay, embedded chain) in ${join(dir, 'node-0')}…`);
    const first = launch(0, ['up'], {});
    const info0 = await waitForNodeInfo(first.proc, first.name);
    const chain = info0.chain as {
      rpcUrl: string;
      chainId: number;
      anvilPid?: number;
      contracts: Record<string, string>;
      networkServiceId: string;
    };
    state.rpcUrl = chain.rpcUrl;
    state.chainId = chain.chainId;
    state.anvilPid = chain.anvilPid ?? null;
    state.contracts = { ...chain.contracts, networkServiceId: chain.networkServiceId };
    record(0, first.name, first.dataDir, first.proc.child.pid!, info0);
    out.progress(`node-0 is up; chain at ${chain.rpcUrl}`);

    if (nodes > 1) {
      out.progress(`starting ${nodes - 1} more node${nodes > 2 ? 's' : ''}…`);
      const rest = [];
      for (let i = 1; i < nodes; i++) {
        rest.push(
          launch(i, ['--rpc-url', chain.rpcUrl, '--chain-id', String(chain.chainId), 'node', 'start'], {
            DIBS_CONTRACTS: JSON.stringify(state.contracts),
          }),
        );
      }
      const infos = await Promise.all(rest.map((r) => waitForNodeInfo(r.proc, r.name)));
      rest.forEach((r, n) => {
        record(n + 1, r.name, r.dataDir, r.proc.child.pid!, infos[n]!);
        out.progress(`${r.name} is up`);
      });
    }

    if (nodes > 1) {
      const host = state.nodes[1]!;
      const portFile = join(dir, 'demo-http.port');
      rmSync(portFile, { force: true });
      const demo = spawnDetached(
        [CLI_MAIN, 'devnet', 'serve-demo', '--port-file', portFile],
        nodeEnv({}),
        logDir,
        'demo-http',
      );
      started.push(demo.child);
      const port = await waitForPort(portFile, demo.child);
      const target = `127.0.0.1:${port}`;
      state.demo = { pid: demo.child.pid!, target, serviceId: null };
      save();
      out.progress(`demo HTTP service on ${target}; ${host.name} publishes it as "${DEVNET_DEMO_SERVICE}"…`);
      state.demo.serviceId = await publishDemo(host, target, out);
      save();
    }
    return state;
  } catch (err) {
    out.progress('start failed: stopping what was started…');
    for (const child of started.reverse()) {
      if (child.pid !== undefined) await stopPid(child.pid, 5_000);
    }
    if (state.anvilPid) await stopPid(state.anvilPid, 5_000);
    rmSync(statePath(dir), { force: true });
    throw err;
  }
}

/** What `status` reports per node. */
export interface DevnetNodeStatus {
  name: string;
  role: DevnetNode['role'];
  pid: number;
  alive: boolean;
  address: string;
  peerId: string;
  admittedPeers: number | null;
  uiUrl: string | null;
}

/** The devnet in `dir`: each node alive or not, its admitted peers and UI URL. */
export function devnetStatus(dir: string): {
  dir: string;
  running: boolean;
  nodes: DevnetNodeStatus[];
  demo: DevnetState['demo'];
} {
  const state = readDevnetState(dir);
  if (!state) return { dir, running: false, nodes: [], demo: null };
  const nodes = state.nodes.map((n) => {
    const alive = isAlive(n.pid);
    const runtime = alive ? readRuntimeInfo(join(n.dataDir, 'run', 'node.json')) : null;
    return {
      name: n.name,
      role: n.role,
      pid: n.pid,
      alive,
      address: n.address,
      peerId: n.peerId,
      admittedPeers: runtime?.p2p ? runtime.p2p.admitted : null,
      uiUrl: alive ? uiUrl(n) : null,
    };
  });
  return { dir, running: nodes.some((n) => n.alive), nodes, demo: state.demo };
}

function nodesTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  '))
    .join('\n');
}

function globalsOf(cmd: Command): { out: Output; dataDir?: string | undefined } {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return { out: createOutput(g.json === true), dataDir: g.dataDir };
}

function parseNodes(text: string): number {
  const n = Number(text);
  if (!/^\d{1,2}$/.test(text) || n < 1 || n > DEVNET_MAX_NODES) {
    throw new CliError(
      'BAD_NODES',
      `--nodes ${text.slice(0, 10)} is not 1..${DEVNET_MAX_NODES}`,
      'e.g. --nodes 3',
    );
  }
  return n;
}

/** `dibs devnet …` */
export function devnetCommands(): Command {
  const devnet = new Command('devnet').description(
    'a local DIBS network in one command: an embedded chain and N nodes on loopback',
  );
  devnet
    .command('up')
    .description(
      'start the devnet: node-0 bootstrap + chain, node-1 hosts a demo "web" service, the rest are clients',
    )
    .option('-n, --nodes <n>', `number of nodes (1..${DEVNET_MAX_NODES})`, String(DEVNET_DEFAULT_NODES))
    .option('--dir <dir>', 'devnet directory (default: $DIBS_HOME/devnet, else ./.dibs-devnet)')
    .option('--api-base-port <port>', 'node-i serves its UI on this port + i (default: any free port)')
    .action(async (opts: { nodes: string; dir?: string; apiBasePort?: string }, cmd: Command) => {
      const { out } = globalsOf(cmd);
      const dir = devnetDir(opts.dir);
      const base = opts.apiBasePort === undefined ? undefined : Number(opts.apiBasePort);
      if (base !== undefined && (!Number.isInteger(base) || base < 1 || base > 65000)) {
        throw new CliError('BAD_API_PORT', `--api-base-port ${opts.apiBasePort} is not a port`, 'e.g. 7400');
      }
      const state = await devnetUp({ dir, nodes: parseNodes(opts.nodes), out, apiBasePort: base });
      const status = devnetStatus(dir);
      out.result(
        { ...status, rpcUrl: state.rpcUrl, chainId: state.chainId, contracts: state.contracts },
        () =>
          [
            `DIBS devnet is up in ${dir} (chain ${state.rpcUrl})`,
            '',
            nodesTable([
              ['NODE', 'ROLE', 'ADDRESS', 'PID', 'UI'],
              ...status.nodes.map((n) => [
                n.name,
                roleText(n.role),
                n.address,
                String(n.pid),
                n.uiUrl ?? '—',
              ]),
            ]),
            '',
            state.demo
              ? `demo service "${DEVNET_DEMO_SERVICE}" (${state.demo.serviceId ? `#${state.demo.serviceId}` : 'not published'}) → ${state.demo.target}`
              : '',
            state.nodes.length > 2 && state.demo?.serviceId
              ? `try:  dibs --data-dir ${state.nodes[2]!.dataDir} connect ${state.demo?.serviceId ?? '<service id>'}`
              : '',
            `stop it with: dibs devnet down${dir === devnetDir(undefined) ? '' : ` --dir ${dir}`}`,
          ]
            .filter((l, i, a) => l !== '' || a[i - 1] !== '')
            .join('\n'),
      );
    });
  devnet
    .command('status')
    .description('whether the devnet nodes run, their admitted peers and UI addresses')
    .option('--dir <dir>', 'devnet directory')
    .action((opts: { dir?: string }, cmd: Command) => {
      const { out } = globalsOf(cmd);
      const status = devnetStatus(devnetDir(opts.dir));
      out.result(status, () =>
        status.nodes.length === 0
          ? `no devnet in ${status.dir}; start one with \`dibs devnet up\``
          : nodesTable([
              ['NODE', 'ROLE', 'STATE', 'PEERS', 'PID', 'UI'],
              ...status.nodes.map((n) => [
                n.name,
                roleText(n.role),
                n.alive ? 'running' : 'stopped',
                n.admittedPeers === null ? '—' : String(n.admittedPeers),
                String(n.pid),
                n.uiUrl ?? '—',
              ]),
            ]),
      );
    });
  devnet
    .command('down')
    .description('stop every devnet process (by PID) and remove its state; safe to run twice')
    .option('--dir <dir>', 'devnet directory')
    .option('--purge', 'also delete the devnet directory (identities, chain state, logs)')
    .action(async (opts: { dir?: string; purge?: boolean }, cmd: Command) => {
      const { out } = globalsOf(cmd);
      const dir = devnetDir(opts.dir);
      const { stopped } = await devnetDown(dir, out);
      if (opts.purge) rmSync(dir, { recursive: true, force: true });
      out.result({ dir, stopped, purged: opts.purge === true }, () =>
        stopped.length === 0
          ? `no devnet process was running in ${dir}`
          : `stopped ${stopped.join(', ')}${opts.purge ? `; removed ${dir}` : ''}`,
      );
    });
  devnet
    .command('serve-demo', { hidden: true })
    .description('the demo HTTP service the devnet starts (runs until SIGTERM)')
    .requiredOption('--port-file <file>', 'where to write the port once listening')
    .action(async (opts: { portFile: string }) => {
      await serveDemo(opts.portFile);
    });
  return devnet;
}
