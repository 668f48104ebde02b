/**
 * Admission flood benchmark (`npm run bench:admission-flood`): a service-host node in a process of
 * its own carries a legitimate tunnel (sink service, data channel) while 10,000 admission attempts
 * arrive from peers without a grant — half with random bytes for a ticket, half with well-formed
 * tickets of clients nobody registered — and raw sockets spew random bytes at its libp2p and
 * data-channel listeners (bench/admission-flood/flood.ts, BENCH_FLOOD_RATE dials a second, 250 by
 * default). On one machine the attackers' own CPU would be taken from the node: the bench pins itself,
 * the node and the services to CPU 0 and the flood to CPU 1 (BENCH_FLOOD_PIN=0: no pinning), as if
 * the attackers had machines of their own; both CPU times are printed, and the host's own CPU time
 * in the runs with the flood and without. Same run, same processes: tunnel
 * throughput without the flood (baseline), then during it, and their ratio; the host's RSS settled
 * before the flood and its peak during it. Progress on stderr; the last stdout line is one JSON object.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Policy } from '@dibs/contracts';
import { multiaddr } from '@multiformats/multiaddr';
import { DIBS_V8_OPTIONS } from '../packages/cli/src/node-options.ts';
import { openTunnel } from '../packages/node/src/tunnel/index.ts';
import { startChainBed } from '../packages/node/test/chain-nodes.ts';
import { startNodeProcess } from './tunnel/node-process.ts';

const ATTEMPTS = Number(process.env.BENCH_FLOOD_ATTEMPTS ?? 10_000);
/** Dials a second of the whole flood (the node itself accepts at most 100 a second from one address). */
const FLOOD_RATE = Number(process.env.BENCH_FLOOD_RATE ?? 250);
const FLOOD_PEERS = 64;
const FLOOD_CONCURRENCY = 128;
const SPEWERS = 4;
/** Bytes per throughput run, and runs per phase (median; five, as the machine's other load varies from run to run). */
const TOTAL = 128 * 1024 * 1024;
const RUNS = 5;
const RATIO_GOAL = 0.8;
const RSS_GOAL_MIB = 64;
const MiB = 1024 * 1024;
const log = (msg: string) => process.stderr.write(`[bench:admission-flood] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const PIN = process.env.BENCH_FLOOD_PIN !== '0';

/** Pins every thread of `pid` to CPU `cpu` (taskset); children forked later inherit it. */
function pin(pid: number | undefined, cpu: number): void {
  if (!PIN || !pid) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch (err) {
    log(`could not pin ${pid} to CPU ${cpu}: ${(err as Error).message}`);
  }
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux; 100 ticks a second). */
function cpuOf(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Resident set of a process from /proc, bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** A process's memory in MiB: resident, JS heap used/total, external (array buffers). */
function describeMemory(m: NodeJS.MemoryUsage): string {
  const f = (n: number) => (n / MiB).toFixed(0);
  return `rss ${f(m.rss)} MiB, heap ${f(m.heapUsed)}/${f(m.heapTotal)} MiB, external ${f(m.external)} MiB (array buffers ${f(m.arrayBuffers)})`;
}

interface FloodCounts {
  attempts: number;
  admissionRefused: number;
  dialFailed: number;
  spewConnections: number;
  spewBytes: number;
  seconds?: number;
}

async function main(): Promise<void> {
  const missing = DIBS_V8_OPTIONS.filter((o) => !process.execArgv.includes(o));
  if (missing.length > 0) {
    throw new Error(`run as \`npm run bench:admission-flood\` (node ${missing.join(' ')} is missing)`);
  }
  // This process (the client node) and everything it starts from here on: CPU 0.
  pin(process.pid, 0);
  const dir = mkdtempSync(join(tmpdir(), 'dibs-bench-flood-'));
  const bed = await startChainBed('dibs-bench-flood-chain-');
  const children: ChildProcess[] = [];
  const track = (c: ChildProcess) => {
    children.push(c);
    c.on('error', (err) => log(`child ${c.pid}: ${err.message}`));
  };
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    // The host stops itself first (a --cpu-prof given in BENCH_TUNNEL_HOST_ARGS is written then).
    const host = children[0];
    if (host && host.exitCode === null && host.connected) {
      const exited = new Promise((r) => host.once('exit', r));
      host.send({ stop: true });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    for (const c of children) c.kill('SIGKILL');
    try {
      await bed.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    log('starting anvil, the host node process and the client node');
    const host = await startNodeProcess(
      bed,
      dir,
      new URL('./tunnel/host.ts', import.meta.url),
      'host',
      // The client comes over IPv6 loopback, the flood over IPv4: on one machine that is how the
      // node tells its admitted peer's address from the attackers'.
      ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'],
      track,
    );
    const ready = await host.next<{
      peerId: string;
      multiaddrs: string[];
      dataPort: number | null;
    }>('ready');
    const sinkId = await bed.operator.registry.publishService({
      serviceType: 'tcp',
      name: 'flood-sink',
      grantDuration: 3600n,
      host: host.party.wallet.address,
      policy: Policy.Public,
    });
    host.child.send({ serve: { id: sinkId.toString(), port: 'sink' } });
    await host.next('served');
    const clientParty = await bed.party('client');
    const client = await bed.startNode(clientParty);
    const access = bed.access(clientParty);
    const ticket = await access.ticket((await access.request(sinkId)).grantId);
    const withPeer = (a: string) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${ready.peerId}`);
    const peer = withPeer(ready.multiaddrs.find((a) => a.startsWith('/ip6/::1/tcp/'))!);
    const floodTarget = withPeer(ready.multiaddrs.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))!);

    /** One run: TOTAL bytes into the sink through a fresh tunnel; MB/s. */
    const run = async (): Promise<number> => {
      const t = await openTunnel({ host: client.host, peer, ticket });
      const s = t.socket;
      s.on('error', () => {});
      const reply = new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.once('end', () => resolve(Buffer.concat(chunks)));
        s.once('error', reject);
      });
      const block = Buffer.alloc(MiB, 7);
      const t0 = process.hrtime.bigint();
      for (let sent = 0; sent < TOTAL; sent += block.length) {
        if (!s.write(block)) await new Promise((r) => s.once('drain', r));
      }
      s.end();
      const got = (await reply).readBigUInt64BE(0);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      if (got !== BigInt(TOTAL)) throw new Error(`sink counted ${got} bytes, sent ${TOTAL}`);
      t.close();
      return TOTAL / 1e6 / secs;
    };

    const probe = await openTunnel({ host: client.host, peer, ticket });
    probe.socket.on('error', () => {});
    log(`channel: ${probe.channel}`);
    probe.close();
    await run(); // warm-up, not counted
    host.child.send({ rss: true });
    const beforeBaseline = (await host.next<NodeJS.MemoryUsage>('memory')).rss;
    // The tunnel's own buffers raise RSS while it runs: the peak of the runs without any flood.
    let baselinePeak = beforeBaseline;
    const baselineSampler = setInterval(() => {
      if (host.child.pid) baselinePeak = Math.max(baselinePeak, rssOf(host.child.pid));
    }, 100);
    const baseline: number[] = [];
    for (let i = 0; i < RUNS; i++) baseline.push(await run());
    clearInterval(baselineSampler);
    const tunnelGrowthMiB = (baselinePeak - beforeBaseline) / MiB;
    log(`host RSS while the tunnel runs without a flood: +${tunnelGrowthMiB.toFixed(1)} MiB at peak`);
    log(`without flood: ${baseline.map((x) => x.toFixed(0)).join(', ')} MB/s`);
    host.child.send({ rss: true });
    const beforeMemory = await host.next<NodeJS.MemoryUsage>('memory');
    const before = beforeMemory.rss;
    log(`host memory settled before the flood: ${describeMemory(beforeMemory)}`);
    log(`host RSS settled before the flood: ${(before / MiB).toFixed(1)} MiB`);

    // The flood, on the other CPU.
    const flood = fork(new URL('./admission-flood/flood.ts', import.meta.url), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [...DIBS_V8_OPTIONS],
    });
    track(flood);
    pin(flood.pid, 1);

    let counts: FloodCounts = {
      attempts: 0,
      admissionRefused: 0,
      dialFailed: 0,
      spewConnections: 0,
      spewBytes: 0,
    };
    let done: FloodCounts | undefined;
    flood.on('message', (m: { progress?: FloodCounts; done?: FloodCounts }) => {
      if (m.progress) counts = m.progress;
      if (m.done) done = m.done;
    });
    flood.send({
      flood: {
        target: floodTarget.toString(),
        dataPort: ready.dataPort,
        chainId: bed.deployment.chainId,
        accessGrants: bed.deployment.accessGrants,
        networkServiceId: bed.deployment.networkServiceId.toString(),
        attempts: ATTEMPTS,
        rate: FLOOD_RATE,
        peers: FLOOD_PEERS,
        concurrency: FLOOD_CONCURRENCY,
        spewers: SPEWERS,
      },
    });
    const hostCpu0 = cpuOf(host.child.pid);
    // Where the host's memory is during the flood (uncollected): heap, external, array buffers,
    // peer store entries, connections.
    let breakdownBusy = false;
    const breakdowns = setInterval(() => {
      if (breakdownBusy) return;
      breakdownBusy = true;
      host.child.send({ breakdown: true });
      void host
        .next<NodeJS.MemoryUsage & { peerStore: number; connections: number }>('breakdown')
        .then((b) =>
          log(
            `host: ${describeMemory(b)}, ${b.peerStore} peers in the store, ${b.connections} connections; ${counts.attempts} attempts`,
          ),
        )
        .catch(() => {})
        .finally(() => {
          breakdownBusy = false;
        });
    }, 3_000);
    let floodCpu = 0;
    let peak = before;
    const sampler = setInterval(() => {
      if (host.child.pid) peak = Math.max(peak, rssOf(host.child.pid));
      const c = cpuOf(flood.pid);
      if (!Number.isNaN(c)) floodCpu = c;
    }, 100);
    // Measure once the flood is under way; keep the runs inside it.
    for (let i = 0; i < 600 && counts.attempts < Math.min(500, ATTEMPTS / 4); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`flood under way (${counts.attempts} attempts); measuring`);
    // Runs with the flood and without it, interleaved, so a change in the machine's other load
    // between the two phases does not pass for the flood's effect.
    const during: number[] = [];
    const paused: number[] = [];
    let attemptsWhileMeasuring = 0;
    const settle = () => new Promise((r) => setTimeout(r, 1_000));
    // The host's own CPU seconds during the runs of each kind: what the flood costs the node itself.
    let hostCpuDuring = 0;
    let hostCpuPaused = 0;
    const timed = async (add: (cpu: number) => void): Promise<number> => {
      const c0 = cpuOf(host.child.pid);
      const mbps = await run();
      add(cpuOf(host.child.pid) - c0);
      return mbps;
    };
    for (let i = 0; i < RUNS; i++) {
      const a0 = counts.attempts;
      during.push(await timed((c) => (hostCpuDuring += c)));
      await settle();
      attemptsWhileMeasuring += counts.attempts - a0;
      flood.send({ pause: true });
      await settle();
      paused.push(await timed((c) => (hostCpuPaused += c)));
      flood.send({ resume: true });
      await settle();
    }
    log(
      `during flood: ${during.map((x) => x.toFixed(0)).join(', ')} MB/s; flood paused in between: ${paused.map((x) => x.toFixed(0)).join(', ')} MB/s (${attemptsWhileMeasuring} attempts while measuring)`,
    );
    for (let i = 0; i < 6000 && !done; i++) await new Promise((r) => setTimeout(r, 100));
    clearInterval(sampler);
    clearInterval(breakdowns);
    const hostCpu = cpuOf(host.child.pid) - hostCpu0;
    const final = done ?? counts;
    log(
      `CPU during the flood: host ${hostCpu.toFixed(1)} s, flood ${floodCpu.toFixed(1)} s; host in the runs: ${hostCpuDuring.toFixed(1)} s with the flood, ${hostCpuPaused.toFixed(1)} s without (${RUNS} × ${TOTAL / MiB} MiB each)`,
    );
    log(
      `flood: ${final.attempts} admission attempts (${final.admissionRefused} refused at admission, ${final.dialFailed} dials refused or failed), ${final.spewConnections} spewing connections, ${(final.spewBytes / MiB).toFixed(0)} MiB of random bytes${done ? ` in ${final.seconds?.toFixed(0)} s` : ' (not finished)'}`,
    );
    // BENCH_FLOOD_HEAP_SNAPSHOT=<file>: the host's heap at the flood's end, for a look at what it holds.
    if (process.env.BENCH_FLOOD_HEAP_SNAPSHOT) {
      host.child.send({ heapSnapshot: process.env.BENCH_FLOOD_HEAP_SNAPSHOT });
      log(`host heap snapshot: ${await host.next<string>('heapSnapshot')}`);
    }
    // The legitimate tunnel still works after the flood.
    const afterFlood = await run();
    host.child.send({ rss: true });
    const afterMemory = await host.next<NodeJS.MemoryUsage>('memory');
    const settledAfter = afterMemory.rss;
    log(`host memory settled after the flood: ${describeMemory(afterMemory)}`);
    const base = median(paused);
    const loaded = median(during);
    const ratio = loaded / base;
    const growthMiB = (peak - before) / MiB;
    log(
      `ratio ${ratio.toFixed(2)} (goal ≥ ${RATIO_GOAL}); host RSS +${growthMiB.toFixed(1)} MiB at peak (goal ≤ ${RSS_GOAL_MIB}), ${((settledAfter - before) / MiB).toFixed(1)} MiB settled after`,
    );
    const figures = {
      baseline_mbps: Math.round(base),
      before_flood_mbps: Math.round(median(baseline)),
      flood_mbps: Math.round(loaded),
      after_flood_mbps: Math.round(afterFlood),
      throughput_ratio: Math.round(ratio * 1000) / 1000,
      flood_attempts: final.attempts,
      flood_refused_at_admission: final.admissionRefused,
      flood_dials_refused: final.dialFailed,
      flood_attempts_while_measuring: attemptsWhileMeasuring,
      flood_spew_connections: final.spewConnections,
      flood_seconds: final.seconds ?? null,
      flood_rate_per_s: FLOOD_RATE,
      flood_pinned_to_other_cpu: PIN,
      flood_cpu_s: Math.round(floodCpu * 10) / 10,
      host_cpu_s_during_flood: Math.round(hostCpu * 10) / 10,
      host_cpu_s_runs_with_flood: Math.round(hostCpuDuring * 10) / 10,
      host_cpu_s_runs_without_flood: Math.round(hostCpuPaused * 10) / 10,
      host_rss_before_mib: Math.round((before / MiB) * 10) / 10,
      host_rss_growth_peak_mib: Math.round(growthMiB * 10) / 10,
      host_rss_growth_tunnel_alone_peak_mib: Math.round(tunnelGrowthMiB * 10) / 10,
      host_rss_growth_settled_mib: Math.round(((settledAfter - before) / MiB) * 10) / 10,
    };
    console.log(
      JSON.stringify({
        bench: 'admission-flood',
        figures,
        goals: {
          throughput_ratio: { value: figures.throughput_ratio, goal: RATIO_GOAL, met: ratio >= RATIO_GOAL },
          host_rss_growth_mib: {
            value: figures.host_rss_growth_peak_mib,
            goal: RSS_GOAL_MIB,
            met: growthMiB <= RSS_GOAL_MIB,
          },
        },
      }),
    );
  } finally {
    await cleanUp();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
