/**
 * L3 VPN benchmark (`npm run bench:vpn`, root): in one run and the same namespaces
 * (packages/node/test/netns/vpn-topology.sh) a client behind NAT reaches a web host on site A's LAN
 * through (1) plain wireguard-go configured by hand with `wg` (the baseline), (2) the DIBS VPN with
 * WireGuard's UDP going direct, (3) the DIBS VPN with the client's packets to the host dropped at its
 * NAT, so the DIBS connection runs through the relay node and WireGuard's datagrams through the
 * relay's datagram relay (its UDP ports, straight from one wireguard-go to the other), and (4) as (3)
 * with UDP to the relay dropped too, so the datagrams ride the relayed channel through both nodes'
 * bridges (the fallback; reported, no goal). Per path: iperf3 TCP throughput, its retransmits and the
 * datagrams dropped at full UDP receive buffers in the host's namespace (Udp RcvbufErrors), and ping
 * RTT (median of 30 pings); the paths take turns in 1 + RUNS rounds (5; DIBS_BENCH_VPN_RUNS), the first a
 * warm-up, medians of the others: single 5 s runs on this shared machine class spread by ±15 %.
 * Also `dibs vpn up` with the ticket held → first ping answered (median of RUNS). Progress goes to
 * stderr; the last stdout line is one JSON object.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  HOSTA_IP,
  inNamespace,
  type NodeProcess,
  RELAY_IP,
  startVpnNode,
  vpnTopology,
} from '../packages/node/test/netns/vpn-bed.ts';

const runFile = promisify(execFile);
const RUNS = (() => {
  const n = Number(process.env.DIBS_BENCH_VPN_RUNS ?? 5);
  if (!Number.isInteger(n) || n < 3 || n > 15) {
    process.stderr.write('[bench:vpn] DIBS_BENCH_VPN_RUNS must be an integer 3..15\n');
    process.exit(2);
  }
  return n;
})();
const IPERF_SECONDS = 5;
const PINGS = 30;
const WEB = '10.61.0.10';
const log = (msg: string) => process.stderr.write(`[bench:vpn] ${msg}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

if (process.getuid?.() !== 0) {
  log('needs root: it creates network namespaces, WireGuard interfaces and nftables rules');
  process.exit(2);
}

const prefix = `dibs-bv-${randomBytes(3).toString('hex')}`;
const ns = (n: string) => `${prefix}-${n}`;
const inNs = (n: string, argv: string[], timeout = 60_000) => inNamespace(ns(n), argv, timeout);
const helpers: ChildProcess[] = [];
const nodes: NodeProcess[] = [];
let dir = '';

/** Datagrams the kernel dropped for a full socket receive buffer in namespace `n` so far (Udp RcvbufErrors). */
async function rcvbufErrors(n: string): Promise<number> {
  const lines = (await inNs(n, ['cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  return Number(lines[1]?.split(/\s+/)[names.indexOf('RcvbufErrors')] ?? Number.NaN);
}

/**
 * iperf3 from the client to the web host: received Mbit/s, TCP retransmits, and the datagrams
 * dropped meanwhile at full UDP receive buffers in site A's host namespace (its wireguard-go).
 */
async function iperf(): Promise<{ mbps: number; retransmits: number; hostDrops: number }> {
  const before = await rcvbufErrors('hosta');
  const out = await inNs('client', ['iperf3', '-c', WEB, '-t', String(IPERF_SECONDS), '-J'], 60_000);
  const j = JSON.parse(out) as {
    end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number } };
  };
  return {
    mbps: j.end.sum_received.bits_per_second / 1e6,
    retransmits: j.end.sum_sent.retransmits,
    hostDrops: (await rcvbufErrors('hosta')) - before,
  };
}

/** Median ping RTT from the client to the web host, ms. */
async function pingRtt(): Promise<number> {
  const out = await inNs('client', ['ping', '-c', String(PINGS), '-i', '0.02', '-W', '2', WEB], 60_000);
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length < PINGS / 2) throw new Error(`only ${times.length} of ${PINGS} pings answered`);
  return median(times);
}

