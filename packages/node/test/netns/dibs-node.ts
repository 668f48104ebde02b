/**
 * A real DIBS node process for the network-namespace test beds: the daemon `dibs up` / `dibs node
 * start` run (startDaemon: chain client, contracts, identity, network grant, admission on real network
 * tickets, Registry entry, bootstrap join, DHT record), against an external chain (`rpcUrl`).
 *
 * Its config (wallet key included) comes from the JSON file named by DIBS_NETNS_CONFIG, never argv;
 * the file is deleted once read. It prints `{"ready":true,"pid":…,"status":<daemon info>}` on stdout,
 * then answers JSON-line commands on stdin with one JSON line each (logs go to stderr).
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Wallet } from '@dibs/core';
import type { Connection, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { startDaemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/daemon/log.ts';
import { FramedStream } from '../../src/p2p/frames.ts';

/** The request/response protocol tests send through the test bed. */
export const NETNS_PROBE = '/dibs/test-netns-probe/1.0';
const MAX_FRAME = 4096;
const OP_TIMEOUT_MS = 20_000;

/** What one node process runs with (written by the test, mode 0600). */
export interface NetnsNodeConfig {
  /** The wallet's private key, 0x hex. */
  key: string;
  dataDir: string;
  rpcUrl: string;
  chainId: number;
  /** Contract addresses (+ networkServiceId) of the network; absent = deploy them (the operator). */
  contracts?: Record<string, string>;
  listen: string[];
  bootstrap?: string[];
  roles?: number;
  /** Registry owner: approves itself as bootstrap (and runs BOOTSTRAP + RELAY). */
  operator?: boolean;
}

type Command =
  | { id: number; op: 'status' }
  | { id: number; op: 'connect'; addr: string }
  | { id: number; op: 'dial'; addr: string }
  | { id: number; op: 'request'; addr: string; text: string }
  | { id: number; op: 'connections' }
  | { id: number; op: 'admitted'; peer: string }
  | { id: number; op: 'stop' };

const configPath = process.env.DIBS_NETNS_CONFIG;
if (!configPath) throw new Error('DIBS_NETNS_CONFIG must name the node config file');
const config = JSON.parse(readFileSync(configPath, 'utf8')) as NetnsNodeConfig;
unlinkSync(configPath);

const log = createLogger({ console: process.stderr, component: 'netns-node' });
const daemon = await startDaemon({
  dataDir: config.dataDir,
  databasePath: join(config.dataDir, 'dibs.db'),
  runtimePath: join(config.dataDir, 'runtime.json'),
  chain: { mode: 'rpc', rpcUrl: config.rpcUrl, chainId: config.chainId, contracts: config.contracts },
  wallet: Wallet.fromPrivateKey(config.key),
  log,
  registerIdentity: true,
  api: false,
  p2p: {
    listen: config.listen,
    bootstrap: config.bootstrap ?? [],
    ...(config.roles !== undefined ? { roles: config.roles } : {}),
    ...(config.operator !== undefined ? { operator: config.operator } : {}),
    // A dev chain mines on demand: the mirror must not wait for blocks that never come.
    confirmations: 0,
  },
});
const network = daemon.network;
if (!network) throw new Error('the daemon started without its network part');
const host = network.host;

await host.handle(NETNS_PROBE, async (stream: Stream, connection: Connection) => {
  const framed = new FramedStream(stream, MAX_FRAME);
  try {
    const text = new TextDecoder().decode(await framed.read(5_000, 'probe request'));
    const reply = {
      echo: text,
      from: connection.remoteAddr.toString(),
      peer: connection.remotePeer.toString(),
    };
    await framed.write(new TextEncoder().encode(JSON.stringify(reply)), 5_000);
    await framed.close(5_000);
  } catch (err) {
    log.warn('probe failed', { error: (err as Error).message });
  }
});

/** The daemon's info with the network part as it is now. */
function status(): Record<string, unknown> {
  return {
    ...daemon.info,
    network: network!.status(),
    admittedPeers: host.admission
      .admittedPeers()
      .map((p) => ({ peerId: p.peerId.toString(), grantId: p.grantId.toString(), expiresAt: p.expiresAt })),
    sessions: network!.authority.sessionCount(),
  };
}

async function run(cmd: Command): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(OP_TIMEOUT_MS);
  switch (cmd.op) {
    case 'status':
      return { status: status() };
    case 'connect':
      return { peer: (await host.connect(multiaddr(cmd.addr), OP_TIMEOUT_MS)).toString() };
    case 'dial': {
      const c = await host.libp2p.dial(multiaddr(cmd.addr), { signal: AbortSignal.timeout(5_000) });
      return { peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString() };
    }
    case 'request': {
      const stream = await host.libp2p.dialProtocol(multiaddr(cmd.addr), NETNS_PROBE, { signal });
      const framed = new FramedStream(stream, MAX_FRAME);
      await framed.write(new TextEncoder().encode(cmd.text), 5_000);
      const back = await framed.read(5_000, 'probe reply');
      await framed.close(5_000);
      return { reply: JSON.parse(new TextDecoder().decode(back)) };
    }
    case 'connections':
      return {
        connections: host.libp2p.getConnections().map((c) => ({
          peer: c.remotePeer.toString(),
          remoteAddr: c.remoteAddr.toString(),
          direction: c.direction,
          limited: c.limits !== undefined,
        })),
      };
    case 'admitted':
      return { admitted: host.admission.isAdmitted(peerIdFromString(cmd.peer)) };
    case 'stop':
      setImmediate(() => void shutdown(0));
      return {};
  }
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code), 10_000);
  timer.unref();
  await daemon.stop().catch(() => {});
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.stdin.on('end', () => void shutdown(0));

process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, status: status() })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  let cmd: Command;
  try {
    cmd = JSON.parse(line) as Command;
  } catch {
    process.stdout.write(`${JSON.stringify({ ok: false, error: 'command is not JSON' })}\n`);
    continue;
  }
  run(cmd).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: true, ...result })}\n`),
    (err: Error) =>
      process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: false, error: err.message })}\n`),
  );
}
