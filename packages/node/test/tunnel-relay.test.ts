import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Policy } from '@dibs/contracts';
import { multiaddr } from '@multiformats/multiaddr';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import {
  type HostedService,
  openTunnel,
  RELAY_MAGIC,
  RELAY_TOKEN_BYTES,
  TUNNEL_PROTOCOL,
  TUNNEL_RELAY_PROTOCOL,
  TUNNEL_VERSION,
  TunnelMessageType,
  TunnelRelay,
  TunnelServer,
} from '../src/tunnel/index.ts';
import { readControl, writeControl } from '../src/tunnel/control.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { memoryLogger, readAll, waitFor } from './helpers.ts';

/** Resolves once the peer ended or closed `socket`; true when it sent nothing before that. */
function closedSilently(socket: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    let got = 0;
    socket.on('data', (c: Buffer) => {
      got += c.length;
    });
    socket.on('error', () => {});
    socket.once('end', () => resolve(got === 0));
    socket.once('close', () => resolve(got === 0));
  });
}

describe('relayed data channel: host reachable only through a relay', () => {
  let bed: ChainBed;
  let relayNode: NetworkRuntime;
  let hostParty: ChainParty;
  let hostNode: NetworkRuntime;
  let clientParty: ChainParty;
  let clientNode: NetworkRuntime;
  let relay: TunnelRelay;
  let server: TunnelServer;
  let hashServer: Server;
  let hashService: bigint;
  let circuit: ReturnType<typeof multiaddr>;
  const services = new Map<bigint, HostedService>();
  const relayLog = memoryLogger();

  before(async () => {
    bed = await startChainBed('dibs-tunnel-relay-');
    // This test runs the relay side itself, to read its counters and log.
    relayNode = await bed.startNode(bed.operator, { tunnelRelay: false });
    relay = await TunnelRelay.start({ host: relayNode.host, logger: relayLog });
    const relayAddr = relayNode.host
      .multiaddrs()
      .find((a) => a.toString().includes('/tcp/') && !a.toString().includes('/ws'))!
      .toString();
    hostParty = await bed.party('host');
    // No address of its own: every connection to the host runs through the relay.
    hostNode = await bed.startNode(hostParty, { listen: [`${relayAddr}/p2p-circuit`] });
    clientParty = await bed.party('client');
    clientNode = await bed.startNode(clientParty);
    hashServer = createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256');
      s.on('data', (c) => h.update(c));
      s.on('end', () => s.end(h.digest('hex')));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => hashServer.listen(0, '127.0.0.1', r));
    hashService = await bed.operator.registry.publishService({
      serviceType: 'tcp',
      name: 'hash',
      grantDuration: 3600n,
      host: hostParty.wallet.address,
      policy: Policy.Public,
    });
    services.set(hashService, {
      serviceId: hashService,
      serviceType: 'tcp',
      target: { host: '127.0.0.1', port: (hashServer.address() as { port: number }).port },
    });
    await hostNode.host.libp2p.unhandle(TUNNEL_PROTOCOL);
    server = await TunnelServer.start({
      host: hostNode.host,
      verifier: bed.verifier(hostParty, hostNode),
      sessions: hostNode.sessions,
      lookup: (id) => services.get(id),
      catchUp: async () => {
        await hostNode.mirror.syncOnce();
      },
      logger: memoryLogger(),
    });
    circuit = multiaddr(`${relayAddr}/p2p-circuit/p2p/${hostNode.host.peerId}`);
    // The host's reservation may still be under way: retry, bounded.
    assert.ok(
      await waitFor(async () => {
        try {
          await clientNode.host.connect(circuit, 5_000);
          return true;
        } catch {
          return false;
        }
      }, 30_000),
      'the host is reachable through the relay',
    );
  });

  after(async () => {
    await server?.stop();
    await relay?.stop();
    hashServer?.close();
    await bed?.stop();
  });

  async function ticket() {
    const access = bed.access(clientParty);
    const held = await access.request(hashService);
    return access.ticket(held.grantId);
  }

  test('16 MiB cross the relay on the data channel, intact (sha256), with no direct connection', async () => {
    const tunnel = await openTunnel({ host: clientNode.host, peer: circuit, ticket: await ticket() });
    const conns = clientNode.host.libp2p.getConnections(hostNode.host.peerId);
    assert.ok(conns.length > 0);
    for (const c of conns) assert.match(c.remoteAddr.toString(), /\/p2p-circuit/, 'relayed, not direct');
    assert.equal(tunnel.path, 'relayed');
    assert.equal(tunnel.channel, 'data');
    assert.ok(await waitFor(() => relay.activeSplices === 1), 'the relay joined the two sides');
    assert.equal(relay.openPairs, 0, 'the pairing was used up');
    const expected = createHash('sha256');
    const reply = readAll(tunnel.socket);
    for (let i = 0; i < 16; i++) {
      const block = randomBytes(1 << 20);
      expected.update(block);
      if (!tunnel.socket.write(block)) await new Promise((r) => tunnel.socket.once('drain', r));
    }
    tunnel.socket.end();
    assert.equal((await reply).toString(), expected.digest('hex'));
    assert.ok(await waitFor(() => relay.activeSplices === 0 && server.sessions().length === 0));
  });

  test('a pairing joins two raw sockets and forwards bytes unchanged; each token works once', async () => {
    // The client node is admitted to the relay, so it may ask for a pairing itself.
    const stream = await clientNode.host.libp2p.dialProtocol(relayNode.host.peerId, TUNNEL_RELAY_PROTOCOL, {
      signal: AbortSignal.timeout(5_000),
    });
    await writeControl(stream, { type: TunnelMessageType.PAIR_REQUEST }, 5_000);
    const pair = await readControl(stream, 5_000, 'pairing');
    assert.equal(pair.type, TunnelMessageType.PAIR);
    if (pair.type !== TunnelMessageType.PAIR) return;
    assert.equal(pair.udp, undefined, 'no datagram relay unless asked for');
    assert.equal(relay.openPairs, 1);
    const side = async (token: Uint8Array, first: Buffer) => {
      const s = connect({ host: '127.0.0.1', port: pair.port, allowHalfOpen: true });
      await new Promise((r) => s.once('connect', r));
      s.write(Buffer.concat([RELAY_MAGIC, Buffer.of(TUNNEL_VERSION), token, first]));
      return s;
    };
    const a = await side(pair.hostToken, Buffer.from('from a, sent before b arrived'));
    const aGot = readAll(a);
    assert.ok(await waitFor(() => relay.waiting === 1), 'the first side waits at the relay');
    // The same token again is refused: it was used by the socket parked above.
    const again = await side(pair.hostToken, Buffer.alloc(0));
    assert.equal(await closedSilently(again), true, 'reused token refused');
    const b = await side(pair.clientToken, Buffer.from('from b'));
    const bGot = readAll(b);
    const big = randomBytes(3 << 20);
    a.end(big);
    b.end('bye');
    assert.deepEqual(await bGot, Buffer.concat([Buffer.from('from a, sent before b arrived'), big]));
    assert.equal((await aGot).toString(), 'from bbye');
    assert.equal(relay.openPairs, 0);
    assert.ok(await waitFor(() => relay.activeSplices === 0));
  });

  test('a datagram relay forwards UDP between the two rendezvous IPs only, and closes with the channel', async () => {
    const stream = await clientNode.host.libp2p.dialProtocol(relayNode.host.peerId, TUNNEL_RELAY_PROTOCOL, {
      signal: AbortSignal.timeout(5_000),
    });
    await writeControl(stream, { type: TunnelMessageType.PAIR_REQUEST, datagrams: true }, 5_000);
    const pair = await readControl(stream, 5_000, 'pairing');
    assert.ok(pair.type === TunnelMessageType.PAIR && pair.udp, JSON.stringify(pair));
    if (pair.type !== TunnelMessageType.PAIR || !pair.udp) return;
    assert.equal(relay.datagramPairs, 1);
    const udp = pair.udp;
    // Each side meets at the rendezvous from an IP of its own (all loopback): 127.0.0.1 and 127.0.0.2.
    const side = async (token: Uint8Array, localAddress: string) => {
      const s = connect({ host: '127.0.0.1', port: pair.port, localAddress, allowHalfOpen: true });
      await new Promise((r) => s.once('connect', r));
      s.write(Buffer.concat([RELAY_MAGIC, Buffer.of(TUNNEL_VERSION), token]));
      s.on('error', () => {});
      return s;
    };
    const sockets: UdpSocket[] = [];
    const udpAt = async (address: string) => {
      const u = createSocket('udp4');
      sockets.push(u);
      await new Promise<void>((r) => u.bind(0, address, r));
      const got: string[] = [];
      u.on('message', (m) => got.push(m.toString()));
      return {
        u,
        got,
        send: (port: number, text: string) => u.send(Buffer.from(text.padEnd(40, '.')), port, '127.0.0.1'),
      };
    };
    try {
      const hostUdp = await udpAt('127.0.0.1');
      const clientUdp = await udpAt('127.0.0.2');
      const intruder = await udpAt('127.0.0.3');
      const h = await side(pair.hostToken, '127.0.0.1');
      assert.ok(await waitFor(() => relay.waiting === 1));
      // The host is heard before the client: its first datagram waits at the relay.
      hostUdp.send(udp.host, 'host first');
      await new Promise((r) => setTimeout(r, 100));
      const c = await side(pair.clientToken, '127.0.0.2');
      assert.ok(await waitFor(() => relay.activeSplices === 1));
      // Nobody else is heard: not on either port, not before or after the sides are known.
      intruder.send(udp.client, 'intruder to client port');
      intruder.send(udp.host, 'intruder to host port');
      // Too short to be a WireGuard message: dropped.
      clientUdp.u.send(Buffer.from('short'), udp.client, '127.0.0.1');
      // The client's first datagram makes the relay know where it is: the host's held datagram goes
      // there, and this one does not (two crossing WireGuard initiations would both be lost).
      clientUdp.send(udp.client, 'client 1');
      assert.ok(await waitFor(() => clientUdp.got.length === 1), 'the held datagram delivered');
      assert.ok(clientUdp.got[0]!.startsWith('host first'));
      for (let i = 0; i < 20; i++) {
        hostUdp.send(udp.host, `h${i}`);
        clientUdp.send(udp.client, `c${i}`);
      }
      assert.ok(await waitFor(() => clientUdp.got.length === 21 && hostUdp.got.length === 20));
      assert.deepEqual(
        hostUdp.got.map((m) => m.replace(/\.+$/, '')),
        Array.from({ length: 20 }, (_, i) => `c${i}`),
      );
      assert.deepEqual(intruder.got, []);
      assert.ok(![...clientUdp.got, ...hostUdp.got].some((m) => m.startsWith('intruder') || m === 'short'));
      // The channel ends: the datagram relay with it.
      h.destroy();
      c.destroy();
      assert.ok(await waitFor(() => relay.datagramPairs === 0 && relay.activeSplices === 0));
      hostUdp.send(udp.host, 'after the end');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(clientUdp.got.length, 21);
      assert.equal(hostUdp.got.length, 20);
    } finally {
      for (const u of sockets) u.close();
    }
  });

  test('an unjoined datagram relay is closed when its pairing expires', async () => {
    const stream = await clientNode.host.libp2p.dialProtocol(relayNode.host.peerId, TUNNEL_RELAY_PROTOCOL, {
      signal: AbortSignal.timeout(5_000),
    });
    await writeControl(stream, { type: TunnelMessageType.PAIR_REQUEST, datagrams: true }, 5_000);
    const pair = await readControl(stream, 5_000, 'pairing');
    assert.ok(pair.type === TunnelMessageType.PAIR && pair.udp);
    assert.equal(relay.datagramPairs, 1);
    // RELAY_PAIR_TIMEOUT_MS is 5 s.
    assert.ok(await waitFor(() => relay.datagramPairs === 0 && relay.openPairs === 0, 10_000));
  });

  test('a wrong or malformed token at the rendezvous is refused without a byte', async () => {
    const at = relay.address()!;
    const dial = async (preamble: Buffer) => {
      const s = connect({ host: '127.0.0.1', port: at.port });
      await new Promise((r) => s.once('connect', r));
      const done = closedSilently(s);
      s.write(preamble);
      return done;
    };
    const before = relayLog.lines.length;
    const wrong = Buffer.concat([RELAY_MAGIC, Buffer.of(TUNNEL_VERSION), randomBytes(RELAY_TOKEN_BYTES)]);
    assert.equal(await dial(wrong), true, 'unknown token: closed, nothing sent');
    const badMagic = Buffer.concat([Buffer.from('XXXX'), Buffer.of(TUNNEL_VERSION), randomBytes(16)]);
    assert.equal(await dial(badMagic), true, 'bad magic: closed, nothing sent');
    const reasons = relayLog.lines.slice(before).map((l) => String(l.fields?.reason));
    assert.ok(reasons.includes('unknown, used or expired token'), reasons.join('; '));
    assert.ok(reasons.includes('bad preamble'), reasons.join('; '));
    // A live relayed tunnel is not disturbed by the refusals.
    const tunnel = await openTunnel({ host: clientNode.host, peer: circuit, ticket: await ticket() });
    assert.equal(tunnel.channel, 'data');
    const reply = readAll(tunnel.socket);
    tunnel.socket.end('still fine');
    assert.equal((await reply).toString(), createHash('sha256').update('still fine').digest('hex'));
  });
});
