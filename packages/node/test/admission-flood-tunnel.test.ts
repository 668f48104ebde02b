/**
 * A service host under a flood keeps serving: while unticketed libp2p peers dial it again and again
 * and raw sockets spew random bytes at its libp2p and data-channel listeners, an admitted client's
 * tunnels over the data channel carry every byte intact; every flood attempt is refused (most before
 * any cryptography); afterwards nothing of the flood is left (peer store, pending admissions,
 * connections, tracked addresses) and the heap is back near where it was.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Policy } from '@dibs/contracts';
import { multiaddr } from '@multiformats/multiaddr';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import { INBOUND_TRACKED_ADDRESSES } from '../src/p2p/admission/constants.ts';
import { P2pError } from '../src/p2p/errors.ts';
import type { DibsHost } from '../src/p2p/host.ts';
import { openTunnel, TUNNEL_PROTOCOL, TunnelServer } from '../src/tunnel/index.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { memoryLogger, startHost, TestNetwork, waitFor } from './helpers.ts';

/** Flood attempts at least (and at most), libp2p attackers dialing at once, raw spewers per listener. */
const MIN_ATTEMPTS = 300;
const MAX_ATTEMPTS = 3_000;
const ATTACKERS = 8;
const SPEWERS = 2;
/** Tunnels opened during the flood, and bytes through each. */
const TUNNELS = 3;
const BYTES = 8 * 1024 * 1024;
const MiB = 1024 * 1024;

