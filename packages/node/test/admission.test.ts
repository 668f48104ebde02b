import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import type { Libp2p, Stream } from '@libp2p/interface';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { noise } from '@libp2p/noise';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { createLibp2p } from 'libp2p';
import type { DibsHost } from '../src/p2p/host.ts';
import { ECHO, echo, echoHandler, startHost, TestNetwork, waitFor, walletKey } from './helpers.ts';

type Host = Awaited<ReturnType<typeof startHost>>;
const HOP = '/libp2p/circuit/relay/0.2.0/hop';

/** A plain libp2p node that speaks DIBS's transports but never runs admission. */
async function rawNode(): Promise<Libp2p> {
  return createLibp2p({
    privateKey: privateKeyFromRaw(walletKey()),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: {
      identify: identify({ protocolPrefix: 'dibs' }),
      ping: ping({ protocolPrefix: 'dibs' }),
      dht: kadDHT({ protocol: '/dibs/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper }),
    },
  });
}

async function isReset(stream: Stream): Promise<boolean> {
  // Send a byte so a live handler would answer or wait; a gated stream is reset by the remote instead.
  try {
    stream.send(Uint8Array.of(0));
  } catch {
    return true;
  }
  return waitFor(
    () => stream.status === 'reset' || stream.status === 'aborted' || stream.status === 'closed',
    5_000,
  );
}

describe('admission', () => {
  const net = new TestNetwork();
  const hosts: DibsHost[] = [];
  const raws: Libp2p[] = [];
  let relay: Host;
  let target: Host;

  before(async () => {
    relay = await startHost(net, { relay: true });
    // the target listens through the relay: a reservation, made only once the relay admitted it
    target = await startHost(net, {
      listen: ['/ip4/127.0.0.1/tcp/0', `${relay.multiaddrs()[0]!.toString()}/p2p-circuit`],
    });
    hosts.push(relay, target);
    for (const h of hosts) await h.handle(ECHO, echoHandler);
  });
  after(async () => {
    await Promise.all([...hosts.map((h) => h.stop()), ...raws.map((r) => r.stop())]);
  });

  it('refuses a node whose ticket the network did not sign, and logs why', async () => {
    const rogueNet = new TestNetwork();
    const rogue = await startHost(rogueNet);
    hosts.push(rogue);
    await assert.rejects(rogue.connect(relay.multiaddrs()[0]!, 3_000), /admission/);
    assert.equal(relay.admission.isAdmitted(rogue.peerId), false);
    assert.ok(
      await waitFor(() => relay.libp2p.getConnections(rogue.peerId).length === 0),
      'the refused peer is disconnected',
    );
    const refusal = relay.logger.lines.find(
      (l) => l.msg === 'admission refused' && l.fields?.peer === rogue.peerId.toString(),
    );
    assert.ok(refusal, 'the refusal is logged with the peer');
    assert.match(String(refusal.fields?.reason), /not signed by the operator/);
  });

  it('resets every protocol a node opens before admission, keeps it out of the DHT and drops it', async () => {
    const raw = await rawNode();
    raws.push(raw);
    const conn = await raw.dial(relay.multiaddrs()[0]!);
    const protocols = ['/dibs/kad/1.0.0', '/dibs/ping/1.0.0', '/dibs/id/1.0.0', HOP, ECHO];
    for (const protocol of protocols) {
      const stream = await conn.newStream(protocol, { signal: AbortSignal.timeout(3_000) });
      assert.ok(await isReset(stream), `${protocol} stream was reset`);
    }
    const resets = relay.logger.lines.filter(
      (l) => l.msg === 'stream reset: peer not admitted' && l.fields?.peer === raw.peerId.toString(),
    );
    for (const protocol of protocols) {
      assert.ok(
        resets.some((l) => l.fields?.protocol === protocol),
        `the reset of ${protocol} is logged`,
      );
    }
    const table = (relay.dht as unknown as { routingTable: { find(p: unknown): Promise<unknown> } })
      .routingTable;
    assert.equal(await table.find(raw.peerId), undefined);
    assert.ok(
      await waitFor(() => relay.libp2p.getConnections(raw.peerId).length === 0, 8_000),
      'dropped after the admission timeout',
    );
    const drop = relay.logger.lines.find((l) => l.msg === 'closing connection: peer not admitted in time');
    assert.ok(drop);
  });

  it('an admitted control node opens the same protocol on the same host', async () => {
    const client = await startHost(net);
    hosts.push(client);
    await client.connect(relay.multiaddrs()[0]!);
    assert.equal(await echo(client, relay.peerId, 'ok'), 'ok');
  });

  it('relays admitted peers to each other, with admission over the relayed connection', async () => {
    const listening = await waitFor(
      () => target.multiaddrs().some((a) => a.toString().includes('/p2p-circuit')),
      10_000,
    );
    assert.ok(listening, 'the target holds a reservation on the relay');
    const client = await startHost(net);
    hosts.push(client);
    const relayed = target.multiaddrs().find((a) => a.toString().includes('/p2p-circuit'))!;
    await client.connect(relay.multiaddrs()[0]!);
    const reply = await echo(client, relayed, 'via relay');
    assert.equal(reply, 'via relay');
    assert.ok(target.admission.isAdmitted(client.peerId), 'the target admitted the client over the circuit');
  });

  it('refuses a relay reservation or relayed connection to a node that is not admitted', async () => {
    const rogue = await startHost(new TestNetwork());
    hosts.push(rogue);
    const relayed = target.multiaddrs().find((a) => a.toString().includes('/p2p-circuit'));
    assert.ok(relayed);
    await assert.rejects(rogue.libp2p.dial(relayed, { signal: AbortSignal.timeout(5_000) }));
    assert.equal(target.admission.isAdmitted(rogue.peerId), false);
    assert.equal(relay.admission.isAdmitted(rogue.peerId), false);
  });

  it('disconnects a node whose grant is revoked and keeps it out until it holds a valid ticket', async () => {
    const key = walletKey();
    const member = await startHost(net, { key });
    hosts.push(member);
    await member.connect(relay.multiaddrs()[0]!);
    assert.ok(relay.admission.isAdmitted(member.peerId));
    net.revoked.add(member.grantId);
    await relay.admission.revokeGrant(member.grantId);
    assert.equal(relay.admission.isAdmitted(member.peerId), false);
    assert.ok(await waitFor(() => relay.libp2p.getConnections(member.peerId).length === 0), 'disconnected');
    assert.ok(relay.admission.isBlocked(member.peerId));
    assert.equal(
      await relay.admission.gater().denyDialPeer?.(member.peerId),
      true,
      'the relay will not dial it',
    );
    // the same revoked ticket is refused on reconnect
    assert.ok(
      await waitFor(() => member.libp2p.getConnections(relay.peerId).length === 0),
      'the member sees it too',
    );
    await assert.rejects(member.connect(relay.multiaddrs()[0]!, 3_000));
    assert.equal(relay.admission.isAdmitted(member.peerId), false);
    await member.stop();
    // a new grant for the same wallet is admitted again
    const renewed = await startHost(net, { key });
    hosts.push(renewed);
    await renewed.connect(relay.multiaddrs()[0]!);
    assert.ok(relay.admission.isAdmitted(renewed.peerId));
    assert.equal(relay.admission.isBlocked(renewed.peerId), false);
  });

  it('ends admission when the ticket expires', async () => {
    const shortLived = await startHost(net, { lifetimeMs: 2_000 });
    hosts.push(shortLived);
    await shortLived.connect(relay.multiaddrs()[0]!);
    assert.ok(relay.admission.isAdmitted(shortLived.peerId));
    assert.ok(await waitFor(() => !relay.admission.isAdmitted(shortLived.peerId), 6_000));
    assert.ok(await waitFor(() => relay.libp2p.getConnections(shortLived.peerId).length === 0, 6_000));
  });
});