/** Plain wireguard-go between the client and site A's host, keys and peers set by hand with `wg`. */
async function plainWireGuard(): Promise<() => Promise<void>> {
  const keys = async () => {
    const priv = (await runFile('wg', ['genkey'])).stdout.trim();
    const child = execFile('wg', ['pubkey']);
    const pub = new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: string) => {
        out += d;
      });
      child.once('close', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error('wg pubkey failed')),
      );
    });
    child.stdin!.end(`${priv}\n`);
    return { priv, pub: await pub };
  };
  const host = await keys();
  const client = await keys();
  // wireguard-go's UAPI sockets share one directory across namespaces: each interface a name of its own.
  const ifname = (n: string) => `wb${n[0]}${prefix.slice(-6)}`;
  const up = async (n: string, priv: string, address: string, peerArgs: string[], port?: number) => {
    const wg = spawn('ip', ['netns', 'exec', ns(n), 'wireguard-go', '-f', ifname(n)], { stdio: 'ignore' });
    helpers.push(wg);
    for (let i = 0; i < 100; i++) {
      if ((await inNs(n, ['ip', 'link', 'show', ifname(n)]).catch(() => '')) !== '') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 100));
    // The private key goes through a 0600 file that is deleted at once, never through argv.
    const keyFile = join(dir, `wg-${n}.key`);
    await writeFile(keyFile, `${priv}\n`, { mode: 0o600 });
    try {
      await inNs(n, [
        'wg',
        'set',
        ifname(n),
        'private-key',
        keyFile,
        ...(port ? ['listen-port', String(port)] : []),
        ...peerArgs,
      ]);
    } finally {
      await unlink(keyFile);
    }
    await inNs(n, ['ip', 'address', 'add', address, 'dev', ifname(n)]);
    await inNs(n, ['ip', 'link', 'set', ifname(n), 'up']);
    return wg;
  };
  await up('hosta', host.priv, '10.99.0.1/24', ['peer', client.pub, 'allowed-ips', '10.99.0.2/32'], 51999);
  await up('client', client.priv, '10.99.0.2/24', [
    'peer',
    host.pub,
    'endpoint',
    `${HOSTA_IP}:51999`,
    'allowed-ips',
    '10.99.0.1/32,10.61.0.0/24',
    'persistent-keepalive',
    '5',
  ]);
  await inNs('client', ['ip', 'route', 'add', '10.61.0.0/24', 'dev', ifname('client')]);
  return async () => {
    await inNs('client', ['ip', 'link', 'del', ifname('client')]).catch(() => {});
    await inNs('hosta', ['ip', 'link', 'del', ifname('hosta')]).catch(() => {});
  };
}

