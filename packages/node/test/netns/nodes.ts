/**
 * The two-NAT test bed (topology.sh) with a real chain: anvil runs in the relay's namespace on the
 * shared segment, so nodes behind either NAT reach it (outbound, through their NAT), and real DIBS node
 * processes (dibs-node.ts: the daemon) run in any namespace of the bed. Needs root.
 *
 *   client 192.168.101.2 ── nata 10.201.0.2 ─┐
 *                                           inet ── relay 10.201.0.1 (anvil :8545, relay node)
 *   service 192.168.102.2 ─ natb 10.201.0.3 ─┘
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DEFAULT_CHAIN_ID, DEFAULT_HARDFORK, resolveAnvilBinary } from '@dibs/chain';
import type { NetnsNodeConfig } from './dibs-node.ts';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const TOPOLOGY = join(HERE, 'topology.sh');
const NODE_ENTRY = join(HERE, 'dibs-node.ts');
const REPO_ROOT = join(HERE, '../../../../');

/** Addresses of the bed. */
export const BED = {
  relayIp: '10.201.0.1',
  natAWan: '10.201.0.2',
  natBWan: '10.201.0.3',
  clientLanIp: '192.168.101.2',
  serviceLanIp: '192.168.102.2',
  anvilPort: 8545,
} as const;

/** The namespaces of the bed; `prefix` keeps parallel beds apart. */
export type BedNamespace = 'inet' | 'relay' | 'nata' | 'natb' | 'client' | 'service';

/** Why the bed cannot run here, or undefined when it can. */
export function bedUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) {
    return 'needs root: the test bed creates network namespaces, veth pairs and iptables NAT rules (run as root, as CI does)';
  }
  return undefined;
}

/**
 * A suite on the bed: skipped where the bed cannot run (not Linux, not root), except in CI (CI=true),
 * where that fails the run instead of passing it by.
 */
export function describeOnBed(title: string, fn: () => void): void {
  const unavailable = bedUnavailable();
  if (unavailable && process.env.CI === 'true') {
    describe(title, () => {
      it('runs in CI', () => {
        assert.fail(`${title}: the test bed cannot run: ${unavailable}`);
      });
    });
    return;
  }
  describe(title, { skip: unavailable ?? false }, fn);
}

/** Runs a command inside a namespace of the bed and returns its stdout. */
export async function inNamespace(ns: string, ...argv: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, ...argv], { timeout: 10_000 })).stdout;
}

/** A process in a namespace, stopped by its own PID (SIGTERM, then SIGKILL after a bound). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** `p`, or a rejection naming `what` after `ms`. */
export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The namespaces, veths and NAT rules of one bed, plus anvil on the shared segment. */
export class NatBed {
  readonly prefix = `dibs-nat-${randomBytes(3).toString('hex')}`;
  readonly rpcUrl = `http://${BED.relayIp}:${BED.anvilPort}`;
  readonly chainId = DEFAULT_CHAIN_ID;
  #up = false;
  #anvil: ChildProcess | undefined;
  readonly #nodes: NetnsNode[] = [];

  /** The full name of namespace `ns`. */
  ns(ns: BedNamespace): string {
    return `${this.prefix}-${ns}`;
  }

