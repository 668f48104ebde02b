/**
 * Admission outlives single tickets: admitted peers re-present fresh network tickets (real ones, on
 * anvil) before the current ones end, in both directions, on the connection they already have. A
 * node that cannot make its own credential resets the exchange at once instead of stalling the peer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PeerId } from '@libp2p/interface';
import type { AdmissionAuthority } from '../src/p2p/admission/authority.ts';
import { renewDelay } from '../src/p2p/admission/controller.ts';
import { VerdictCode } from '../src/p2p/admission/messages.ts';
import {
  ECHO,
  echo,
  echoHandler,
  memoryLogger,
  startHost,
  TestNetwork,
  waitFor,
  walletKey,
} from './helpers.ts';
import { TestChain, type TicketNode } from './netns/chain-party.ts';

/** Short enough that several renewals happen within the test, long enough for a loaded 2-core machine. */
const TICKET_LIFETIME_MS = 4_000;

describe('admission renewal with real network tickets', () => {
  const chain = new TestChain();
  let a: TicketNode;
  let b: TicketNode;
  const expiries = { aOfB: new Set<number>(), bOfA: new Set<number>() };

  before(async () => {
    await chain.start();
    a = await chain.node(await chain.party('a'), {
      ticketLifetimeMs: TICKET_LIFETIME_MS,
      logger: memoryLogger(),
    });
    b = await chain.node(await chain.party('b'), {
      ticketLifetimeMs: TICKET_LIFETIME_MS,
      logger: memoryLogger(),
    });
    await a.host.handle(ECHO, echoHandler);
  });
  after(() => chain.stop());

  const expiryOf = (by: TicketNode, peer: PeerId) =>
    by.host.admission.admittedPeers().find((p) => p.peerId.equals(peer))?.expiresAt;

  it('two nodes stay admitted on one connection across several ticket lifetimes, both ways', async () => {
    await b.host.connect(a.host.multiaddrs()[0]!, 15_000);
    const [connection] = b.host.libp2p.getConnections(a.host.peerId);
    assert.ok(connection);
    const first = { aOfB: expiryOf(a, b.host.peerId)!, bOfA: expiryOf(b, a.host.peerId)! };
    assert.ok(first.aOfB <= Date.now() + TICKET_LIFETIME_MS, 'the tickets are as short as asked');
    // Three renewals each way take the pair well past the first tickets' end.
    const renewed = await waitFor(() => {
      const ab = expiryOf(a, b.host.peerId);
      const ba = expiryOf(b, a.host.peerId);
      if (ab !== undefined) expiries.aOfB.add(ab);
      if (ba !== undefined) expiries.bOfA.add(ba);
      return expiries.aOfB.size >= 4 && expiries.bOfA.size >= 4;
    }, 60_000);
    assert.ok(renewed, `renewals seen: ${JSON.stringify({ a: expiries.aOfB.size, b: expiries.bOfA.size })}`);
    assert.ok(Date.now() > first.aOfB && Date.now() > first.bOfA, 'the first tickets have ended by now');
    assert.ok(a.host.admission.isAdmitted(b.host.peerId) && b.host.admission.isAdmitted(a.host.peerId));
    assert.ok(a.host.admission.isAdmittedBy(b.host.peerId) && b.host.admission.isAdmittedBy(a.host.peerId));
    assert.equal(connection.status, 'open', 'the original connection was never dropped');
    assert.equal(await echo(b.host, a.host.peerId, 'still admitted'), 'still admitted');
    // Each side verified a ticket issued for it every time: one live session per peer, not a pile.
    assert.equal(a.authority.sessionCount(), 1);
    assert.equal(b.authority.sessionCount(), 1);
  });

  it('renewal is due ahead of expiry: two thirds into a short ticket, minutes ahead of a long one', () => {
    assert.equal(renewDelay(3_000), 2_000);
    assert.equal(renewDelay(24 * 3_600_000), 24 * 3_600_000 - 5 * 60_000);
    assert.equal(renewDelay(100), undefined, 'too little left to try');
  });
});

