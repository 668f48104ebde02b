/**
 * A node under a flood of unticketed peers keeps nothing of them: after many refused admissions from
 * fresh identities its peer store holds only the peers it admitted and no admission is left pending;
 * tickets of clients the chain does not know wait for the mirror only up to a bounded number at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import {
  encryptionKeyFromWallet,
  GrantCache,
  issueTicket,
  NETWORK_SERVICE_TYPE,
  peerIdFromWallet,
  SessionRegistry,
  Wallet,
} from '@dibs/core';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { DibsHost } from '../src/p2p/host.ts';
import { createTicketAuthority } from '../src/p2p/ticket-authority.ts';
import { startHost, TestNetwork, waitFor, walletKey } from './helpers.ts';

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

  it('lets a bounded number of unknown-client tickets wait for the chain mirror; the rest are refused at once', async () => {
    const wallet = Wallet.fromPrivateKey(walletKey());
    const cache = new GrantCache();
    const deployment = { chainId: 31337, accessGrants: `0x${'11'.repeat(20)}` };
    const maxCatchUps = 3;
    const authority = createTicketAuthority({
      wallet,
      deployment,
      cache,
      sessions: new SessionRegistry({ cache }),
      networkServiceId: 1n,
      networkGrant: async () => ({ grantId: 1n, serviceId: 1n, expiresAt: 2n ** 40n }),
      // Long enough that a waiting verification is still waiting when the extra ones settle.
      catchUpMs: 4_000,
      maxCatchUps,
    });
    // Well-formed tickets for this node from clients no chain ever saw (UNKNOWN_CLIENT_KEY).
    const attempt = () => {
      const { ticket } = issueTicket({
        kind: 'network',
        grant: { grantId: 7n, serviceId: 1n, expiresAt: 2n ** 40n },
        chainId: deployment.chainId,
        contract: deployment.accessGrants,
        client: {
          address: Wallet.fromPrivateKey(walletKey()).address,
          encryptionPrivateKey: new Uint8Array(randomBytes(32)),
        },
        service: {
          serviceId: 1n,
          serviceType: NETWORK_SERVICE_TYPE,
          peerId: peerIdFromWallet(wallet).toMultihash().bytes,
          encryptionPublicKey: encryptionKeyFromWallet(wallet).publicKey,
        },
      });
      const remote = peerIdFromPrivateKey(privateKeyFromRaw(walletKey()));
      return authority.verify(
        remote,
        ticket,
        new Uint8Array(randomBytes(64)),
        new Uint8Array(randomBytes(32)),
      );
    };
    const settled: string[] = [];
    const track = (name: string, p: Promise<unknown>) =>
      p.then(
        () => settled.push(`${name}: admitted`),
        (err: { code?: string }) => settled.push(`${name}: ${err.code}`),
      );
    const waiting = Array.from({ length: maxCatchUps }, (_, i) => track(`waiting ${i}`, attempt()));
    assert.equal(authority.catchUpCount(), maxCatchUps);
    const extra = Array.from({ length: 5 }, (_, i) => track(`extra ${i}`, attempt()));
    await Promise.all(extra);
    assert.deepEqual(
      settled,
      Array.from({ length: 5 }, (_, i) => `extra ${i}: UNKNOWN_CLIENT_KEY`),
      'the extra tickets are refused before any waiting one ends',
    );
    assert.ok(authority.catchUpCount() <= maxCatchUps);
    await Promise.all(waiting);
    assert.equal(authority.catchUpCount(), 0);
    assert.equal(
      settled.filter((s) => s.startsWith('waiting') && s.endsWith('UNKNOWN_CLIENT_KEY')).length,
      maxCatchUps,
    );
    authority.close();
  });
});
