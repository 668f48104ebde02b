import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMISSION_PROTOCOL } from '../src/p2p/admission/constants.ts';
import { addressFromPeerId } from '@dibs/core';
import { ROLE_SERVICE_HOST } from '../src/p2p/constants.ts';
import type { DibsHost } from '../src/p2p/host.ts';
import {
  findNodeRecord,
  nodeRecordKey,
  publishNodeRecord,
  signNodeRecord,
  verifyNodeRecord,
} from '../src/p2p/records.ts';
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
    // A node learns an admitted peer's listen addresses from identify, which each side runs by
    // itself after admission. Until then its peer store holds the peer without addresses, and
    // libp2p's findPeer answers from that store first: a "found" peer with no multiaddrs, while
    // connected. So: wait until the nodes identified the peers they joined with (others learn
    // addresses from them), and ask the DHT itself (useCache: false) — a dial made by an earlier
    // lookup in this loop leaves such an address-less entry behind.
    for (const h of hosts) {
      assert.ok(
        await waitFor(async () => {
          for (const c of h.libp2p.getConnections()) {
            if (!h.admission.isAdmitted(c.remotePeer)) continue;
            const known = await h.libp2p.peerStore.get(c.remotePeer).catch(() => undefined);
            if (!known || known.addresses.length === 0) return false;
          }
          return true;
        }, 30_000),
        'every node identified its admitted peers',
      );
    }
    for (const from of hosts) {
      for (const to of hosts) {
        if (from === to) continue;
        const info = await from.libp2p.peerRouting.findPeer(to.peerId, {
          signal: AbortSignal.timeout(10_000),
          useCache: false,
        });
        assert.equal(info.id.toString(), to.peerId.toString());
        assert.ok(
          info.multiaddrs.length > 0,
          `node ${hosts.indexOf(from)} found node ${hosts.indexOf(to)} with addresses`,
        );
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

  it('a signed node record is found by address from every node', async () => {
    const publisher = hosts[2]!;
    const published = await publishNodeRecord(publisher, { roles: ROLE_SERVICE_HOST, services: [7n] });
    assert.equal(published.address, addressFromPeerId(publisher.peerId).toLowerCase());
    for (const h of hosts) {
      const found = await findNodeRecord(h, published.address);
      assert.equal(found.peerId, publisher.peerId.toString());
      assert.deepEqual(found.services, [7n]);
      assert.ok(found.multiaddrs.length > 0);
    }
  });

  it('forged copies at the nearest nodes never win, nor does a stale copy', async () => {
    const publisher = hosts[4]!;
    const fresh = await publishNodeRecord(publisher, { roles: 0 });
    const key = nodeRecordKey(fresh.address);
    // Stored only where it is put: an aborted put writes the local datastore, then gives up.
    const holdOnly = async (h: DibsHost, value: Uint8Array) => {
      try {
        for await (const _ of h.dht.put(key, value, { signal: AbortSignal.abort() })) {
        }
      } catch {}
    };
    // Signed by another key under the publisher's address and PeerId, with a higher seq.
    for (const liar of [hosts[1]!, hosts[3]!]) {
      await holdOnly(
        liar,
        await signNodeRecord(liar, { ...fresh, seq: fresh.seq + 1000n, multiaddrs: ['/ip4/10.6.6.6/tcp/1'] }),
      );
    }
    // Genuine but older.
    await holdOnly(
      hosts[2]!,
      await signNodeRecord(publisher, { ...fresh, seq: fresh.seq - 1n, multiaddrs: ['/ip4/10.7.7.7/tcp/1'] }),
    );
    for (const h of hosts.slice(0, 4)) {
      const found = await findNodeRecord(h, fresh.address);
      assert.equal(found.seq, fresh.seq, `node ${hosts.indexOf(h)} got the latest record`);
      assert.deepEqual(found.multiaddrs, fresh.multiaddrs);
    }
  });

  it("a record under another node's address is rejected by the DHT", async () => {
    const liar = hosts[3]!;
    const victim = addressFromPeerId(hosts[1]!.peerId).toLowerCase();
    const now = Date.now();
    const forged = await signNodeRecord(liar, {
      address: victim,
      peerId: liar.peerId.toString(),
      multiaddrs: ['/ip4/10.0.0.1/tcp/1'],
      roles: 0,
      services: [],
      seq: BigInt(now),
      issuedAt: now,
      expiresAt: now + 60_000,
    });
    await assert.rejects(verifyNodeRecord(forged, nodeRecordKey(victim)), { code: 'INVALID_RECORD' });
    try {
      for await (const _ of liar.dht.put(nodeRecordKey(victim), forged, {
        signal: AbortSignal.timeout(10_000),
      })) {
      }
    } catch {} // the local validator may refuse it outright
    // no node stored it: the victim never published, so nothing is found under its address
    await assert.rejects(findNodeRecord(hosts[0]!, victim, 5_000), { code: 'RECORD_NOT_FOUND' });
  });
});