/** `vpn up` (ticket held) until the first ping through the tunnel is answered, ms. */
async function timeToFirstPing(
  client: NodeProcess,
  serviceId: string,
): Promise<{ totalMs: number; upMs: number }> {
  const t0 = performance.now();
  await client.command({ op: 'vpnUp', serviceId, mode: 'client' });
  const upMs = performance.now() - t0;
  // One ping every 10 ms from the moment the route exists; the first answer ends it.
  const ping = spawn('ip', ['netns', 'exec', ns('client'), 'ping', '-n', '-i', '0.01', '-w', '10', WEB], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const answered = await new Promise<number>((resolve, reject) => {
      ping.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('bytes from')) resolve(performance.now() - t0);
      });
      ping.once('exit', () => reject(new Error('no ping answered through the VPN within 10 s')));
    });
    return { totalMs: answered, upMs };
  } finally {
    if (ping.exitCode === null) ping.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), 'dibs-bench-vpn-'));
  await vpnTopology('up', prefix);
  helpers.push(spawn('ip', ['netns', 'exec', ns('weba'), 'iperf3', '-s'], { stdio: 'ignore' }));

  log('starting the relay (with the chain), site A and the client nodes');
  const key = () => `0x${randomBytes(32).toString('hex')}`;
  const relay = await startVpnNode(dir, ns('relay'), {
    role: 'relay',
    dataDir: join(dir, 'relay'),
    listen: [`/ip4/${RELAY_IP}/tcp/0`],
    key: key(),
  });
  nodes.push(relay.node);
  const relayAddr = (relay.ready.multiaddrs as string[]).find((a) => a.startsWith(`/ip4/${RELAY_IP}/tcp/`))!;
  const chain = {
    rpcUrl: relay.ready.rpcUrl as string,
    contracts: relay.ready.contracts as Record<string, string>,
  };
  const circuit = `${relayAddr}/p2p-circuit`;
  const hosta = await startVpnNode(dir, ns('hosta'), {
    role: 'hosta',
    dataDir: join(dir, 'hosta'),
    listen: ['/ip4/0.0.0.0/tcp/0', circuit],
    key: key(),
    ...chain,
    reserve: true,
    publish: { name: 'site-a', subnets: ['10.61.0.0/24'], allow: ['10.61.0.0/24'] },
  });
  nodes.push(hosta.node);
  const serviceId = hosta.ready.serviceId as string;
  const client = await startVpnNode(dir, ns('client'), {
    role: 'client',
    dataDir: join(dir, 'client'),
    listen: ['/ip4/0.0.0.0/tcp/0', circuit],
    key: key(),
    ...chain,
    reserve: true,
  });
  nodes.push(client.node);

  // The machine is shared: the three paths take turns, round by round (the first round is a warm-up),
  // so a change in background load touches all of them alike. Everything runs with the nodes up.
  const peerId = hosta.ready.peerId as string;
  const paths = {
    plain: { runs: [] as number[], rtts: [] as number[], drops: [] as number[], retransmits: [] as number[] },
    direct: {
      runs: [] as number[],
      rtts: [] as number[],
      drops: [] as number[],
      retransmits: [] as number[],
    },
    relayed: {
      runs: [] as number[],
      rtts: [] as number[],
      drops: [] as number[],
      retransmits: [] as number[],
    },
    bridged: {
      runs: [] as number[],
      rtts: [] as number[],
      drops: [] as number[],
      retransmits: [] as number[],
    },
  };
  const record = async (name: keyof typeof paths, round: number) => {
    const { mbps, retransmits, hostDrops } = await iperf();
    const rtt = await pingRtt();
    log(
      `round ${round} ${name}: ${mbps.toFixed(0)} Mbit/s, RTT ${rtt.toFixed(3)} ms, ${retransmits} retransmits, ` +
        `${hostDrops} datagrams dropped at the host's full receive buffer${round === 0 ? ' (warm-up)' : ''}`,
    );
    if (round > 0) {
      paths[name].runs.push(mbps);
      paths[name].rtts.push(rtt);
      paths[name].drops.push(hostDrops);
      paths[name].retransmits.push(retransmits);
    }
  };
  const dibsUp = async (want: 'direct' | 'relayed', via?: 'relay' | 'bridge') => {
    const up = (await client.node.command({ op: 'vpnUp', serviceId, mode: 'client' })).session as {
      path: string;
      endpoint: string | null;
    };
    if (up.path !== want) throw new Error(`expected a ${want} path, got ${up.path}`);
    const at = via === 'relay' ? `${RELAY_IP}:` : via === 'bridge' ? '127.0.0.1:' : undefined;
    if (at && !up.endpoint?.startsWith(at)) {
      throw new Error(`expected WireGuard's endpoint at ${at}…, got ${up.endpoint}`);
    }
  };
  const toRelayUdp = ['FORWARD', '-p', 'udp', '-d', RELAY_IP, '-j', 'DROP'];
  for (let round = 0; round <= RUNS; round++) {
    const downPlain = await plainWireGuard();
    await record('plain', round);
    await downPlain();

    await dibsUp('direct');
    await record('direct', round);
    await client.node.command({ op: 'vpnDown', serviceId });

    // The client's NAT drops every packet to site A's host, and the direct connection goes: DIBS finds
    // the host through the relay, and WireGuard's datagrams ride the relayed channel.
    await inNs('nata', ['iptables', '-I', 'FORWARD', '-d', HOSTA_IP, '-j', 'DROP']);
    await client.node.command({ op: 'hangup', peerId });
    await dibsUp('relayed', 'relay');
    await record('relayed', round);
    await client.node.command({ op: 'vpnDown', serviceId });

    // The same with UDP to the relay dropped as well: the datagrams ride the relayed channel.
    await inNs('nata', ['iptables', '-I', ...toRelayUdp]);
    await dibsUp('relayed', 'bridge');
    await record('bridged', round);
    await client.node.command({ op: 'vpnDown', serviceId });
    await inNs('nata', ['iptables', '-D', ...toRelayUdp]);
    await inNs('nata', ['iptables', '-D', 'FORWARD', '-d', HOSTA_IP, '-j', 'DROP']);
    await client.node.command({ op: 'hangup', peerId });
  }
  const summary = (p: { runs: number[]; rtts: number[] }) => ({
    mbps: median(p.runs),
    rttMs: median(p.rtts),
    runs: p.runs,
  });
  const plain = summary(paths.plain);
  const direct = summary(paths.direct);
  const relayed = summary(paths.relayed);
  const bridged = summary(paths.bridged);
  await dibsUp('direct');

  const firstPing: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await client.node.command({ op: 'vpnDown', serviceId });
    const t = await timeToFirstPing(client.node, serviceId);
    firstPing.push(t.totalMs);
    log(`vpn up → first ping: ${t.totalMs.toFixed(0)} ms (vpn up returned after ${t.upMs.toFixed(0)} ms)`);
  }
  await client.node.command({ op: 'vpnDown', serviceId });
  for (const line of client.node.stderr.filter((l) => l.includes('vpn up'))) log(`client: ${line}`);

  const figures = {
    plain_wireguard_go_mbps: Math.round(plain.mbps),
    dibs_direct_mbps: Math.round(direct.mbps),
    dibs_relayed_mbps: Math.round(relayed.mbps),
    direct_vs_plain: +(direct.mbps / plain.mbps).toFixed(3),
    relayed_vs_direct: +(relayed.mbps / direct.mbps).toFixed(3),
    // The fallback when UDP does not reach the relay: the datagrams on the relayed channel.
    dibs_relayed_channel_mbps: Math.round(bridged.mbps),
    relayed_channel_vs_direct: +(bridged.mbps / direct.mbps).toFixed(3),
    plain_wireguard_go_rtt_ms: +plain.rttMs.toFixed(3),
    dibs_direct_rtt_ms: +direct.rttMs.toFixed(3),
    dibs_relayed_rtt_ms: +relayed.rttMs.toFixed(3),
    dibs_relayed_channel_rtt_ms: +bridged.rttMs.toFixed(3),
    vpn_up_to_first_ping_ms: Math.round(median(firstPing)),
    runs_mbps: {
      plain: plain.runs.map(Math.round),
      direct: direct.runs.map(Math.round),
      relayed: relayed.runs.map(Math.round),
      relayed_channel: bridged.runs.map(Math.round),
    },
    // Per run: datagrams dropped at full UDP receive buffers in the host's namespace, TCP retransmits.
    host_rcvbuf_drops: {
      plain: paths.plain.drops,
      direct: paths.direct.drops,
      relayed: paths.relayed.drops,
      relayed_channel: paths.bridged.drops,
    },
    retransmits: {
      plain: paths.plain.retransmits,
      direct: paths.direct.retransmits,
      relayed: paths.relayed.retransmits,
      relayed_channel: paths.bridged.retransmits,
    },
  };
  const goals = {
    direct_vs_plain: { value: figures.direct_vs_plain, goal: 0.95, met: figures.direct_vs_plain >= 0.95 },
    relayed_vs_direct: { value: figures.relayed_vs_direct, goal: 0.5, met: figures.relayed_vs_direct >= 0.5 },
    vpn_up_to_first_ping_ms: {
      value: figures.vpn_up_to_first_ping_ms,
      goal: 2000,
      met: figures.vpn_up_to_first_ping_ms <= 2000,
    },
  };
  process.stderr.write(
    [
      '',
      `path                  Mbit/s (median of ${RUNS})   ratio          ping RTT (median)`,
      `plain wireguard-go    ${figures.plain_wireguard_go_mbps.toString().padEnd(22)} 1.000          ${figures.plain_wireguard_go_rtt_ms} ms`,
      `DIBS VPN direct       ${figures.dibs_direct_mbps.toString().padEnd(22)} ${figures.direct_vs_plain.toFixed(3)} × plain  ${figures.dibs_direct_rtt_ms} ms`,
      `DIBS VPN relayed      ${figures.dibs_relayed_mbps.toString().padEnd(22)} ${figures.relayed_vs_direct.toFixed(3)} × direct ${figures.dibs_relayed_rtt_ms} ms`,
      `  (on the channel)    ${figures.dibs_relayed_channel_mbps.toString().padEnd(22)} ${figures.relayed_channel_vs_direct.toFixed(3)} × direct ${figures.dibs_relayed_channel_rtt_ms} ms`,
      `dibs vpn up → first ping (ticket held): ${figures.vpn_up_to_first_ping_ms} ms`,
      '',
    ].join('\n'),
  );
  process.stdout.write(`${JSON.stringify({ bench: 'vpn', figures, goals })}\n`);
}

try {
  await main();
} catch (err) {
  // What each node logged last says why a path did not carry traffic.
  for (const n of nodes) process.stderr.write(`--- node log (last lines) ---\n${n.tail()}\n`);
  for (const n of ['client', 'hosta']) {
    const wg = await inNs(n, ['wg', 'show', 'all']).catch((e: Error) => e.message);
    process.stderr.write(`--- wg show all in ${n} ---\n${wg}\n`);
  }
  throw err;
} finally {
  for (const n of nodes.reverse()) await n.stop().catch(() => {});
  for (const h of helpers) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  await vpnTopology('down', prefix).catch((err: Error) => log(`teardown: ${err.message}`));
  if (dir) await rm(dir, { recursive: true, force: true });
}
