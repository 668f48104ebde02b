/**
 * A real DIBS node process for the network-namespace test beds: the daemon `dibs up` / `dibs node
 * start` run (startDaemon: chain client, contracts, identity, network grant, admission on real network
 * tickets, Registry entry, bootstrap join, DHT record), against an external chain (`rpcUrl`).
 *
 * Its config (wallet key included) comes from the JSON file named by DIBS_NETNS_CONFIG, never argv;
 * the file is deleted once read. It prints `{"ready":true,"pid":…,"status":<daemon info>}` on stdout,
 * then answers JSON-line commands on stdin with one JSON line each (logs go to stderr). Commands
 * that take `org` run on the node's host in that organization network instead of its public host.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Wallet } from '@dibs/core';
import { OrgOperations } from '@dibs/orgs';
import type { Connection, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { startDaemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/daemon/log.ts';
import type { DibsHost } from '../../src/p2p/host.ts';
import { FramedStream } from '../../src/p2p/frames.ts';
import type { OrgNetwork } from '../../src/orgs/index.ts';

/** The request/response protocol tests send through the test bed. */
export const NETNS_PROBE = '/dibs/test-netns-probe/1.0';
/** A bulk echo under an organization's label (`/<org prefix>/<this>`), gated by its admission. */
const ORG_BULK = 'test-netns-bulk/1.0';
const MAX_FRAME = 4096;
const BULK_FRAME = 16 * 1024;
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
  /** 'private': behind NAT, keep relay reservations (in the public network and in each organization). */
  reachability?: 'auto' | 'public' | 'private';
  /** Organization networks to join at start (`dibs up --org`), by id. */
  orgs?: string[];
}

type Command =
  | { id: number; op: 'status' }
  | { id: number; op: 'connect'; addr: string; org?: string }
  | { id: number; op: 'dial'; addr: string; org?: string }
  | { id: number; op: 'request'; addr: string; text: string }
  | { id: number; op: 'bulk'; addr: string; org: string; bytes: number }
  | { id: number; op: 'connections'; org?: string }
  | { id: number; op: 'admitted'; peer: string }
  | { id: number; op: 'org-create'; name: string }
  | { id: number; op: 'org-add-node'; orgId: string; address: string }
  | { id: number; op: 'org-join'; orgId: string }
  | { id: number; op: 'stop' };

/** An error's message; libp2p's dialer wraps each address's failure in an AggregateError, so those follow. */
function errorText(err: Error): string {
  if (!(err instanceof AggregateError)) return err.message;
  return `${err.message}: ${err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ')}`;
}

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
    ...(config.reachability !== undefined ? { reachability: config.reachability } : {}),
    ...(config.orgs ? { orgs: config.orgs.map((o) => BigInt(o)) } : {}),
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

/**
 * Echoes every frame of a bulk stream and answers its end (an empty frame) with the SHA-256 of all it
 * received, so the sender checks the bytes both ways.
 */
const serving = new WeakSet<DibsHost>();
async function serveBulk(net: OrgNetwork): Promise<void> {
  if (serving.has(net.host)) return;
  serving.add(net.host);
  await net.host.handle(`/${net.protocolPrefix}/${ORG_BULK}`, async (stream: Stream) => {
    const framed = new FramedStream(stream, BULK_FRAME);
    const hash = createHash('sha256');
    try {
      for (;;) {
        const frame = await framed.read(10_000, 'bulk frame');
        if (frame.length === 0) break;
        hash.update(frame);
        await framed.write(frame, 10_000);
      }
      await framed.write(hash.digest(), 10_000);
      await framed.close(5_000);
    } catch (err) {
      log.warn('bulk stream failed', { error: (err as Error).message });
    }
  });
}
for (const o of network.orgs.list()) await serveBulk(network.orgs.get(BigInt(o.orgId))!);

/** The node's host in organization `org`, or its public host. */
function hostOf(org: string | undefined): DibsHost {
  if (org === undefined) return host;
  const net = network!.orgs.get(BigInt(org));
  if (!net) throw new Error(`this node is not in organization ${org}'s network`);
  return net.host;
}

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