  /** Creates the namespaces and starts anvil in the relay's namespace. */
  async start(): Promise<void> {
    await run(TOPOLOGY, ['up', this.prefix], { timeout: 30_000 });
    this.#up = true;
    this.#anvil = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns('relay'),
        resolveAnvilBinary(),
        '--host',
        BED.relayIp,
        '--port',
        String(BED.anvilPort),
        '--chain-id',
        String(this.chainId),
        '--hardfork',
        DEFAULT_HARDFORK,
        '--silent',
      ],
      { stdio: 'ignore' },
    );
    // Ready once it answers JSON-RPC inside its namespace.
    for (let i = 0; i < 100; i++) {
      if (this.#anvil.exitCode !== null) throw new Error(`anvil exited (${this.#anvil.exitCode})`);
      try {
        const out = await inNamespace(
          this.ns('relay'),
          'curl',
          '-s',
          '-H',
          'content-type: application/json',
          '-d',
          '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
          this.rpcUrl,
        );
        if (out.includes('"result"')) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`anvil in ${this.ns('relay')} did not answer on ${this.rpcUrl}`);
  }

  /**
   * Starts a real DIBS node process in namespace `ns` with data dir `dataDir` (created) and `config`
   * (rpcUrl and chainId default to the bed's chain). Resolves once the daemon is up, with its PID and
   * status; the bed stops it in {@link stop}.
   */
  async startNode(
    ns: BedNamespace,
    dataDir: string,
    config: Omit<NetnsNodeConfig, 'dataDir' | 'rpcUrl' | 'chainId'> &
      Partial<Pick<NetnsNodeConfig, 'rpcUrl' | 'chainId'>>,
    timeoutMs = 90_000,
  ): Promise<NetnsNode> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const configPath = join(dataDir, `netns-node-${randomBytes(4).toString('hex')}.json`);
    const full: NetnsNodeConfig = { rpcUrl: this.rpcUrl, chainId: this.chainId, ...config, dataDir };
    await writeFile(configPath, JSON.stringify(full), { mode: 0o600 });
    const node = new NetnsNode(this.ns(ns), configPath);
    this.#nodes.push(node);
    await node.ready(timeoutMs);
    return node;
  }

  /** Stops every node, anvil, and deletes the namespaces. */
  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((n) => n.stop()));
    if (this.#anvil) await stopChild(this.#anvil, 5_000);
    if (this.#up) await run(TOPOLOGY, ['down', this.prefix], { timeout: 30_000 });
    this.#up = false;
  }
}

/** One DIBS node process in a namespace, driven by JSON-line commands. */
export class NetnsNode {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly #ready = Promise.withResolvers<{ pid: number; status: Record<string, unknown> }>();
  #next = 1;
  pid = 0;
  /** The daemon's info when it came up (address, peerId, chain, contracts, network status). */
  info: Record<string, unknown> = {};

  constructor(ns: string, configPath: string) {
    // The Node 24 binary running the test; secrets reach the child through the config file only.
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, NODE_ENTRY], {
      cwd: REPO_ROOT,
      // DIBS_NETNS_LOG_LEVEL=info (or debug) keeps more of each node's log for a failing test's message.
      env: {
        ...process.env,
        DIBS_NETNS_CONFIG: configPath,
        DIBS_LOG_LEVEL: process.env.DIBS_NETNS_LOG_LEVEL ?? 'warn',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      if (this.stderr.length < 500) this.stderr.push(l);
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(l);
      } catch {
        return;
      }
      if (msg.ready) this.#ready.resolve(msg as { pid: number; status: Record<string, unknown> });
      else this.#waiting.get(msg.id as number)?.(msg);
    });
    this.child.on('exit', (code, signal) => {
      this.#ready.reject(
        new Error(`node in ${ns} exited (${code ?? signal}): ${this.stderr.slice(-30).join('\n')}`),
      );
      for (const w of this.#waiting.values()) w({ ok: false, error: `node exited (${code ?? signal})` });
    });
  }

  /** Resolves with the daemon's PID and info once it is up. */
  async ready(timeoutMs: number): Promise<{ pid: number; status: Record<string, unknown> }> {
    const r = await bounded(this.#ready.promise, timeoutMs, 'node start');
    this.pid = r.pid;
    this.info = r.status;
    return r;
  }

  /** Sends one command; resolves with its answer (`ok` true or false). */
  async send(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000) {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    try {
      return await bounded(answer, timeoutMs, op);
    } finally {
      this.#waiting.delete(id);
    }
  }

  /** Sends a command that must succeed; throws with the node's last log lines otherwise. */
  async must(op: string, args: Record<string, unknown> = {}) {
    const r = await this.send(op, args);
    if (r.ok !== true) throw new Error(`${op} failed: ${r.error}\n${this.stderr.slice(-20).join('\n')}`);
    return r;
  }

  /** The daemon's current info and network status. */
  async status(): Promise<Record<string, unknown> & { network: Record<string, unknown> }> {
    return (await this.must('status')).status as Record<string, unknown> & {
      network: Record<string, unknown>;
    };
  }

  /** Stops the process by its PID. */
  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
