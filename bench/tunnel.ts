/**
 * Tunnel benchmark (`npm run bench:tunnel`): 512 MiB through raw loopback TCP, `ssh -L` (aes128-gcm,
 * an sshd started here on loopback) and DIBS, direct (data channel; forced stream channel) and to a
 * host reachable only through a relay node (data channel met at the relay's rendezvous; the libp2p
 * stream through circuit-relay-v2). Every path is measured the same way: an application process of
 * its own (bench/tunnel/app.ts) writes into a local port, a forwarder carries the bytes (ssh + sshd,
 * or a `dibs connect` listener in this process's client node + the host node in its own process),
 * and the service is a process of its own (bench/tunnel/targets.ts). One warm-up run per path, then
 * medians of 3. Also: the library path (this process writes into the tunnel's Duplex), 1-byte RTTs,
 * time to first byte cold (grant on chain + ticket + tunnel) and warm (ticket held), and 1,000
 * concurrent tunnels with the host's memory per tunnel. Progress goes to stderr; the last stdout line
 * is one JSON object.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { Policy } from '@dibs/contracts';
import type { NetworkRuntime } from '../packages/node/src/daemon/network.ts';
import { DIBS_V8_OPTIONS } from '../packages/cli/src/node-options.ts';
import { BUSY_POLL_WINDOW_US } from '../packages/node/src/tunnel/constants.ts';
import {
  openTunnel,
  setReleaseAfterWrite,
  type Tunnel,
  TunnelRelay,
} from '../packages/node/src/tunnel/index.ts';
import { settledMemory } from './tunnel/memory.ts';
import { startNodeProcess as startNodeProcessOf } from './tunnel/node-process.ts';
import { type ChainParty, startChainBed } from '../packages/node/test/chain-nodes.ts';

// A node's buffers live outside the JS heap; by default every ~64 MiB of them forces a full GC of
// the whole heap, which dominates a data path in a process with a big heap (docs/tunnel.md).
// `dibs` counts them in V8's global limit (packages/cli/src/v8-flags.ts), so the bench does too;
// BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT=0 measures with V8's default instead.
if (process.env.BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT !== '0') {
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}

const TOTAL = 512 * 1024 * 1024;
/** Measured runs per path, after one warm-up run that is not counted (the same for every path). */
const RUNS = 3;
const RTT_ROUNDS = 2000;
/**
 * Round trips per path before the counted ones, not counted: a node's JIT optimizes the data path
 * only after some thousands of records, and a long-running node runs it optimized (ssh has no JIT).
 */
const RTT_WARM_UP_ROUNDS = 2000;
const CONCURRENT = 1000;
const RELEASE = process.env.BENCH_TUNNEL_RELEASE !== '0';
const log = (msg: string) => process.stderr.write(`[bench:tunnel] ${msg}\n`);
/**
 * BENCH_TUNNEL_PARTS=throughput,latency,relayed,ttfb,memory (default: all) runs only those parts; a
 * figure's name (e.g. dibs_direct) runs just that throughput.
 */
const PARTS = new Set(
  (process.env.BENCH_TUNNEL_PARTS ?? 'throughput,latency,relayed,ttfb,memory')
    .split(',')
    .map((p) => p.trim()),
);

