/**
 * One DIBS node for the NAT test bed, run inside a network namespace. Reads its key, network ticket,
 * operator key and listen/relay options from the JSON file named by DIBS_NETNS_CONFIG (never argv),
 * deletes that file, starts the host and prints `{"ready":true,"peerId":…,"multiaddrs":[…]}`.
 * Then it answers JSON-line commands on stdin with one JSON line each on stdout (logs go to stderr).
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Connection, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { FramedStream } from '../../packages/node/src/p2p/frames.ts';
import { createDibsHost } from '../../packages/node/src/p2p/host.ts';
import { stderrLogger } from '../../packages/node/src/p2p/log.ts';
import { ticketAuthority } from './ticket.ts';

/** The request/response protocol the NAT test sends across the relay. */
export const NAT_PROBE = '/dibs/test-nat-probe/1.0';
const MAX_FRAME = 4096;
const OP_TIMEOUT_MS = 20_000;

interface FixtureConfig {
  key: string;
  ticket: string;
  operator: string;
  listen: string[];
  relay: boolean;
}

type Command =
  | { id: number; op: 'addrs' }
  | { id: number; op: 'connect'; addr: string }
  | { id: number; op: 'dial'; addr: string }
  | { id: number; op: 'request'; addr: string; text: string }
  | { id: number; op: 'connections' }
  | { id: number; op: 'admitted'; peer: string }
  | { id: number; op: 'stop' };

const configPath = process.env.DIBS_NETNS_CONFIG;
if (!configPath) throw new Error('DIBS_NETNS_CONFIG must name the fixture config file');
const config = JSON.parse(readFileSync(configPath, 'utf8')) as FixtureConfig;
unlinkSync(configPath);
const key = Buffer.from(config.key, 'hex');

const host = await createDibsHost({
  privateKey: key,
  authority: ticketAuthority(Buffer.from(config.operator, 'hex'), key, Buffer.from(config.ticket, 'hex')),
  listen: config.listen,
  relay: config.relay,
  pubsub: false,
  admissionTimeoutMs: 10_000,
  messageTimeoutMs: 5_000,
  logger: stderrLogger,
});

await host.handle(NAT_PROBE, async (stream: Stream, connection: Connection) => {
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
    stderrLogger.warn('probe failed', { error: (err as Error).message });
  }
});

function addrs(): string[] {
  return host.multiaddrs().map((a) => a.toString());
}

async function run(cmd: Command): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(OP_TIMEOUT_MS);
  switch (cmd.op) {
    case 'addrs':
      return { multiaddrs: addrs() };
    case 'connect':
      return { peer: (await host.connect(multiaddr(cmd.addr), OP_TIMEOUT_MS)).toString() };
    case 'dial': {
      const c = await host.libp2p.dial(multiaddr(cmd.addr), { signal: AbortSignal.timeout(5_000) });
      return { peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString() };
    }
    case 'request': {
      const stream = await host.libp2p.dialProtocol(multiaddr(cmd.addr), NAT_PROBE, { signal });
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
  const timer = setTimeout(() => process.exit(code), 5_000);
  timer.unref();
  await host.stop().catch(() => {});
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.stdin.on('end', () => void shutdown(0));

process.stdout.write(
  `${JSON.stringify({ ready: true, peerId: host.peerId.toString(), multiaddrs: addrs() })}\n`,
);

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
