/**
 * The three-site bed (sites.sh) with real `dibs` processes: the operator runs the chain and the
 * bootstrap node on the public segment (`dibs up --chain-host`), two relays and the nodes of three
 * NATed sites are set up from the operator's join bundle alone (`dibs join <bundle>`). Every node is
 * the CLI in its own namespace with its own data dir; commands run against a node's management API in
 * its namespace, as a user would run them on that machine. Needs root. Used by the netns test and by
 * bench/failover.ts.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bounded, stopChild } from '../../../node/test/netns/nodes.ts';
import { dataPaths } from '../../src/paths.ts';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const TOPOLOGY = join(HERE, 'sites.sh');
const PAYLOAD_SERVER = join(HERE, 'payload.ts');
import { CLI_ARGS } from '../cli-helpers.ts';
const START_TIMEOUT_MS = 180_000;
const COMMAND_TIMEOUT_MS = 120_000;

/** Namespaces of the bed and their public addresses. */
export const SITES = {
  op: '10.202.0.1',
  r1: '10.202.0.2',
  r2: '10.202.0.3',
} as const;
export type Site = 'op' | 'r1' | 'r2' | 's1' | 's2' | 's3';
/** The fixed libp2p port of the public nodes (a restarted relay comes back on the same address). */
export const P2P_PORT = 4001;

/** Why the bed cannot run here, or undefined when it can. */
export function sitesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0)
    return 'needs root: the bed creates network namespaces and iptables NAT rules';
  return undefined;
}

/** What `dibs up|join|node start --json` prints (the parts the bed reads). */
export interface NodeInfo {
  status: string;
  peerId: string;
  address: string;
  joinBundle?: string;
  chain: { rpcUrl: string; networkServiceId: string };
  network: {
    admitted: number;
    roles: number;
    multiaddrs: string[];
    relays: { target: number; held: Array<{ peerId: string }> };
  };
}

/** What `dibs node status --json` prints. */
export interface NodeStatus {
  running: boolean;
  network: {
    peerId: string;
    admitted: number;
    peers: Array<{ peerId: string; admitted: boolean; admittedBy: boolean; remoteAddrs: string[] }>;
    relays: { target: number; held: Array<{ peerId: string; addrs: string[] }> };
  };
}

/** One long-running `dibs` node process in a namespace. */
export class SiteNode {
  readonly site: Site;
  readonly home: string;
  child: ChildProcess | undefined;
  info: NodeInfo | undefined;
  readonly stderr: string[] = [];