/** The heap's live size after full collections (V8 exposes gc only when asked to). */
function liveHeap(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('a service host under an admission flood', () => {
  let bed: ChainBed;
  let hostParty: ChainParty;
  let hostNode: NetworkRuntime;
  let clientParty: ChainParty;
  let clientNode: NetworkRuntime;
  let server: TunnelServer;
  let hashTarget: Server;
  const rogues: DibsHost[] = [];

  before(async () => {
    bed = await startChainBed('dibs-flood-tunnel-');
    // The client comes over IPv6 loopback, the flood over IPv4: how the node tells them apart here.
    // Not the operator's node: that one is a bootstrap node on chain, which the client would dial at
    // its IPv4 address by itself.
    hostParty = await bed.party('host');
    hostNode = await bed.startNode(hostParty, { listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'] });
    clientParty = await bed.party('client');
    clientNode = await bed.startNode(clientParty, { listen: ['/ip6/::1/tcp/0'] });
    hashTarget = createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256');
      s.on('error', () => {});
      s.on('data', (c) => h.update(c));
      s.on('end', () => s.end(h.digest('hex')));
    });
    await new Promise<void>((r) => hashTarget.listen(0, '127.0.0.1', r));
    const port = (hashTarget.address() as { port: number }).port;
    const serviceId = await bed.operator.registry.publishService({
      serviceType: 'tcp',
      name: 'hash',
      grantDuration: 3600n,
      host: hostParty.wallet.address,
      policy: Policy.Public,
    });
    // This test's tunnel server in place of the node's own (its services are the test's).
    await hostNode.host.libp2p.unhandle(TUNNEL_PROTOCOL);
    server = await TunnelServer.start({
      host: hostNode.host,
      verifier: bed.verifier(hostParty, hostNode),
      sessions: hostNode.sessions,
      lookup: (id) =>
        id === serviceId ? { serviceId, serviceType: 'tcp', target: { host: '127.0.0.1', port } } : undefined,
      catchUp: async () => {
        await hostNode.mirror.syncOnce();
      },
      logger: memoryLogger(),
    });
    const access = bed.access(clientParty);
    ticket = await access.ticket((await access.request(serviceId)).grantId);
  });
  let ticket: Awaited<ReturnType<ReturnType<ChainBed['access']>['ticket']>>;

  after(async () => {
    await Promise.all(rogues.map((r) => r.stop().catch(() => {})));
    await server?.stop();
    hashTarget?.close();
    await bed?.stop();
  });

  it("keeps carrying an admitted client's tunnels and keeps nothing of the flood", async (t) => {
    const host = hostNode.host;
    const addrs = host.multiaddrs().map(String);
    const legit = multiaddr(addrs.find((a) => a.startsWith('/ip6/::1/tcp/'))!);
    const floodTarget = multiaddr(addrs.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))!);
    const libp2pPort = Number(/\/tcp\/(\d+)/.exec(floodTarget.toString())![1]);
    const dataPort = server.dataAddress()?.port;
    assert.ok(dataPort, 'the tunnel server has a data channel');

    /** One tunnel: BYTES of random data to the hash service; its digest must come back. */
    const tunnel = async (): Promise<string> => {
      const t = await openTunnel({ host: clientNode.host, peer: legit, ticket });
      try {
        const data = randomBytes(BYTES);
        const reply = new Promise<string>((resolve, reject) => {
          const chunks: Buffer[] = [];
          t.socket.on('data', (c: Buffer) => chunks.push(c));
          t.socket.once('end', () => resolve(Buffer.concat(chunks).toString()));
          t.socket.once('error', reject);
        });
        t.socket.end(data);
        assert.equal(
          await reply,
          createHash('sha256').update(data).digest('hex'),
          'every byte arrived intact',
        );
        return t.channel;
      } finally {
        t.close();
      }
    };
    assert.equal(await tunnel(), 'data', 'before the flood');
    const heapBefore = liveHeap();

    const rogueNet = new TestNetwork();
    for (let i = 0; i < ATTACKERS; i++) rogues.push(await startHost(rogueNet, { listen: [] }));
    const counts = { attempts: 0, refusedAtAccept: 0, refusedAtAdmission: 0, admitted: 0, whileTunnels: 0 };
    let tunnelsRunning = true;
    const attacker = async (rogue: DibsHost) => {
      while ((tunnelsRunning || counts.attempts < MIN_ATTEMPTS) && counts.attempts < MAX_ATTEMPTS) {
        counts.attempts++;
        if (tunnelsRunning) counts.whileTunnels++;
        try {
          await rogue.connect(floodTarget, 3_000);
          counts.admitted++;
        } catch (err) {
          if (err instanceof P2pError && err.code === 'ADMISSION_REFUSED') counts.refusedAtAdmission++;
          else counts.refusedAtAccept++;
        }
      }
    };
    let spewing = true;
    let spewConnections = 0;
    const spewer = async (port: number) => {
      for (let i = 0; spewing && i < 100_000; i++) {
        spewConnections++;
        await new Promise<void>((resolve) => {
          const s: Socket = connect({ host: '127.0.0.1', port });
          s.on('error', () => {});
          s.on('close', () => resolve());
          let writes = 0;
          const pump = () => {
            if (s.destroyed || !spewing || writes++ >= 64) return void s.destroy();
            if (s.write(randomBytes(4096))) setImmediate(pump);
            else s.once('drain', pump);
          };
          s.on('connect', pump);
        });
      }
    };
    const attackers = Promise.all(rogues.map(attacker));
    const spewers = Promise.all(
      Array.from({ length: SPEWERS }, () => [spewer(libp2pPort), spewer(dataPort)]).flat(),
    );
    const channels: string[] = [];
    try {
      for (let i = 0; i < TUNNELS; i++) channels.push(await tunnel());
    } finally {
      tunnelsRunning = false;
    }
    const attacked = counts.whileTunnels;
    await attackers;
    spewing = false;
    await spewers;
    await Promise.all(rogues.splice(0).map((r) => r.stop()));

    t.diagnostic(`flood: ${JSON.stringify({ ...counts, spewConnections })}`);
    assert.deepEqual(channels, Array(TUNNELS).fill('data'), 'the data channel kept taking the client');
    assert.ok(attacked > 0, 'the flood ran while the tunnels did');
    assert.equal(counts.admitted, 0, 'no flood peer was admitted');
    assert.equal(counts.refusedAtAccept + counts.refusedAtAdmission, counts.attempts);
    assert.ok(counts.refusedAtAccept > 0, `refused before any cryptography: ${JSON.stringify(counts)}`);
    assert.ok(spewConnections > 0);

    // Nothing of the flood is kept: only the client is admitted, in the peer store and connected.
    const clientId = clientNode.host.peerId;
    const onlyClient = async () =>
      (await host.libp2p.peerStore.all()).every((p) => p.id.equals(clientId)) &&
      host.libp2p.getConnections().every((c) => c.remotePeer.equals(clientId)) &&
      host.admission.pendingCount() === 0;
    assert.ok(
      await waitFor(onlyClient, 15_000),
      `after the flood: ${(await host.libp2p.peerStore.all()).length} peers in the store, ${host.libp2p.getConnections().length} connections, ${host.admission.pendingCount()} pending`,
    );
    assert.deepEqual(
      host.admission.admittedPeers().map((p) => p.peerId.toString()),
      [clientId.toString()],
    );
    assert.ok(host.admission.inboundTrackedAddresses() <= INBOUND_TRACKED_ADDRESSES);
    assert.equal(await tunnel(), 'data', 'after the flood');
    const growth = (liveHeap() - heapBefore) / MiB;
    assert.ok(growth < 32, `live heap grew ${growth.toFixed(1)} MiB over the flood`);
  });
});
