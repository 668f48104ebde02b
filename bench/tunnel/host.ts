/**
 * bench/tunnel helper, run as a child process: a DIBS service-host node with its tunnel server; the
 * sink and echo services it forwards to run in a process of their own (targets.ts). Gets its settings
 * (incl. the wallet key) as the first IPC message, never from argv; answers
 * {ready: {peerId, multiaddrs, sinkPort, echoPort}}. {busyPoll: µs} sets the busy-polling window;
 * {pollScore: true} answers {pollScore} (busy-poll.ts).
 */
import { fork } from 'node:child_process';
import { writeHeapSnapshot } from 'node:v8';
import { encryptionKeyFromWallet, peerIdFromWallet, TicketVerifier } from '@dibs/core';
import {
  type HostedService,
  busyPollScore,
  setBusyPollWindow,
  TUNNEL_PROTOCOL,
  TunnelServer,
} from '../../packages/node/src/tunnel/index.ts';
import { settledMemory } from './memory.ts';
import { startBenchNode } from './node.ts';

const { node, wallet, deployment } = await startBenchNode();
// The services run in a process of their own (targets.ts), as a real service would.
const far = fork(new URL('./targets.ts', import.meta.url), [], {
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  execArgv: [],
});
const { sinkPort, echoPort } = await new Promise<{ sinkPort: number; echoPort: number }>((resolve) =>
  far.once('message', (m: { sinkPort: number; echoPort: number }) => resolve(m)),
);
process.on('exit', () => far.kill());
const services = new Map<bigint, HostedService>();
await node.host.libp2p.unhandle(TUNNEL_PROTOCOL);
const server = await TunnelServer.start({
  host: node.host,
  verifier: new TicketVerifier({
    encryptionPrivateKey: encryptionKeyFromWallet(wallet).privateKey,
    peerId: peerIdFromWallet(wallet).toMultihash().bytes,
    chainId: deployment.chainId,
    contract: deployment.accessGrants,
    cache: node.cache,
  }),
  sessions: node.sessions,
  lookup: (id) => services.get(id),
  catchUp: async () => {
    await node.mirror.syncOnce();
  },
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
// The parent names the services to serve, over IPC.
process.on('message', (msg: { serve?: { id: string; port: 'sink' | 'echo' } }) => {
  if (msg.serve) {
    const id = BigInt(msg.serve.id);
    services.set(id, {
      serviceId: id,
      serviceType: 'tcp',
      target: {
        host: '127.0.0.1',
        port: msg.serve.port === 'sink' ? sinkPort : echoPort,
      },
    });
    process.send?.({ served: msg.serve.id });
  }
  const busyPoll = (msg as { busyPoll?: number }).busyPoll;
  if (busyPoll !== undefined) {
    setBusyPollWindow(busyPoll);
    process.send?.({ busyPoll });
  }
  if ((msg as { pollScore?: boolean }).pollScore) process.send?.({ pollScore: busyPollScore() });
  if ((msg as { rss?: boolean }).rss) void settledMemory().then((memory) => process.send?.({ memory }));
  const snapshot = (msg as { heapSnapshot?: string }).heapSnapshot;
  if (snapshot) process.send?.({ heapSnapshot: writeHeapSnapshot(snapshot) });
  // A breakdown without collecting first (bench/admission-flood samples it during the flood).
  if ((msg as { breakdown?: boolean }).breakdown) {
    void node.host.libp2p.peerStore.all().then((peers) =>
      process.send?.({
        breakdown: {
          ...process.memoryUsage(),
          peerStore: peers.length,
          connections: node.host.libp2p.getConnections().length,
        },
      }),
    );
  }
  if ((msg as { stop?: boolean }).stop) {
    void server
      .stop()
      .then(() => node.stop())
      .then(() => process.exit(0));
  }
});
process.send?.({
  ready: {
    peerId: node.host.peerId.toString(),
    multiaddrs: node.host.multiaddrs().map(String),
    sinkPort,
    echoPort,
    dataPort: server.dataAddress()?.port ?? null,
    targetsPid: far.pid,
    rss: process.memoryUsage().rss,
  },
});
