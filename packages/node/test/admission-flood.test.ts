/**
 * A node under a flood of unticketed peers keeps nothing of them: after many refused admissions from
 * fresh identities its peer store holds only the peers it admitted and no admission is left pending.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DibsHost } from '../src/p2p/host.ts';
import { startHost, TestNetwork, waitFor } from './helpers.ts';

/** Fresh identities that dial in and are refused (their tickets come from another network). */
const ROGUES = 24;

describe('admission flood', () => {
  const hosts: DibsHost[] = [];
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('forgets every refused peer: the peer store stays bounded and nothing stays pending', async () => {
    const net = new TestNetwork();
    const target = await startHost(net);
    const friend = await startHost(net);
    hosts.push(target, friend);
    await friend.connect(target.multiaddrs()[0]!, 10_000);
    const rogueNet = new TestNetwork();
    for (let i = 0; i < ROGUES; i++) {
      const rogue = await startHost(rogueNet);
      try {
        await assert.rejects(rogue.connect(target.multiaddrs()[0]!, 5_000), /admission/);
      } finally {
        await rogue.stop();
      }
    }
    const admittedOnly = async () =>
      (await target.libp2p.peerStore.all()).every((p) => p.id.equals(friend.peerId)) &&
      target.admission.pendingCount() === 0;
    assert.ok(
      await waitFor(admittedOnly, 15_000),
      `peer store after ${ROGUES} refused peers: ${(await target.libp2p.peerStore.all()).length} entries, ${target.admission.pendingCount()} pending`,
    );
    assert.ok(await target.libp2p.peerStore.has(friend.peerId), 'the admitted peer is kept');
  });
});
