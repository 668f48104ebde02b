/**
 * DHT bench: N admitted DIBS nodes on loopback, spread over worker processes so one event loop does
 * not serve the whole network; lookup latency (median/p95), true hop counts and peers queried next to
 * log2(N); idle RSS of a real node as `dibs up` starts it, and of a p2p host alone in its own process
 * after it joined a small network. Last line: one JSON object.
 *
 *   DIBS_BENCH_NODES (50)  DIBS_BENCH_LOOKUPS (200)  DIBS_BENCH_WORKERS (4)  DIBS_BENCH_QUORUM (records.ts)
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressFromPeerId } from '@dibs/core';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import type { DibsHost } from '../packages/node/src/p2p/host.ts';
import { createDibsHost } from '../packages/node/src/p2p/host.ts';
import { silentLogger } from '../packages/node/src/p2p/log.ts';
import { findNodeRecord, publishNodeRecord } from '../packages/node/src/p2p/records.ts';
import { walletKey } from '../packages/node/test/helpers.ts';
import { DIBS_NODE_OPTIONS } from '../packages/cli/src/node-options.ts';
import { issueTicket, ticketAuthority } from '../test/netns/ticket.ts';

const N = Number(process.env.DIBS_BENCH_NODES ?? 50);
const LOOKUPS = Number(process.env.DIBS_BENCH_LOOKUPS ?? 200);
const WORKERS = Math.max(1, Math.min(N, Number(process.env.DIBS_BENCH_WORKERS ?? 4)));
const IDLE_MS = 5_000;
/**
 * How long a `dibs up` node sits before its RSS is read. The first node of a network publishes its
 * record in the background after it reports running, and that DHT put with no peers takes ~30 s to
 * give up: until then the node is still starting, not idle.
 */
const DIBS_UP_IDLE_MS = 40_000;
const IDLE_PEERS = 4;
/**
 * V8 flags for the idle-node measurement, as a DIBS daemon would run with: a 2 MiB semi-space (V8's
 * default grows to 16 MiB) keeps ~25 MiB less resident; the daemon's messages are small, so the extra
 * scavenges cost little. The figure without them is reported too.
 */
const NODE_FLAGS = ['--max-semi-space-size=2'];
const STEP_TIMEOUT_MS = 20_000;
/** The compiled `dibs` CLI and node's flags for it, exactly as `npm start` runs it (`npm run build` first). */
const CLI = new URL('../packages/cli/dist/main.js', import.meta.url).pathname;
const CLI_NODE_ARGS = [...DIBS_NODE_OPTIONS];
const JOIN_ATTEMPTS = 4;
/** Optional override of the record lookup's quorum (a large one drains the whole query, as before). */
const RECORD_QUORUM = envNumber('DIBS_BENCH_QUORUM');
/** Optional overrides of the host's Kad-DHT defaults, to compare settings. */
const DHT_TUNING = {
  alpha: envNumber('DIBS_BENCH_ALPHA'),
  disjointPaths: envNumber('DIBS_BENCH_DISJOINT_PATHS'),
  kBucketSize: envNumber('DIBS_BENCH_K'),
};

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  return v === undefined ? undefined : Number(v);
}

/** What a node process needs to run one node; sent over IPC, never argv. */
interface NodeSpec {
  key: string;
  ticket: string;
  operator: string;
}

type Request =
  | { op: 'start'; specs: NodeSpec[] }
  | { op: 'join'; bootstrap: string[] }
  | { op: 'selfQuery' }
  | { op: 'publish' }
  | { op: 'lookup'; from: number; target: string }
  | { op: 'findRecord'; from: number; address: string }
  | { op: 'rss' }
  | { op: 'stop' };

interface LookupResult {
  ms: number;
  foundMs: number | null;
  found: boolean;
  queried: number;
  /** Queried peers we had no connection to when the query was sent (dial + admission first). */
  dialed: number;
  hops: number | null;
}

// ---- node side (worker processes and the idle child) ----

