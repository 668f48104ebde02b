/**
 * The L3 VPN test bed (vpn-topology.sh) as a library for test/vpn-netns.test.ts and bench/vpn.ts: the
 * namespaces, node processes (vpn-node.ts) driven by JSON-line commands, and helpers to run commands
 * inside the namespaces. Needs root.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const NODE_ENTRY = fileURLToPath(new URL('./vpn-node.ts', import.meta.url));
/** The bed's topology script. */
export const VPN_TOPOLOGY = fileURLToPath(new URL('./vpn-topology.sh', import.meta.url));
/** Anvil and the relay node listen here (the shared segment). */
export const RELAY_IP = '10.202.0.1';
/** Site A's host node on the shared segment. */
export const HOSTA_IP = '10.202.0.2';
export const CHAIN_ID = 31337;
const READY_TIMEOUT_MS = 240_000;
const COMMAND_TIMEOUT_MS = 90_000;

export interface VpnNodeConfig {
  /** Names the process in logs; `relay` also runs anvil on the relay address. */
  role: string;
  dataDir: string;
  listen: string[];
  /** Same wallet across a restart. */
  key: string;
  rpcUrl?: string;
  contracts?: Record<string, string>;
  /** A vpn service to publish: name, subnets, allow rules. */
  publish?: { name: string; subnets: string[]; allow: string[] };
  /** Wait for a relay reservation (NATed nodes). */
  reserve?: boolean;
}

export class NodeProcess {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly #ready = Promise.withResolvers<Record<string, unknown>>();
  readonly #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  #next = 1;

  constructor(namespace: string, configPath: string) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DIBS_VPN_NETNS_CONFIG: configPath,
      DIBS_LOG_LEVEL: 'info',
    };
    delete env.NODE_TEST_CONTEXT;
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, NODE_ENTRY], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 300) this.stderr.shift();
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(l);
      } catch {
        return;
      }
      if (typeof msg.id === 'number') this.#waiting.get(msg.id)?.(msg);
      else if (msg.ready === true) this.#ready.resolve(msg);
      else this.#ready.reject(new Error(`${namespace}: ${msg.error}\n${this.tail()}`));
    });
    this.child.on('exit', (code, signal) => {
      this.#ready.reject(new Error(`${namespace} exited (${code ?? signal})\n${this.tail()}`));
      for (const w of this.#waiting.values()) w({ ok: false, error: `node exited (${code ?? signal})` });
    });
  }

  tail(): string {
    return this.stderr.slice(-40).join('\n');
  }

  ready(): Promise<Record<string, unknown>> {
    return bounded(this.#ready.promise, READY_TIMEOUT_MS, 'node start');
  }

  async command(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    try {
      const r = await bounded(answer, COMMAND_TIMEOUT_MS, String(cmd.op));
      if (!r.ok) throw new Error(`${String(cmd.op)} failed: ${r.error}\n${this.tail()}`);
      return r;
    } finally {
      this.#waiting.delete(id);
    }
  }

  /** SIGTERM (or `signal`) by PID, SIGKILL after a bounded wait. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `argv` in namespace `ns`; resolves to its stdout, rejects on failure. */
export async function inNamespace(ns: string, argv: string[], timeout = 60_000): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, ...argv], { timeout, maxBuffer: 4 << 20 })).stdout;
}

/** Starts a node process in `namespace` with `config` (written 0600 into `dir`); resolves once ready. */
export async function startVpnNode(
  dir: string,
  namespace: string,
  config: VpnNodeConfig,
): Promise<{ node: NodeProcess; ready: Record<string, unknown> }> {
  const configPath = join(dir, `${config.role}-${randomBytes(3).toString('hex')}.json`);
  await writeFile(configPath, JSON.stringify(config), { mode: 0o600 });
  const node = new NodeProcess(namespace, configPath);
  try {
    return { node, ready: await node.ready() };
  } catch (err) {
    await node.stop();
    throw err;
  }
}

/** Creates (`up`) or deletes (`down`) the bed's namespaces. */
export async function vpnTopology(cmd: 'up' | 'down', prefix: string): Promise<void> {
  await run(VPN_TOPOLOGY, [cmd, prefix], { timeout: 60_000 });
}
