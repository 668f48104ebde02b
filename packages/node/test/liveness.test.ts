import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { joinNetwork } from '../src/p2p/bootstrap.ts';
import type { DibsHost } from '../src/p2p/host.ts';
import { Liveness, median } from '../src/p2p/liveness.ts';
import { memoryLogger, startHost, TestNetwork, waitFor } from './helpers.ts';

describe('bootstrap and liveness', () => {
  const net = new TestNetwork();
  const hosts: DibsHost[] = [];
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('median of the kept samples', () => {
    assert.equal(median([5]), 5);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it('joins through config and a provider, skipping bad entries, and learns peers from the bootstrap', async () => {
    const boot = await startHost(net);
    const a = await startHost(net);
    const b = await startHost(net);
    hosts.push(boot, a, b);
    await a.connect(boot.multiaddrs()[0]!);
    const result = await joinNetwork(b, {
      peers: [boot.multiaddrs()[0]!.toString()],
      provider: async () => [
        '/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAmFHeBWFkeZWqvBr9SXRYu7mZTt4hE9oxs8w1JdkoejqWf',
      ],
      timeoutMs: 3_000,
    });
    assert.deepEqual(result.admitted.map(String), [boot.peerId.toString()]);
    assert.equal(result.failed.length, 1);
    assert.ok(result.routingTableSize >= 1);
    // the bootstrap handed over the other member through the DHT
    assert.ok(await waitFor(() => b.libp2p.peerStore.has(a.peerId)), 'b learned a from the bootstrap');
  });

  it('refuses to report a join when no bootstrap admits the node', async () => {
    const boot = await startHost(net);
    const rogue = await startHost(new TestNetwork());
    hosts.push(boot, rogue);
    await assert.rejects(
      joinNetwork(rogue, { peers: [boot.multiaddrs()[0]!.toString()], timeoutMs: 3_000 }),
      {
        code: 'ADMISSION_REFUSED',
      },
    );
  });

  it('measures RTT to neighbours and disconnects a silent one', async () => {
    const a = await startHost(net);
    const b = await startHost(net);
    hosts.push(a, b);
    await a.connect(b.multiaddrs()[0]!);
    const logger = memoryLogger();
    const live = new Liveness(a, { intervalMs: 100, silentAfterMs: 600, pingTimeoutMs: 300, logger });
    // a round can lose a ping to a concurrent DHT ping; a few rounds give two samples
    assert.ok(
      await waitFor(async () => {
        await live.round();
        return (live.neighbours()[0]?.samples.length ?? 0) >= 2;
      }),
    );
    const rtt = live.rtt(b.peerId);
    assert.ok(rtt !== undefined && rtt >= 0);
    // b stops answering pings: it is silent from a's point of view
    await b.libp2p.unhandle('/dibs/ping/1.0.0');
    live.start();
    assert.ok(await waitFor(() => a.libp2p.getConnections(b.peerId).length === 0, 10_000));
    await live.stop();
    assert.ok(logger.lines.some((l) => l.msg === 'closing connections to a silent peer'));
  });
});