async function startNode(spec: NodeSpec): Promise<DibsHost> {
  const key = Buffer.from(spec.key, 'hex');
  return createDibsHost({
    privateKey: key,
    authority: ticketAuthority(Buffer.from(spec.operator, 'hex'), key, Buffer.from(spec.ticket, 'hex')),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    pubsub: false,
    admissionTimeoutMs: STEP_TIMEOUT_MS,
    dht: DHT_TUNING,
    logger: silentLogger,
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function selfQuery(h: DibsHost): Promise<void> {
  try {
    for await (const _ of h.dht.getClosestPeers(h.peerId.toMultihash().bytes, {
      signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    })) {
    }
  } catch {}
}

/**
 * One full iterative lookup of `target`'s key. Hops: starting peers come from our own table (depth 1);
 * a peer first named in a response from a depth-d peer has depth d+1; the lookup's hop count is the
 * depth of the first peer that named the target (0 when our own table already held it).
 */
async function lookup(from: DibsHost, target: PeerId): Promise<LookupResult> {
  const depth = new Map<string, number>();
  const targetKey = target.toString();
  let queried = 0;
  let dialed = 0;
  let hops: number | null = null;
  let foundMs: number | null = null;
  let found = false;
  const start = performance.now();
  try {
    for await (const ev of from.dht.getClosestPeers(target.toMultihash().bytes, {
      signal: AbortSignal.timeout(10_000),
    })) {
      if (ev.name === 'SEND_QUERY') {
        queried++;
        if (from.libp2p.getConnections(ev.to).length === 0) dialed++;
        const to = ev.to.toString();
        if (!depth.has(to)) depth.set(to, 1);
        if (to === targetKey && hops === null) {
          hops = 0;
          foundMs = performance.now() - start;
        }
      } else if (ev.name === 'PEER_RESPONSE') {
        const d = depth.get(ev.from.toString()) ?? 1;
        for (const p of ev.closer) {
          const id = p.id.toString();
          if (!depth.has(id)) depth.set(id, d + 1);
          if (id === targetKey && hops === null) {
            hops = d;
            foundMs = performance.now() - start;
          }
        }
      } else if (ev.name === 'FINAL_PEER' && ev.peer.id.equals(target)) {
        found = true;
      }
    }
  } catch {}
  return { ms: performance.now() - start, foundMs, found, queried, dialed, hops };
}

async function workerMain(): Promise<void> {
  const hosts: DibsHost[] = [];
  const reply = (msg: unknown) => process.send?.(msg);
  process.on('message', async (req: Request & { id: number }) => {
    try {
      switch (req.op) {
        case 'start':
          for (const spec of req.specs) hosts.push(await startNode(spec));
          reply({
            id: req.id,
            nodes: hosts.map((h) => ({ peerId: h.peerId.toString(), addr: h.multiaddrs()[0]!.toString() })),
          });
          break;
        case 'join':
          await pool(hosts, 4, async (h) => {
            const { multiaddr } = await import('@multiformats/multiaddr');
            for (const addr of req.bootstrap) {
              if (addr.includes(h.peerId.toString())) continue;
              // Many nodes handshake with one bootstrap at once: on a loaded machine a dial may time out; retry it.
              for (let attempt = 1; ; attempt++) {
                try {
                  await h.connect(multiaddr(addr), STEP_TIMEOUT_MS);
                  break;
                } catch (err) {
                  if (attempt >= JOIN_ATTEMPTS) throw err;
                }
              }
            }
          });
          reply({ id: req.id });
          break;
        case 'selfQuery':
          await pool(hosts, 4, selfQuery);
          reply({ id: req.id });
          break;
        case 'lookup':
          reply({ id: req.id, result: await lookup(hosts[req.from]!, peerIdFromString(req.target)) });
          break;
        case 'publish':
          await pool(hosts, 4, async (h) => {
            await publishNodeRecord(h, { roles: 0 });
          });
          reply({ id: req.id, addresses: hosts.map((h) => addressFromPeerId(h.peerId).toLowerCase()) });
          break;
        case 'findRecord': {
          const start = performance.now();
          const ok = await findNodeRecord(hosts[req.from]!, req.address, {
            timeoutMs: 10_000,
            ...(RECORD_QUORUM !== undefined ? { quorum: RECORD_QUORUM } : {}),
          }).then(
            (r) => r.address === req.address,
            () => false,
          );
          reply({ id: req.id, result: { ms: performance.now() - start, found: ok } });
          break;
        }
        case 'rss':
          globalThis.gc?.();
          reply({ id: req.id, rss: process.memoryUsage().rss });
          break;
        case 'stop':
          await Promise.all(hosts.map((h) => h.stop().catch(() => {})));
          reply({ id: req.id });
          process.exit(0);
      }
    } catch (err) {
      if (process.env.DIBS_BENCH_DEBUG) console.error((err as Error).stack);
      reply({ id: req.id, error: (err as Error).message });
    }
  });
  reply({ ready: true });
}

// ---- coordinator side ----

/** A node process driven over IPC. */
class Worker {
  readonly child: ChildProcess;
  readonly #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly ready: Promise<void>;
  #next = 1;

  constructor(flags: string[]) {
    this.child = fork(new URL(import.meta.url).pathname, ['--worker'], {
      execArgv: ['--expose-gc', ...flags],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const ready = Promise.withResolvers<void>();
    this.ready = ready.promise;
    this.child.on('message', (msg: Record<string, unknown>) => {
      if (msg.ready) ready.resolve();
      else this.#waiting.get(msg.id as number)?.(msg);
    });
    this.child.on('exit', (code) => {
      ready.reject(new Error(`bench worker exited (${code})`));
      for (const w of this.#waiting.values()) w({ error: `bench worker exited (${code})` });
    });
  }

  async call(req: Request, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const id = this.#next++;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#waiting.set(id, resolve);
      timer = setTimeout(() => reject(new Error(`${req.op} timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    this.child.send({ id, ...req });
    try {
      const msg = await answer;
      if (msg.error) throw new Error(`${req.op}: ${msg.error}`);
      return msg;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(id);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    await this.call({ op: 'stop' }, 15_000).catch(() => this.child.kill('SIGKILL'));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function specFor(operator: Uint8Array, grantId: bigint): Promise<NodeSpec> {
  const key = walletKey();
  const ticket = await issueTicket(
    operator,
    peerIdFromPrivateKey(privateKeyFromRaw(key)),
    grantId,
    3_600_000,
  );
  return {
    key: Buffer.from(key).toString('hex'),
    ticket: Buffer.from(ticket).toString('hex'),
    operator: Buffer.from(privateKeyFromRaw(operator).publicKey.raw).toString('hex'),
  };
}

/**
 * Resident memory of a process from /proc (Linux), MiB: all of it, and the part private to it (RSS
 * minus the shared clean pages, mostly the node binary's own code, which every node process shares);
 * undefined when it is gone.
 */
function memoryOf(pid: number): { rss: number; private: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return {
      rss: kb('Rss') / 1024,
      private: (kb('Private_Clean') + kb('Private_Dirty')) / 1024,
    };
  } catch {
    return undefined;
  }
}

/**
 * Idle RSS of a real node as `dibs up` starts it: the CLI in its own process with the embedded chain
 * (anvil is a separate process, not counted), its database, API and p2p host. Measured on the first
 * start (which deploys the contracts) and on a restart of the same data dir (the steady state).
 * `nodeOptions` goes to NODE_OPTIONS, as a launcher would set V8 flags.
 */
async function dibsUpRss(
  nodeOptions: string,
): Promise<{ first: number; restart: number; restartPrivate: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'dibs-bench-up-'));
  const passFile = join(dir, 'passphrase');
  await writeFile(passFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const once = async (): Promise<{ rss: number; private: number }> => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const child = spawn(
      process.execPath,
      [...CLI_NODE_ARGS, CLI, '--data-dir', join(dir, 'node'), '--json', 'up'],
      {
        env: { ...process.env, DIBS_PASSPHRASE_FILE: passFile, NODE_OPTIONS: nodeOptions },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      for (let i = 0; i < 240 && !out.includes('"running"'); i++) {
        if (child.exitCode !== null) throw new Error(`dibs up exited (${child.exitCode})`);
        await new Promise((r) => setTimeout(r, 500));
      }
      if (!out.includes('"running"')) throw new Error('dibs up did not report running within 120 s');
      await new Promise((r) => setTimeout(r, DIBS_UP_IDLE_MS));
      const mem = memoryOf(child.pid!);
      if (mem === undefined) throw new Error('dibs up is gone before its RSS was read');
      return mem;
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const first = await once();
    const restart = await once();
    return { first: first.rss, restart: restart.rss, restartPrivate: restart.private };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** RSS of one p2p host alone in its own process, after it joined `bootstrap` peers and sat idle. */
async function idleRss(operator: Uint8Array, bootstrap: string[], flags: string[]): Promise<number> {
  const w = new Worker(flags);
  try {
    await w.ready;
    await w.call({ op: 'start', specs: [await specFor(operator, 1_000_000n)] });
    await w.call({ op: 'join', bootstrap });
    await w.call({ op: 'selfQuery' });
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return ((await w.call({ op: 'rss' })).rss as number) / 1024 / 1024;
  } finally {
    await w.stop();
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Median latency of the first or second half of the lookups, in the order they ran. */
function half(results: LookupResult[], which: 0 | 1): number {
  const mid = Math.floor(results.length / 2);
  const part = (which === 0 ? results.slice(0, mid) : results.slice(mid))
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  return part.length ? pct(part, 50) : Number.NaN;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<void> {
  const operator = walletKey();
  const workers = Array.from({ length: WORKERS }, () => new Worker([]));
  try {
    await Promise.all(workers.map((w) => w.ready));
    const t0 = performance.now();
    // Node i lives in worker i % WORKERS at local index floor(i / WORKERS).
    const specs = await Promise.all(Array.from({ length: N }, (_, i) => specFor(operator, BigInt(i + 1))));
    const started = await Promise.all(
      workers.map((w, wi) => w.call({ op: 'start', specs: specs.filter((_, i) => i % WORKERS === wi) })),
    );
    const nodes = Array.from({ length: N }, (_, i) => {
      const n = (started[i % WORKERS]!.nodes as Array<{ peerId: string; addr: string }>)[
        Math.floor(i / WORKERS)
      ]!;
      return { ...n, worker: workers[i % WORKERS]!, local: Math.floor(i / WORKERS) };
    });
    const bootstrap = [nodes[0]!.addr];
    await Promise.all(workers.map((w) => w.call({ op: 'join', bootstrap })));
    await Promise.all(workers.map((w) => w.call({ op: 'selfQuery' })));
    const formMs = performance.now() - t0;

    const results: LookupResult[] = [];
    let failures = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const from = Math.floor(Math.random() * N);
      let to = Math.floor(Math.random() * N);
      if (to === from) to = (from + 1) % N;
      const src = nodes[from]!;
      const r = (await src.worker.call({ op: 'lookup', from: src.local, target: nodes[to]!.peerId }))
        .result as LookupResult;
      if (r.found) results.push(r);
      else failures++;
    }
    const published = await Promise.all(workers.map((w) => w.call({ op: 'publish' })));
    const addresses = nodes.map(
      (n) => (published[workers.indexOf(n.worker)]!.addresses as string[])[n.local]!,
    );
    const recordMs: number[] = [];
    let recordFailures = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const from = Math.floor(Math.random() * N);
      let to = Math.floor(Math.random() * N);
      if (to === from) to = (from + 1) % N;
      const src = nodes[from]!;
      const r = (await src.worker.call({ op: 'findRecord', from: src.local, address: addresses[to]! }))
        .result as { ms: number; found: boolean };
      if (r.found) recordMs.push(r.ms);
      else recordFailures++;
    }
    recordMs.sort((a, b) => a - b);
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const foundMs = results.map((r) => r.foundMs ?? r.ms).sort((a, b) => a - b);
    const dialed = results.map((r) => r.dialed).sort((a, b) => a - b);
    const queried = results.map((r) => r.queried).sort((a, b) => a - b);
    const hops = results.map((r) => r.hops ?? Number.NaN).sort((a, b) => a - b);
    const workerRss = await Promise.all(workers.map((w) => w.call({ op: 'rss' })));

    const idlePeers = nodes.slice(0, IDLE_PEERS).map((n) => n.addr);
    const rss = await idleRss(operator, idlePeers, NODE_FLAGS);
    const rssDefault = await idleRss(operator, idlePeers, []);
    const up = await dibsUpRss('');
    const upFlags = await dibsUpRss(NODE_FLAGS.join(' '));
    const median = recordMs.length ? pct(recordMs, 50) : Number.NaN;
    const figures = {
      nodes: N,
      worker_processes: WORKERS,
      lookups: LOOKUPS,
      record_lookup_failures: recordFailures,
      record_lookup_median_ms: round(median),
      record_lookup_p95_ms: round(recordMs.length ? pct(recordMs, 95) : Number.NaN),
      closest_peers_failures: failures,
      closest_peers_median_ms: round(ms.length ? pct(ms, 50) : Number.NaN),
      closest_peers_p95_ms: round(ms.length ? pct(ms, 95) : Number.NaN),
      target_found_median_ms: round(foundMs.length ? pct(foundMs, 50) : Number.NaN),
      hops_median: hops.length ? pct(hops, 50) : null,
      hops_p95: hops.length ? pct(hops, 95) : null,
      hops_max: hops.length ? hops[hops.length - 1] : null,
      queried_peers_median: queried.length ? pct(queried, 50) : null,
      queried_peers_p95: queried.length ? pct(queried, 95) : null,
      dialed_peers_median: dialed.length ? pct(dialed, 50) : null,
      closest_peers_first_half_median_ms: round(half(results, 0)),
      closest_peers_second_half_median_ms: round(half(results, 1)),
      log2_n: round(Math.log2(N)),
      network_form_ms: round(formMs),
      dibs_up_idle_rss_mib: round(up.restart),
      dibs_up_idle_private_mib: round(up.restartPrivate),
      dibs_up_first_start_idle_rss_mib: round(up.first),
      dibs_up_idle_rss_mib_with_flags: round(upFlags.restart),
      p2p_host_idle_rss_mib: round(rss),
      idle_rss_node_flags: NODE_FLAGS.join(' '),
      p2p_host_idle_rss_mib_default_flags: round(rssDefault),
      idle_node_peers: IDLE_PEERS,
      worker_rss_mib: workerRss.map((w) => round((w.rss as number) / 1024 / 1024)),
    };
    console.error(
      `dht bench: ${N} nodes in ${WORKERS} processes, node record lookup median ${figures.record_lookup_median_ms} ms (p95 ${figures.record_lookup_p95_ms}); full getClosestPeers median ${figures.closest_peers_median_ms} ms (p95 ${figures.closest_peers_p95_ms}), hops median ${figures.hops_median} (max ${figures.hops_max}), peers queried median ${figures.queried_peers_median} vs log2(N) ${figures.log2_n}, idle \`dibs up\` node ${figures.dibs_up_idle_rss_mib} MiB RSS, ${figures.dibs_up_idle_private_mib} MiB private (first start ${figures.dibs_up_first_start_idle_rss_mib}; ${figures.dibs_up_idle_rss_mib_with_flags} MiB with ${figures.idle_rss_node_flags}), p2p host alone ${figures.p2p_host_idle_rss_mib} MiB with those flags (${figures.p2p_host_idle_rss_mib_default_flags} MiB without)`,
    );
    console.log(
      JSON.stringify({
        bench: 'dht',
        figures,
        goals: {
          record_lookup_median_ms: {
            value: figures.record_lookup_median_ms,
            goal: 100,
            met: median <= 100 && recordFailures === 0,
          },
          dibs_up_idle_rss_mib: { value: figures.dibs_up_idle_rss_mib, goal: 120, met: up.restart <= 120 },
        },
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
  }
}

if (process.argv.includes('--worker')) await workerMain();
else await main();