/** CPU seconds the whole machine spent busy so far (user, system, interrupts); NaN off Linux. */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number);
    return (user! + nice! + system! + irq! + softirq!) / 100;
  } catch {
    return Number.NaN;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** Sends TOTAL bytes and waits for the sink's 8-byte count; MB/s. */
async function throughput(open: () => Promise<Duplex>): Promise<number> {
  const s = await open();
  const block = Buffer.alloc(1 << 20, 7);
  const reply = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < TOTAL; sent += block.length) {
    if (!s.write(block)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  const got = (await reply).readBigUInt64BE(0);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (got !== BigInt(TOTAL)) throw new Error(`sink counted ${got} bytes, sent ${TOTAL}`);
  s.destroy();
  return TOTAL / 1e6 / secs;
}

/** 1-byte ping-pong against the echo target; µs per round trip. */
async function rtt(s: Duplex, rounds: number): Promise<number[]> {
  const out: number[] = [];
  const one = Buffer.of(1);
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const got = new Promise((r) => s.once('data', r));
    s.write(one);
    await got;
    out.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  s.destroy();
  return out;
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline && i < 1000; i++) {
    try {
      (await tcp(port)).destroy();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`port ${port} did not open within ${ms} ms`);
}

/** CPU seconds (user + system) used so far by process `pid` (Linux /proc). */
function processCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The same for `pid` and its live descendants (sshd forks a process per connection). */
function treeCpuSeconds(pid: number, depth = 0): number {
  let total = processCpuSeconds(pid);
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // no children list on this kernel
  }
  for (const c of depth < 4 ? children : []) {
    try {
      total += treeCpuSeconds(Number(c), depth + 1);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** sshd on loopback with throwaway keys, and `ssh -N -L` through it with aes128-gcm. */
async function sshForward(
  targetPort: number,
  dir: string,
): Promise<{ port: number; sshPid: number | undefined; sshdPid: number | undefined; stop: () => void }> {
  const run = (cmd: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(cmd, args, { stdio: 'ignore' });
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
    });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = join(dir, 'ssh_host_ed25519');
  const userKey = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
  const { readFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`), { mode: 0o600 });
  const sshPort = await freePort();
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    [
      `Port ${sshPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'PermitRootLogin yes',
      'StrictModes no',
      'UsePAM no',
      'AllowTcpForwarding yes',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'Ciphers aes128-gcm@openssh.com',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const sshd = spawn('/usr/sbin/sshd', ['-f', cfg, '-D', '-e'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitPort(sshPort, 10_000);
  const localPort = await freePort();
  const ssh = spawn(
    'ssh',
    [
      '-N',
      '-c',
      'aes128-gcm@openssh.com',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      '-o',
      'BatchMode=yes',
      '-i',
      userKey,
      '-p',
      String(sshPort),
      '-L',
      `127.0.0.1:${localPort}:127.0.0.1:${targetPort}`,
      `${process.env.USER ?? 'root'}@127.0.0.1`,
    ],
    { stdio: 'ignore' },
  );
  await waitPort(localPort, 10_000);
  return {
    port: localPort,
    sshPid: ssh.pid,
    sshdPid: sshd.pid,
    stop: () => {
      if (ssh.pid) process.kill(ssh.pid);
      if (sshd.pid) process.kill(sshd.pid);
    },
  };
}

async function main(): Promise<void> {
  // The client nodes run in this process: it must run with a real `dibs` process's V8 settings.
  const missing = DIBS_V8_OPTIONS.filter((o) => !process.execArgv.includes(o));
  if (missing.length > 0) {
    throw new Error(`run as \`npm run bench:tunnel\` (node ${missing.join(' ')} is missing)`);
  }
  const figures: Record<string, number | null> = {};
  const dir = mkdtempSync(join(tmpdir(), 'dibs-bench-tunnel-'));
  log('starting anvil, relay/bootstrap node, host process, clients');
  const bed = await startChainBed('dibs-bench-tunnel-chain-');
  const children: ChildProcess[] = [];
  const stops: Array<() => void> = [];
  /** A child process of the bench: stopped at the end; a message to one that died is logged, not fatal. */
  const track = (child: ChildProcess) => {
    children.push(child);
    child.on('error', (err) => log(`child process ${child.pid}: ${err.message}`));
  };
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    for (const s of stops) s();
    for (const c of children) c.kill();
    try {
      await bed.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // Interrupted (Ctrl-C, a kill), the bench still stops sshd, ssh, its child processes and anvil.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    // The bench starts the relay's rendezvous itself (below), with a silent logger.
    const relay = await bed.startNode(bed.operator, { tunnelRelay: false });
    // The relay's rendezvous for relayed data channels (it only ever forwards sealed records).
    const tunnelRelay = await TunnelRelay.start({
      host: relay.host,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    stops.push(() => void tunnelRelay.stop());
    const relayAddr = relay.host
      .multiaddrs()
      .find((a) => a.toString().includes('/tcp/'))!
      .toString();
    const startNodeProcess = (script: string, name: string, listen: string[]) =>
      startNodeProcessOf(bed, dir, new URL(script, import.meta.url), name, listen, track);
    /** A service-host node in its own process with its sink and echo targets, and two services on it. */
    const startHost = async (name: string, listen: string[]) => {
      const { party, child, next } = await startNodeProcess('./tunnel/host.ts', name, listen);
      const ready = (await next('ready')) as {
        peerId: string;
        multiaddrs: string[];
        sinkPort: number;
        echoPort: number;
        targetsPid: number;
      };
      const publish = async (service: string, port: 'sink' | 'echo') => {
        const id = await bed.operator.registry.publishService({
          serviceType: 'tcp',
          name: `${name}-${service}`,
          grantDuration: 3600n,
          host: party.wallet.address,
          policy: Policy.Public,
        });
        child.send({ serve: { id: id.toString(), port } });
        await next('served');
        return id;
      };
      return {
        child,
        next,
        ready,
        sink: await publish('sink', 'sink'),
        echo: await publish('echo', 'echo'),
      };
    };
    // The direct host has only a TCP address. The relayed host listens only through the relay: it has
    // no address of its own a client could dial, so every byte to it crosses the relay.
    const directHost = await startHost('host', ['/ip4/127.0.0.1/tcp/0']);
    const relayedHost = await startHost('host-relayed', [`${relayAddr}/p2p-circuit`]);
    const { child, next, ready } = directHost;
    const sinkService = directHost.sink;
    const echoService = directHost.echo;
    const clientParty = await bed.party('client');
    const client = await bed.startNode(clientParty);
    const relayedParty = await bed.party('client-relayed');
    const relayedClient = await bed.startNode(relayedParty);
    // Every node process frees its record buffers once written (release.ts); BENCH_TUNNEL_RELEASE=0
    // leaves them to the garbage collector, here and in the node processes.
    if (!RELEASE) setReleaseAfterWrite(false);
    const { multiaddr } = await import('@multiformats/multiaddr');
    const { peerIdFromString } = await import('@libp2p/peer-id');
    const hostPeer = peerIdFromString(ready.peerId);
    const direct = multiaddr(ready.multiaddrs.find((a) => !a.includes('p2p-circuit'))!);
    const circuit = multiaddr(`${relayAddr}/p2p-circuit/p2p/${relayedHost.ready.peerId}`);
    const ticketOf = async (p: ChainParty, id: bigint) => {
      const access = bed.access(p);
      const held = await access.request(id);
      return access.ticket(held.grantId);
    };
    const sinkTicket = await ticketOf(clientParty, sinkService);
    const echoTicket = await ticketOf(clientParty, echoService);
    const tunnel = (
      node: NetworkRuntime,
      peer: typeof direct,
      t: typeof sinkTicket,
      channel: 'auto' | 'stream' = 'auto',
    ) => openTunnel({ host: node.host, peer, ticket: t, channel });

    // The application end of every path runs in a process of its own (bench/tunnel/app.ts).
    const app = fork(new URL('./tunnel/app.ts', import.meta.url), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
    });
    track(app);
    await new Promise((r) => app.once('message', r));
    const appCall = <T>(msg: object): Promise<T> =>
      new Promise((resolve, reject) => {
        app.once('message', (m: { error?: string } & T) =>
          m.error ? reject(new Error(m.error)) : resolve(m),
        );
        app.send(msg);
      });
    /** CPU seconds used so far by each process of the path (Linux /proc), for the progress lines. */
    /** The processes of the paths measured now (the relayed group swaps in its own). */
    const cpuPids: Record<string, number | undefined> = {
      bench: process.pid,
      connect: undefined,
      host: child.pid,
      ssh: undefined,
      // sshd with its per-connection children.
      sshd: undefined,
      app: app.pid,
      services: ready.targetsPid,
    };
    const cpuSeconds = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [k, pid] of Object.entries(cpuPids)) {
        if (pid === undefined) continue;
        try {
          out[k] = k === 'sshd' ? treeCpuSeconds(pid) : processCpuSeconds(pid);
        } catch {
          // not on Linux, or gone
        }
      }
      return out;
    };
    /** A tunnel that took the path wanted (`direct/data`, `relayed/stream`, …), else an error. */
    const pathTunnel = async (
      node: NetworkRuntime,
      peer: typeof direct,
      t: typeof sinkTicket,
      channel: 'auto' | 'stream',
      want: string,
    ) => {
      const tn = await tunnel(node, peer, t, channel);
      if (`${tn.path}/${tn.channel}` !== want) {
        tn.close();
        throw new Error(`expected ${want}, got ${tn.path}/${tn.channel}`);
      }
      return tn;
    };
    /**
     * `dibs connect`: a client node in a process of its own (tunnel/connect.ts) whose local listener
     * forwards each connection through a tunnel of its own (LocalForward), as the real command does;
     * a connection fails if its tunnel took another path than `want`.
     */
    const startConnect = async (name: string) => {
      const proc = await startNodeProcess('./tunnel/connect.ts', name, ['/ip4/127.0.0.1/tcp/0']);
      await proc.next('ready');
      return {
        ...proc,
        forward: async (
          peer: typeof direct,
          service: bigint,
          channel: 'auto' | 'stream',
          want: string,
        ): Promise<number> => {
          const ticket = await ticketOf(proc.party, service);
          proc.child.send({ forward: { peer: peer.toString(), ticket, channel, want } });
          return proc.next('forwarding');
        },
      };
    };
    const connectDirect = await startConnect('connect');
    cpuPids.connect = connectDirect.child.pid;
    // Paths are measured in rounds, one run of every path per round (a warm-up round first, not
    // counted), so a slow spell of this shared machine hits all paths alike instead of one of them.
    interface Job {
      name: string;
      /** One throughput run in MB/s, or one batch of `rounds` RTT samples in µs. */
      run: (rounds?: number) => Promise<number | number[]>;
      cpu: boolean;
      /** The processes (cpuPids keys) that carry this path's bytes between the app and the service. */
      forwarders?: string[];
    }
    const throughputJobs: Job[] = [];
    const latencyJobs: Job[] = [];
    const RTT_BATCHES = 4;
    /** Throughput of the app process through `port` (a sink behind it). */
    const measure = async (name: string, port: () => Promise<number>, forwarders?: string[]) => {
      if (!PARTS.has('throughput') && !PARTS.has(name)) return;
      const p = await port();
      throughputJobs.push({
        name,
        cpu: true,
        ...(forwarders ? { forwarders } : {}),
        run: async () => (await appCall<{ mbps: number }>({ throughput: { port: p, bytes: TOTAL } })).mbps,
      });
    };
    /** 1-byte round trips of the app process through `port` (an echo behind it). */
    const latency = async (
      name: string,
      port: () => Promise<number>,
      around: (run: () => Promise<number[]>) => Promise<number[]> = (run) => run(),
    ) => {
      if (!PARTS.has('latency')) return;
      const p = await port();
      latencyJobs.push({
        name,
        cpu: false,
        run: async (rounds = RTT_ROUNDS) =>
          around(async () => (await appCall<{ us: number[] }>({ rtt: { port: p, rounds } })).us),
      });
    };
    /** Sets the busy-polling window of the direct path's two node processes (connect and host). */
    const busyPoll = async (us: number) => {
      for (const proc of [connectDirect, directHost]) {
        proc.child.send({ busyPoll: us });
        await proc.next('busyPoll');
      }
    };
    /** The library path: this process writes into the tunnel's Duplex itself (no local TCP hop). */
    const measureInProcess = async (name: string, open: () => Promise<Duplex>) => {
      if (!PARTS.has('throughput') && !PARTS.has(name)) return;
      throughputJobs.push({ name, cpu: false, run: () => throughput(open) });
    };
    const latencyInProcess = async (name: string, open: () => Promise<Duplex>) => {
      if (!PARTS.has('latency')) return;
      latencyJobs.push({ name, cpu: false, run: async (rounds) => rtt(await open(), rounds ?? RTT_ROUNDS) });
    };
    /** Runs the planned jobs in rounds and forgets them (each group of paths is measured apart). */
    const runRounds = async () => {
      const mbps = new Map<string, number[]>();
      const forwarderCpu = new Map<string, number[]>();
      for (let round = 0; round <= RUNS; round++) {
        for (const job of throughputJobs) {
          try {
            const before = cpuSeconds();
            const value = (await job.run()) as number;
            const after = cpuSeconds();
            const used = Object.entries(after)
              .map(([k, v]) => `${k} ${(v - (before[k] ?? 0)).toFixed(2)}`)
              .join(', ');
            log(
              `${job.name} ${round === 0 ? 'warm-up' : `run ${round}`}: ${value.toFixed(0)} MB/s${job.cpu ? ` (CPU s: ${used})` : ''}`,
            );
            if (round > 0) mbps.set(job.name, [...(mbps.get(job.name) ?? []), value]);
            if (round > 0 && job.forwarders) {
              const spent = job.forwarders.reduce(
                (sum, k) => sum + (after[k] ?? NaN) - (before[k] ?? NaN),
                0,
              );
              if (Number.isFinite(spent))
                forwarderCpu.set(job.name, [...(forwarderCpu.get(job.name) ?? []), spent]);
            }
          } catch (err) {
            log(`${job.name} run ${round} failed: ${(err as Error).message}`);
          }
        }
      }
      for (const [name, runs] of mbps) figures[`${name}_mb_s`] = Math.round(median(runs));
      // CPU seconds the two forwarding processes spent per 512 MiB: less noisy than MB/s on a shared
      // machine, and what throughput follows when the four processes of a path share two cores.
      for (const [name, runs] of forwarderCpu) {
        figures[`${name}_forwarder_cpu_s`] = Math.round(median(runs) * 100) / 100;
      }
      const samples = new Map<string, number[]>();
      const busy = new Map<string, number>();
      // Batch 0 is the warm-up, not counted.
      for (let batch = 0; batch <= RTT_BATCHES; batch++) {
        for (const job of latencyJobs) {
          try {
            const before = machineBusySeconds();
            const xs = (await job.run(
              batch === 0 ? RTT_WARM_UP_ROUNDS : RTT_ROUNDS / RTT_BATCHES,
            )) as number[];
            const used = machineBusySeconds() - before;
            if (batch > 0) {
              samples.set(job.name, [...(samples.get(job.name) ?? []), ...xs]);
              busy.set(job.name, (busy.get(job.name) ?? 0) + used);
            }
          } catch (err) {
            log(`${job.name} rtt batch ${batch} failed: ${(err as Error).message}`);
          }
        }
      }
      for (const [name, xs] of samples) record(name, xs, busy.get(name));
      throughputJobs.length = 0;
      latencyJobs.length = 0;
    };
    const record = (name: string, xs: number[], busySeconds?: number) => {
      figures[`${name}_rtt_median_us`] = Math.round(median(xs));
      figures[`${name}_rtt_p99_us`] = Math.round(pct(xs, 0.99));
      // CPU time of the whole machine (every process and the kernel) per round trip: what the
      // latency costs, busy polling included. Linux only; the clock ticks every 10 ms.
      const cpu =
        busySeconds === undefined || Number.isNaN(busySeconds)
          ? null
          : Math.round((busySeconds * 1e6) / xs.length);
      figures[`${name}_rtt_cpu_us`] = cpu;
      log(
        `${name} rtt median ${figures[`${name}_rtt_median_us`]} µs p99 ${figures[`${name}_rtt_p99_us`]} µs (${xs.length} round trips${cpu === null ? '' : `, machine CPU ${cpu} µs per round trip`})`,
      );
    };

    await measure('raw', async () => ready.sinkPort);
    await latency('raw', async () => ready.echoPort);
    if (PARTS.has('throughput') || PARTS.has('latency'))
      try {
        const sshSink = await sshForward(ready.sinkPort, join(dir, 'ssh-sink'));
        stops.push(sshSink.stop);
        cpuPids.ssh = sshSink.sshPid;
        cpuPids.sshd = sshSink.sshdPid;
        await measure('ssh', async () => sshSink.port, ['ssh', 'sshd']);
        const sshEcho = await sshForward(ready.echoPort, join(dir, 'ssh-echo'));
        stops.push(sshEcho.stop);
        await latency('ssh', async () => sshEcho.port);
      } catch (err) {
        log(`ssh -L unavailable: ${(err as Error).message}`);
        figures.ssh_mb_s = null;
      }
    const open = async (...args: Parameters<typeof pathTunnel>) => (await pathTunnel(...args)).socket;
    // `dibs connect`: app → local listener → tunnel → host → service, as ssh -L is measured.
    await measure('dibs_direct', () => connectDirect.forward(direct, sinkService, 'auto', 'direct/data'), [
      'connect',
      'host',
    ]);
    await latency('dibs_direct', () => connectDirect.forward(direct, echoService, 'auto', 'direct/data'));
    // The same path with busy polling off in both node processes (each batch turns it off, then on).
    await latency(
      'dibs_direct_nopoll',
      () => connectDirect.forward(direct, echoService, 'auto', 'direct/data'),
      async (run) => {
        await busyPoll(0);
        try {
          return await run();
        } finally {
          await busyPoll(BUSY_POLL_WINDOW_US);
        }
      },
    );
    await measure('dibs_direct_stream', () =>
      connectDirect.forward(direct, sinkService, 'stream', 'direct/stream'),
    );
    // The library: an application holding the tunnel's Duplex in its own process.
    await measureInProcess('dibs_direct_inprocess', () =>
      open(client, direct, sinkTicket, 'auto', 'direct/data'),
    );
    await latencyInProcess('dibs_direct_inprocess', () =>
      open(client, direct, echoTicket, 'auto', 'direct/data'),
    );
    // The direct paths, compared in rounds; the relayed ones (whose circuit-relay fallback is heavy on
    // this process, which hosts the relay) are measured after them, in rounds of their own.
    await runRounds();
    if (PARTS.has('latency')) {
      // How the direct path's busy polling scored (busy-poll.ts): windows, those no read came into,
      // and back-offs, summed over the connect and host processes.
      let windows = 0;
      let expired = 0;
      let backoffs = 0;
      for (const proc of [connectDirect, directHost]) {
        proc.child.send({ pollScore: true });
        const score = (await proc.next('pollScore')) as {
          windows: number;
          expired: number;
          backoffs: number;
        };
        windows += score.windows;
        expired += score.expired;
        backoffs += score.backoffs;
      }
      figures.dibs_direct_poll_windows = windows;
      figures.dibs_direct_poll_paid_share = windows > 0 ? Number((1 - expired / windows).toFixed(2)) : null;
      figures.dibs_direct_poll_backoffs = backoffs;
      log(
        `dibs_direct busy polling: ${windows} windows, ${expired} ran out without a read, ${backoffs} back-offs`,
      );
    }
    if (PARTS.has('relayed'))
      try {
        // The relayed host's reservation may still be on its way: retry the circuit dial, bounded.
        let relayedPeer: Awaited<ReturnType<typeof relayedClient.host.connect>> | undefined;
        for (let i = 0; i < 60 && !relayedPeer; i++) {
          relayedPeer = await relayedClient.host.connect(circuit, 5_000).catch(async () => {
            await new Promise((r) => setTimeout(r, 250));
            return undefined;
          });
        }
        if (!relayedPeer) throw new Error('the relayed host never became reachable through the relay');
        const conns = relayedClient.host.libp2p.getConnections(relayedPeer);
        figures.relayed_connections_via_circuit = conns.filter((c) =>
          c.remoteAddr.toString().includes('/p2p-circuit'),
        ).length;
        if (conns.length === 0 || figures.relayed_connections_via_circuit !== conns.length) {
          throw new Error(`relayed client holds a direct connection: ${conns.map((c) => c.remoteAddr)}`);
        }
        log(`relayed client reaches the host only via ${conns.map((c) => c.remoteAddr).join(', ')}`);
        const connectRelayed = await startConnect('connect-relayed');
        // The relay's rendezvous runs in this process ("bench").
        cpuPids.connect = connectRelayed.child.pid;
        cpuPids.host = relayedHost.child.pid;
        cpuPids.services = relayedHost.ready.targetsPid;
        // The data channel met at the relay's rendezvous port: sealed records, spliced TCP at the relay.
        await measure('dibs_relayed_data', () =>
          connectRelayed.forward(circuit, relayedHost.sink, 'auto', 'relayed/data'),
        );
        await latency('dibs_relayed_data', () =>
          connectRelayed.forward(circuit, relayedHost.echo, 'auto', 'relayed/data'),
        );
        // The libp2p stream through circuit-relay-v2: what a NATed pair gets without a rendezvous.
        await measure('dibs_relayed_stream', () =>
          connectRelayed.forward(circuit, relayedHost.sink, 'stream', 'relayed/stream'),
        );
        await latency('dibs_relayed_stream', () =>
          connectRelayed.forward(circuit, relayedHost.echo, 'stream', 'relayed/stream'),
        );
      } catch (err) {
        log(`relayed path failed: ${(err as Error).message}`);
      }

    await runRounds();

    // Time to first byte: warm = ticket held; cold = grant on chain + ticket + tunnel.
    const firstByte = async (t: Tunnel) => {
      const got = new Promise((r) => t.socket.once('data', r));
      t.socket.write('x');
      await got;
      t.close();
    };
    if (PARTS.has('ttfb')) {
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await firstByte(await tunnel(client, hostPeer as never, echoTicket));
        warm.push(performance.now() - t0);
      }
      figures.ttfb_warm_ms = Number(median(warm).toFixed(1));
      const cold: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const t = await ticketOf(clientParty, echoService);
        await firstByte(await tunnel(client, hostPeer as never, t));
        cold.push(performance.now() - t0);
      }
      figures.ttfb_cold_ms = Number(median(cold).toFixed(1));
      log(`ttfb warm ${figures.ttfb_warm_ms} ms, cold ${figures.ttfb_cold_ms} ms`);
    }

    if (PARTS.has('memory')) {
      // 1,000 concurrent tunnels: memory of the host process (its own RSS, sampled over IPC); their
      // target runs in a process of its own, so the figure is the tunnel's, not the service's sockets.
      const hostMemory = async () => {
        child.send({ rss: true });
        return (await next('memory')) as NodeJS.MemoryUsage;
      };
      const hostBefore = await hostMemory();
      const before = await settledMemory();
      const tunnels: Tunnel[] = [];
      for (let i = 0; i < CONCURRENT; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: 50 }, () => tunnel(client, hostPeer as never, echoTicket)),
        );
        tunnels.push(...batch);
      }
      await Promise.all(tunnels.map((t) => firstByte({ ...t, close: () => {} })));
      const afterMem = await settledMemory();
      const hostAfter = await hostMemory();
      figures.concurrent_tunnels = tunnels.length;
      figures.host_rss_per_tunnel_kib = Math.round((hostAfter.rss - hostBefore.rss) / CONCURRENT / 1024);
      if (figures.host_rss_per_tunnel_kib <= 0) {
        log(
          'the host RSS did not grow while 1,000 tunnels opened: not a measurement (goal unmet); run again',
        );
      }
      figures.host_heap_per_tunnel_kib = Math.round(
        (hostAfter.heapUsed - hostBefore.heapUsed) / CONCURRENT / 1024,
      );
      for (const k of ['heapTotal', 'external', 'arrayBuffers'] as const) {
        figures[`host_${k}_per_tunnel_kib`] = Math.round((hostAfter[k] - hostBefore[k]) / CONCURRENT / 1024);
      }
      figures.client_rss_per_tunnel_kib = Math.round((afterMem.rss - before.rss) / CONCURRENT / 1024);
      figures.client_heap_per_tunnel_kib = Math.round(
        (afterMem.heapUsed - before.heapUsed) / CONCURRENT / 1024,
      );
      for (const t of tunnels) {
        // The host sees these cuts as truncations; on this side nothing is left to report.
        t.socket.on('error', () => {});
        t.close();
      }
      log(
        `1000 tunnels: host RSS ${figures.host_rss_per_tunnel_kib} KiB/tunnel, client ${figures.client_rss_per_tunnel_kib}`,
      );
    }

    const ssh = figures.ssh_mb_s;
    const d = figures.dibs_direct_mb_s ?? null;
    const relayed = figures.dibs_relayed_data_mb_s ?? null;
    const relayedStream = figures.dibs_relayed_stream_mb_s ?? null;
    const goal = (value: number | null, target: number, higher = true) => ({
      value,
      goal: target,
      met: value !== null && (higher ? value >= target : value <= target),
    });
    const goals = {
      direct_vs_ssh: goal(ssh && d ? Number((d / ssh).toFixed(2)) : null, 1.0),
      relayed_vs_direct: goal(relayed && d ? Number((relayed / d).toFixed(2)) : null, 0.5),
      rtt_added_us: goal(
        figures.dibs_direct_rtt_median_us != null && figures.raw_rtt_median_us != null
          ? figures.dibs_direct_rtt_median_us - figures.raw_rtt_median_us
          : null,
        150,
        false,
      ),
      ttfb_warm_ms: goal(figures.ttfb_warm_ms ?? null, 50, false),
      ttfb_cold_ms: goal(figures.ttfb_cold_ms ?? null, 250, false),
      // Growth must be positive to be a measurement at all.
      kib_per_tunnel: goal(
        figures.host_rss_per_tunnel_kib != null && figures.host_rss_per_tunnel_kib > 0
          ? figures.host_rss_per_tunnel_kib
          : null,
        64,
        false,
      ),
    };
    if (ssh && d) figures.ratio_direct_to_ssh = Number((d / ssh).toFixed(2));
    // The library path and the circuit-relay fallback, for comparison (no goal of their own).
    const inProcess = figures.dibs_direct_inprocess_mb_s ?? null;
    if (ssh && inProcess) figures.ratio_direct_inprocess_to_ssh = Number((inProcess / ssh).toFixed(2));
    if (relayedStream && d) figures.ratio_relayed_stream_to_direct = Number((relayedStream / d).toFixed(2));
    const sshCpu = figures.ssh_forwarder_cpu_s;
    const dibsCpu = figures.dibs_direct_forwarder_cpu_s;
    if (sshCpu && dibsCpu) figures.ratio_forwarder_cpu_direct_to_ssh = Number((dibsCpu / sshCpu).toFixed(2));
    if (figures.dibs_direct_inprocess_rtt_median_us != null && figures.raw_rtt_median_us != null) {
      figures.rtt_added_inprocess_us =
        figures.dibs_direct_inprocess_rtt_median_us - figures.raw_rtt_median_us;
    }
    figures.external_memory_in_global_limit =
      process.env.BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT !== '0' ? 1 : 0;
    figures.release_after_write = RELEASE ? 1 : 0;
    process.stdout.write(`${JSON.stringify({ bench: 'tunnel', figures, goals })}\n`);
  } finally {
    await cleanUp();
  }
}

await main();
process.exit(0);