const orgOps = new OrgOperations({ clients: daemon.chain.clients, deployment: daemon.chain.deployment });

async function run(cmd: Command): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(OP_TIMEOUT_MS);
  switch (cmd.op) {
    case 'status':
      return { status: status() };
    case 'connect':
      return { peer: (await hostOf(cmd.org).connect(multiaddr(cmd.addr), 5_000)).toString() };
    case 'dial': {
      const c = await hostOf(cmd.org).libp2p.dial(multiaddr(cmd.addr), {
        signal: AbortSignal.timeout(5_000),
      });
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
    case 'bulk': {
      const net = network!.orgs.get(BigInt(cmd.org));
      if (!net) throw new Error(`this node is not in organization ${cmd.org}'s network`);
      // As a user's dial does: wait for the admission both ways, else the far end refuses the stream.
      await net.host.connect(multiaddr(cmd.addr), 10_000);
      const stream = await net.host.libp2p.dialProtocol(
        multiaddr(cmd.addr),
        `/${net.protocolPrefix}/${ORG_BULK}`,
        {
          signal,
        },
      );
      const framed = new FramedStream(stream, BULK_FRAME);
      const sent = createHash('sha256');
      const echoed = createHash('sha256');
      let bytes = 0;
      while (bytes < cmd.bytes) {
        const chunk = randomBytes(Math.min(BULK_FRAME, cmd.bytes - bytes));
        sent.update(chunk);
        await framed.write(chunk, 10_000);
        echoed.update(await framed.read(10_000, 'bulk echo'));
        bytes += chunk.length;
      }
      await framed.write(new Uint8Array(0), 10_000);
      const received = Buffer.from(await framed.read(10_000, 'bulk digest')).toString('hex');
      await framed.close(5_000);
      const peer =
        multiaddr(cmd.addr)
          .getComponents()
          .findLast((c) => c.name === 'p2p')?.value ?? '';
      const remote = net.host.libp2p.getConnections(peerIdFromString(peer)).map((c) => c.remoteAddr);
      // A circuit's address names the relay address it was dialed at, which may be an older one of
      // the same relay: the connections to each relay show where the circuits really run.
      const relays = new Set(
        remote.flatMap((a) => {
          const parts = a.getComponents();
          const relay = parts[parts.findIndex((x) => x.name === 'p2p-circuit') - 1];
          return relay?.name === 'p2p' && relay.value ? [relay.value] : [];
        }),
      );
      return {
        bytes,
        sent: sent.digest('hex'),
        echoed: echoed.digest('hex'),
        received,
        remoteAddrs: remote.map((a) => a.toString()),
        relayLinks: Object.fromEntries(
          [...relays].map((relay) => [
            relay,
            net.host.libp2p.getConnections(peerIdFromString(relay)).map((c) => c.remoteAddr.toString()),
          ]),
        ),
      };
    }
    case 'connections':
      return {
        connections: hostOf(cmd.org)
          .libp2p.getConnections()
          .map((c) => ({
            peer: c.remotePeer.toString(),
            remoteAddr: c.remoteAddr.toString(),
            direction: c.direction,
            limited: c.limits !== undefined,
          })),
      };
    case 'admitted':
      return { admitted: host.admission.isAdmitted(peerIdFromString(cmd.peer)) };
    case 'org-create': {
      const org = await orgOps.create({ name: cmd.name });
      return { orgId: org.id.toString(), networkServiceId: org.networkServiceId.toString() };
    }
    case 'org-add-node':
      await orgOps.addNode(BigInt(cmd.orgId), cmd.address as `0x${string}`);
      return {};
    case 'org-join': {
      const joined = await network!.orgs.join(BigInt(cmd.orgId));
      await serveBulk(network!.orgs.get(BigInt(cmd.orgId))!);
      return { org: joined };
    }
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
      process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: false, error: errorText(err) })}\n`),
  );
}
