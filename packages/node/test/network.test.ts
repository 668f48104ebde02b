import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMISSION_PROTOCOL } from '../src/p2p/admission/constants.ts';
import type { DibsHost } from '../src/p2p/host.ts';
import { ECHO, echo, echoHandler, startHost, TestNetwork, waitFor } from './helpers.ts';

describe('five admitted nodes form one network', () => {
  const net = new TestNetwork();
  const hosts: DibsHost[] = [];

  before(async () => {
    for (let i = 0; i < 5; i++) hosts.push(await startHost(net, { relay: i === 0 }));
    const boot = hosts[0]!;
    for (const h of hosts.slice(1)) await h.connect(boot.multiaddrs()[0]!);
  });
  after(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('every node admits the bootstrap and the bootstrap admits every node', () => {
    const boot = hosts[0]!;
    for (const h of hosts.slice(1)) {
      assert.ok(h.admission.isAdmitted(boot.peerId));
      assert.ok(boot.admission.isAdmitted(h.peerId));
    }
  });

  it('gates every registered protocol except admission', () => {
    for (const h of hosts) {
      const protocols = h.libp2p.getProtocols().filter((p) => p !== ADMISSION_PROTOCOL);
      assert.ok(protocols.includes('/dibs/kad/1.0.0'));
      assert.deepEqual(h.admission.gatedProtocols(), [...protocols].sort());
    }
  });

  it('the DHT finds every node from every node', async () => {
    // The bootstrap hands peers over through the DHT; each node ends up with more than the bootstrap.
    for (const h of hosts) {
      assert.ok(
        await waitFor(() => (h.dht as unknown as { routingTable: { size: number } }).routingTable.size >= 1),
      );
    }
    for (const from of hosts) {
      for (const to of hosts) {
        if (from === to) continue;
        const info = await from.libp2p.peerRouting.findPeer(to.peerId, {
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(info.id.toString(), to.peerId.toString());
        assert.ok(info.multiaddrs.length > 0);
      }
    }
  });

  it('an admitted node reaches another through a gated protocol registered with host.handle', async () => {
    for (const h of hosts) await h.handle(ECHO, echoHandler);
    const a = hosts[1]!;
    const b = hosts[4]!;
    assert.ok(a.admission.gatedProtocols().includes(ECHO));
    const reply = await echo(a, b.peerId, 'hello');
    assert.equal(reply, 'hello');
    assert.ok(a.admission.isAdmitted(b.peerId));
    assert.ok(b.admission.isAdmitted(a.peerId));
  });
});