/** Wraps `inner`; while `failing.on`, credentialFor throws as a node without a usable grant does. */
function breakable(inner: AdmissionAuthority, failing: { on: boolean }): AdmissionAuthority {
  return {
    credentialFor: (peer, challenge) =>
      failing.on ? Promise.reject(new Error('no network grant held')) : inner.credentialFor(peer, challenge),
    verify: (peer, ticket, auth, challenge) => inner.verify(peer, ticket, auth, challenge),
  };
}

describe('a node that cannot present its own ticket', () => {
  const net = new TestNetwork();
  const failing = { dialer: { on: false }, listener: { on: false } };
  let listener: Awaited<ReturnType<typeof startHost>>;
  let dialer: Awaited<ReturnType<typeof startHost>>;

  before(async () => {
    const lk = walletKey();
    const dk = walletKey();
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
    const { privateKeyFromRaw } = await import('@libp2p/crypto/keys');
    const lt = await net.issue(peerIdFromPrivateKey(privateKeyFromRaw(lk)));
    const dt = await net.issue(peerIdFromPrivateKey(privateKeyFromRaw(dk)));
    // Message timeouts far beyond the test's waits: only an immediate reset can end the exchanges below.
    const slow = { messageTimeoutMs: 120_000, admissionTimeoutMs: 120_000 };
    listener = await startHost(net, {
      ...slow,
      key: lk,
      authority: breakable(net.authority(lk, lt.ticket), failing.listener),
    });
    dialer = await startHost(net, {
      ...slow,
      key: dk,
      authority: breakable(net.authority(dk, dt.ticket), failing.dialer),
    });
    await listener.handle(ECHO, echoHandler);
    await dialer.connect(listener.multiaddrs()[0]!, 10_000);
  });
  after(async () => {
    await Promise.all([listener.stop(), dialer.stop()]);
  });

  it('as dialer, resets the admission stream at once and says why; the listener is not left waiting', async () => {
    failing.dialer.on = true;
    try {
      assert.equal(await dialer.admission.renew(listener.peerId), false);
    } finally {
      failing.dialer.on = false;
    }
    const own = dialer.logger.lines.find((l) => l.msg === 'admission refused' && l.fields?.renewal === true);
    assert.equal(own?.fields?.code, VerdictCode.INTERNAL);
    assert.match(String(own?.fields?.reason), /cannot present a network ticket: no network grant held/);
    assert.ok(
      await waitFor(() =>
        listener.logger.lines.some(
          (l) => l.msg === 'admission refused' && /reset/i.test(String(l.fields?.reason)),
        ),
      ),
      `the listener saw a reset: ${JSON.stringify(listener.logger.lines.filter((l) => l.level === 'warn'))}`,
    );
    // The old admission still holds: a failed renewal does not end it early.
    assert.ok(listener.admission.isAdmitted(dialer.peerId) && dialer.admission.isAdmitted(listener.peerId));
  });

  it('as listener, answers with an INTERNAL verdict and its reason instead of going silent', async () => {
    failing.listener.on = true;
    try {
      assert.equal(await dialer.admission.renew(listener.peerId), false);
    } finally {
      failing.listener.on = false;
    }
    const seen = dialer.logger.lines.find((l) => l.msg === 'admission refused by remote');
    assert.equal(seen?.fields?.code, VerdictCode.INTERNAL);
    assert.match(String(seen?.fields?.reason), /cannot present a network ticket: no network grant held/);
    assert.ok(listener.admission.isAdmitted(dialer.peerId));
  });

  it('once the ticket layer works again, a renewal succeeds on the same connection', async () => {
    assert.equal(await dialer.admission.renew(listener.peerId), true);
    assert.equal(await echo(dialer, listener.peerId, 'back'), 'back');
  });
});
