/**
 * DHT bench: 50 admitted DIBS nodes on loopback in one process; lookup latency (median/p95) and hop
 * count next to log2(N); idle RSS of one node measured in its own process. Last line: one JSON object.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DibsHost } from '../packages/node/src/p2p/host.ts';
import { createDibsHost } from '../packages/node/src/p2p/host.ts';
import { silentLogger } from '../packages/node/src/p2p/log.ts';
import { TestNetwork, walletKey } from '../packages/node/test/helpers.ts';

const N = Number(process.env.DIBS_BENCH_NODES ?? 50);
const LOOKUPS = Number(process.env.DIBS_BENCH_LOOKUPS ?? 200);
const IDLE_MS = 5_000;

async function node(net: TestNetwork): Promise<DibsHost> {
  const key = walletKey();
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
  const { privateKeyFromRaw } = await import('@libp2p/crypto/keys');
  const { ticket } = await net.issue(peerIdFromPrivateKey(privateKeyFromRaw(key)));
  return createDibsHost({
    privateKey: key,
    authority: net.authority(key, ticket),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    pubsub: false,
    logger: silentLogger,
  });
}

async function idleChild(): Promise<void> {
  const net = new TestNetwork();
  const h = await node(net);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  globalThis.gc?.();
  process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`);
  await h.stop();
}

function measureIdleRss(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--idle-child'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '').rss / 1024 / 1024);
      } catch {
        reject(new Error(`idle child printed no figure: ${out}`));
      }
    });
  });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const net = new TestNetwork();
  const hosts: DibsHost[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) hosts.push(await node(net));
    const boot = hosts[0]!;
    for (const h of hosts.slice(1)) await h.connect(boot.multiaddrs()[0]!, 20_000);
    for (const h of hosts) {
      try {
        for await (const _ of h.dht.getClosestPeers(h.peerId.toMultihash().bytes, {
          signal: AbortSignal.timeout(20_000),
        })) {
        }
      } catch {}
    }
    const formMs = performance.now() - t0;
    const latencies: number[] = [];
    const hops: number[] = [];
    let failures = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const from = hosts[Math.floor(Math.random() * N)]!;
      let to = hosts[Math.floor(Math.random() * N)]!;
      if (to === from) to = hosts[(hosts.indexOf(from) + 1) % N]!;
      // A full iterative lookup of the target's key (findPeer would often answer from the local table).
      const start = performance.now();
      let found = false;
      let queried = 0;
      try {
        for await (const ev of from.dht.getClosestPeers(to.peerId.toMultihash().bytes, {
          signal: AbortSignal.timeout(10_000),
        })) {
          if (ev.name === 'SEND_QUERY') queried++;
          if (ev.name === 'FINAL_PEER' && ev.peer.id.equals(to.peerId)) found = true;
        }
      } catch {}
      if (!found) {
        failures++;
        continue;
      }
      latencies.push(performance.now() - start);
      hops.push(queried);
    }
    latencies.sort((a, b) => a - b);
    hops.sort((a, b) => a - b);
    const rss = await measureIdleRss();
    const median = latencies.length ? pct(latencies, 50) : Number.NaN;
    const figures = {
      nodes: N,
      lookups: LOOKUPS,
      lookup_failures: failures,
      lookup_median_ms: round(median),
      lookup_p95_ms: round(latencies.length ? pct(latencies, 95) : Number.NaN),
      queried_peers_median: hops.length ? pct(hops, 50) : null,
      queried_peers_p95: hops.length ? pct(hops, 95) : null,
      log2_n: round(Math.log2(N)),
      network_form_ms: round(formMs),
      idle_rss_mib: round(rss),
      process_rss_mib_with_all_nodes: round(process.memoryUsage().rss / 1024 / 1024),
    };
    console.error(
      `dht bench: ${N} nodes, median lookup ${figures.lookup_median_ms} ms (p95 ${figures.lookup_p95_ms}), peers queried median ${figures.queried_peers_median} vs log2(N) ${figures.log2_n}, idle node ${figures.idle_rss_mib} MiB`,
    );
    console.log(
      JSON.stringify({
        bench: 'dht',
        figures,
        goals: {
          lookup_median_ms: {
            value: figures.lookup_median_ms,
            goal: 100,
            met: median <= 100 && failures === 0,
          },
          idle_rss_mib: { value: figures.idle_rss_mib, goal: 120, met: rss <= 120 },
        },
      }),
    );
  } finally {
    await Promise.all(hosts.map((h) => h.stop().catch(() => {})));
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (process.argv.includes('--idle-child')) await idleChild();
else await main();
