/**
 * bench/tunnel helper, run as a child process: a DIBS service-host node with its tunnel server; the
 * sink and echo services it forwards to run in a process of their own (targets.ts). Gets its settings
 * (incl. the wallet key) as the first IPC message, never from argv; answers
 * {ready: {peerId, multiaddrs, sinkPort, echoPort}}.
 */
import { fork } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { createChainClients, RegistryWriter } from '@dibs/chain';
import { encryptionKeyFromWallet, peerIdFromWallet, TicketVerifier, Wallet } from '@dibs/core';
import { openStore } from '@dibs/store';
import { createLogger } from '../../packages/node/src/daemon/log.ts';
import { startNetwork } from '../../packages/node/src/daemon/network.ts';
import { type HostedService, TUNNEL_PROTOCOL, TunnelServer } from '../../packages/node/src/tunnel/index.ts';

// A node's buffers live outside the JS heap; by default every ~64 MiB of them forces a full GC of
// the whole heap, which dominates a data path in a process with a big heap (docs/tunnel.md).
// `dibs` counts them in V8's global limit (packages/cli/src/v8-flags.ts), so the bench does too;
// BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT=0 measures with V8's default instead.
if (process.env.BENCH_TUNNEL_EXTERNAL_IN_GLOBAL_LIMIT !== '0') {
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}

interface Settings {
  rpcUrl: string;
  deployment: Record<string, unknown>;
  privateKeyHex: `0x${string}`;
  db: string;
  listen: string[];
}

const input = await new Promise<Settings>((resolve) =>
  process.once('message', (m: { settings: Settings }) => resolve(m.settings)),
);
const deployment = Object.fromEntries(
  Object.entries(input.deployment).map(([k, v]) => [
    k,
    typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
  ]),
) as never;
const wallet = Wallet.fromPrivateKey(input.privateKeyHex);
const clients = await createChainClients({ rpcUrl: input.rpcUrl, account: input.privateKeyHex });
const registry = new RegistryWriter(clients, deployment);
const store = openStore(input.db);
// The services run in a process of their own (targets.ts), as a real service would.
const far = fork(new URL('./targets.ts', import.meta.url), [], {
  stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  execArgv: [],
});
const { sinkPort, echoPort } = await new Promise<{ sinkPort: number; echoPort: number }>((resolve) =>
  far.once('message', (m: { sinkPort: number; echoPort: number }) => resolve(m)),
);
process.on('exit', () => far.kill());
const node = await startNetwork({
  chain: {
    clients,
    deployment,
    registry,
    supervisor: undefined,
    deploymentAction: 'configured',
    stop: async () => {},
  },
  store,
  wallet,
  log: createLogger({ console: null }),
  settings: { listen: input.listen },
});
const services = new Map<bigint, HostedService>();
await node.host.libp2p.unhandle(TUNNEL_PROTOCOL);
const server = await TunnelServer.start({
  host: node.host,
  verifier: new TicketVerifier({
    encryptionPrivateKey: encryptionKeyFromWallet(wallet).privateKey,
    peerId: peerIdFromWallet(wallet).toMultihash().bytes,
    chainId: (deployment as { chainId: number }).chainId,
    contract: (deployment as { accessGrants: string }).accessGrants,
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
  if ((msg as { rss?: boolean }).rss) {
    globalThis.gc?.();
    process.send?.({ memory: process.memoryUsage() });
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
    targetsPid: far.pid,
    rss: process.memoryUsage().rss,
  },
});
// A kill from the bench ends the process through exit, so --cpu-prof and exit hooks still run.
process.on('SIGTERM', () => process.exit(0));