  constructor(site: Site, home: string) {
    this.site = site;
    this.home = home;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(n = 25): string {
    return this.stderr.slice(-n).join('\n');
  }
}

/** The bed: namespaces, a temp dir with one data dir per node, and the processes started in it. */
export class SitesBed {
  readonly prefix = `dibs-st-${randomBytes(3).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'dibs-sites-'));
  readonly passFile = join(this.dir, 'passphrase');
  readonly nodes = new Map<Site, SiteNode>();
  readonly #others: ChildProcess[] = [];
  #up = false;
  bundle = '';

  ns(site: Site): string {
    return `${this.prefix}-${site}`;
  }

  async up(): Promise<void> {
    writeFileSync(this.passFile, 'sites bed passphrase\n', { mode: 0o600 });
    await run(TOPOLOGY, ['up', this.prefix], { timeout: 60_000 });
    this.#up = true;
  }

  env(site: Site): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DIBS_')) env[k] = v;
    delete env.NODE_TEST_CONTEXT;
    return { ...env, DIBS_HOME: join(this.dir, site), DIBS_PASSPHRASE_FILE: this.passFile };
  }

  /** Runs `dibs <args>` in `site`'s namespace to completion; throws with its stderr on failure. */
  async dibs(site: Site, args: string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<string> {
    try {
      const r = await run('ip', ['netns', 'exec', this.ns(site), process.execPath, ...CLI_ARGS, ...args], {
        env: this.env(site),
        timeout: timeoutMs,
        maxBuffer: 4 * 1024 * 1024,
      });
      return r.stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`${site}: dibs ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
    }
  }

  /** `dibs … --json` in `site`, parsed (the last line). */
  async dibsJson<T>(site: Site, args: string[]): Promise<T> {
    const out = (await this.dibs(site, [...args, '--json'])).trim().split('\n');
    return JSON.parse(out[out.length - 1]!) as T;
  }

  /**
   * What `dibs node status --json` shows, read straight from the node's runtime file (the file that
   * command reads; the node rewrites it every 2 s), without starting a CLI process per poll.
   */
  async status(site: Site): Promise<NodeStatus> {
    const info = JSON.parse(await readFile(dataPaths(join(this.dir, site)).runtime, 'utf8')) as {
      p2p: NodeStatus['network'];
    };
    return { running: true, network: info.p2p };
  }

  /** Starts a node (`dibs <args> --json`) in `site` and waits for its "running" line. */
  async start(site: Site, args: string[]): Promise<SiteNode> {
    mkdirSync(join(this.dir, site), { recursive: true, mode: 0o700 });
    const node = this.nodes.get(site) ?? new SiteNode(site, join(this.dir, site));
    this.nodes.set(site, node);
    node.info = undefined;
    const child = spawn(
      'ip',
      ['netns', 'exec', this.ns(site), process.execPath, ...CLI_ARGS, ...args, '--json'],
      {
        env: this.env(site),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    node.child = child;
    createInterface({ input: child.stderr! }).on('line', (l) => {
      node.stderr.push(l);
      if (node.stderr.length > 400) node.stderr.shift();
    });
    const ready = Promise.withResolvers<NodeInfo>();
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (!l.includes('"status":"running"')) return;
      try {
        ready.resolve(JSON.parse(l) as NodeInfo);
      } catch (err) {
        ready.reject(err as Error);
      }
    });
    child.once('exit', (code, signal) =>
      ready.reject(new Error(`${site}: dibs ${args[0]} exited (${code ?? signal})\n${node.tail()}`)),
    );
    node.info = await bounded(ready.promise, START_TIMEOUT_MS, `${site}: dibs ${args.join(' ')}`);
    return node;
  }

  /** The operator: chain on the public segment, bootstrap node, nothing else. */
  async startOperator(): Promise<SiteNode> {
    const node = await this.start('op', [
      'up',
      '--chain-host',
      SITES.op,
      '--roles',
      'bootstrap',
      '--listen',
      `/ip4/${SITES.op}/tcp/${P2P_PORT}`,
      '--api-port',
      '0',
    ]);
    if (!node.info?.joinBundle) throw new Error('the operator printed no join bundle');
    this.bundle = node.info.joinBundle;
    return node;
  }

  /** A relay on the public segment, set up from the join bundle alone. */
  startRelay(site: 'r1' | 'r2'): Promise<SiteNode> {
    return this.start(site, [
      'join',
      this.bundle,
      '--roles',
      'relay',
      '--listen',
      `/ip4/${SITES[site]}/tcp/${P2P_PORT}`,
      '--api-port',
      '0',
    ]);
  }

  /** A node of a NATed site, from the join bundle alone (plus how many relays it keeps). */
  startSite(site: 's1' | 's2' | 's3', extra: string[] = []): Promise<SiteNode> {
    return this.start(site, ['join', this.bundle, '--api-port', '0', ...extra]);
  }

  /** A plain restart of a node whose data dir was set up before (`dibs node start`). */
  restart(site: Site): Promise<SiteNode> {
    return this.start(site, ['node', 'start', '--api-port', '0']);
  }

  /** SIGKILL by PID: the machine's process dies without a word. */
  async kill(site: Site): Promise<void> {
    const node = this.nodes.get(site);
    if (!node?.child || !node.alive) return;
    const exited = new Promise((r) => node.child!.once('exit', r));
    node.child.kill('SIGKILL');
    await exited;
  }

  /** The HTTP payload server inside `site`; resolves with its port. */
  async payloadServer(site: Site): Promise<number> {
    const child = spawn('ip', ['netns', 'exec', this.ns(site), process.execPath, PAYLOAD_SERVER], {
      env: this.env(site),
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#others.push(child);
    const line = await bounded(
      new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (c) => reject(new Error(`payload server exited (${c})`)));
      }),
      30_000,
      'payload server',
    );
    return (JSON.parse(line) as { port: number }).port;
  }

  /** curl in `site`'s namespace; resolves with its exit code, stdout and stderr (never throws). */
  curl(
    site: Site,
    args: string[],
    timeoutMs = 180_000,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', this.ns(site), 'curl', '-sS', ...args],
        { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err
            ? typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 1
            : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }

  /** The relay the connection from `site` to the node `peerId` runs through, if relayed. */
  async relayInUse(site: Site, peerId: string): Promise<string | undefined> {
    const s = await this.status(site);
    const peer = s.network.peers.find((p) => p.peerId === peerId);
    const circuit = peer?.remoteAddrs.find((a) => a.includes('/p2p-circuit'));
    return circuit?.split('/p2p-circuit')[0]?.split('/p2p/').at(-1);
  }

  /**
   * The relay carrying the most bytes on one TCP connection right now, read from the kernel's socket
   * counters in each relay's namespace (`ss -ti`), with that count: where a bulk transfer runs.
   */
  async busiestRelay(): Promise<{ site: 'r1' | 'r2'; bytes: number } | undefined> {
    let best: { site: 'r1' | 'r2'; bytes: number } | undefined;
    for (const site of ['r1', 'r2'] as const) {
      if (!this.nodes.get(site)?.alive) continue;
      const { stdout } = await run(
        'ip',
        ['netns', 'exec', this.ns(site), 'ss', '-tin', 'state', 'established'],
        {
          timeout: 10_000,
          maxBuffer: 4 * 1024 * 1024,
        },
      );
      for (const m of stdout.matchAll(/bytes_received:(\d+)/g)) {
        const bytes = Number(m[1]);
        if (!best || bytes > best.bytes) best = { site, bytes };
      }
    }
    return best;
  }

  /** Stops every process by PID (SIGTERM, SIGKILL after a bound), removes the namespaces and files. */
  async down(): Promise<void> {
    for (const c of this.#others) await stopChild(c);
    for (const node of [...this.nodes.values()].reverse())
      if (node.child) await stopChild(node.child, 20_000);
    if (this.#up) await run(TOPOLOGY, ['down', this.prefix], { timeout: 60_000 }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` every 250 ms until it returns a value or `timeoutMs` passes. */
export async function until<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}
