import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { encodeSealedTicket, encodeTicketBody, encodeTicketHeader } from '../src/tickets/codec.ts';
import { nobleTicketCrypto } from '../src/tickets/crypto.ts';
import { clientPairKey } from '../src/tickets/pairwise.ts';
import { hashTicket, sealTicketBody } from '../src/tickets/ticket.ts';
import {
  GrantCache,
  issueTicket,
  MAX_TICKET_LIFETIME_MS,
  ReplayCache,
  SessionRegistry,
  TicketError,
  type TicketErrorCode,
  TicketVerifier,
} from '../src/tickets/index.ts';
import {
  CHAIN_ID,
  CONTRACT,
  GRANT_EXPIRES,
  HTTP_SERVICE,
  makeParty,
  makeWorld,
  NETWORK_SERVICE,
  NOW,
  TCP_SERVICE,
} from './tickets-helpers.ts';

const MIN = 60_000;

function rejects(fn: () => unknown, code: TicketErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TicketError, `expected TicketError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('ticket verification', () => {
  it('accepts a service ticket and a network ticket with fresh authenticators', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    const challenge = new Uint8Array(32).fill(7);
    const s = w.verifier.verify({
      ticket: t.ticket,
      authenticator: w.auth(t, { challenge }),
      remotePeerId: w.client.peerId,
      challenge,
    });
    assert.equal(s.clientAddress, w.client.address);
    assert.equal(s.grantId, w.grants.tcp);
    assert.equal(s.serviceId, TCP_SERVICE);
    assert.equal(s.kind, 'service');
    assert.deepEqual(s.sessionKey, t.sessionKey);
    assert.equal(s.expiresAt, t.expiresAt);
    const n = w.issue('network', NETWORK_SERVICE);
    const sn = w.verifier.verify({
      ticket: n.ticket,
      authenticator: w.auth(n),
      remotePeerId: w.client.peerId,
    });
    assert.equal(sn.kind, 'network');
    assert.equal(sn.serviceType, 'network');
  });

  it('a stolen ticket and authenticator are useless from another peer', async () => {
    const w = await makeWorld();
    const thief = await makeParty();
    const t = w.issue('service', TCP_SERVICE);
    // Replayed as-is from the thief's connection.
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: thief.peerId }),
      'WRONG_PEER',
    );
    // Re-made naming the thief's PeerId, without the session key.
    const forged = w.auth(
      { ticketHash: t.ticketHash, sessionKey: new Uint8Array(32).fill(1) },
      { clientPeerId: thief.peerId },
    );
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: forged, remotePeerId: thief.peerId }),
      'TAMPERED',
    );
    // Even with the session key, the thief's wallet key is not the ticket's client.
    const withKey = w.auth(t, { clientPeerId: thief.peerId });
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: withKey, remotePeerId: thief.peerId }),
      'WRONG_PEER',
    );
    // The rightful client still gets in.
    assert.ok(
      w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
    );
  });

  it('a ticket forged by someone without the client encryption key does not decrypt', async () => {
    const w = await makeWorld();
    const mallory = await makeParty();
    // Mallory claims to be the client but seals with her own X25519 key.
    const forged = issueTicket({
      kind: 'service',
      grant: { grantId: w.grants.tcp, serviceId: TCP_SERVICE, expiresAt: GRANT_EXPIRES },
      chainId: CHAIN_ID,
      contract: CONTRACT,
      client: { address: w.client.address, encryptionPrivateKey: mallory.encryptionPrivateKey },
      service: {
        serviceId: TCP_SERVICE,
        serviceType: 'tcp',
        peerId: w.node.peerId,
        encryptionPublicKey: w.node.encryptionPublicKey,
      },
      now: NOW,
    });
    rejects(
      () =>
        w.verifier.verify({
          ticket: forged.ticket,
          authenticator: w.auth(forged),
          remotePeerId: w.client.peerId,
        }),
      'TAMPERED',
    );
  });

  it('rejects a ticket for service A presented for service B, the wrong type and the wrong node', async () => {
    const w = await makeWorld();
    const other = await makeParty();
    // Verifier that serves only the http service.
    const httpOnly = new TicketVerifier({
      encryptionPrivateKey: w.node.encryptionPrivateKey,
      peerId: w.node.peerId,
      chainId: CHAIN_ID,
      contract: CONTRACT,
      cache: w.cache,
      now: w.clock.now,
      serviceIds: [HTTP_SERVICE],
    });
    const tcp = w.issue('service', TCP_SERVICE);
    rejects(
      () =>
        httpOnly.verify({ ticket: tcp.ticket, authenticator: w.auth(tcp), remotePeerId: w.client.peerId }),
      'WRONG_SERVICE',
    );
    // Ticket claiming the http type for the tcp service.
    const wrongType = w.issue('service', TCP_SERVICE, { serviceType: 'http' });
    rejects(
      () =>
        w.verifier.verify({
          ticket: wrongType.ticket,
          authenticator: w.auth(wrongType),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_TYPE',
    );
    // A network ticket naming a service id that is not a network this node admits to.
    const netForTcp = w.issue('network', TCP_SERVICE, { serviceType: 'network' });
    rejects(
      () =>
        w.verifier.verify({
          ticket: netForTcp.ticket,
          authenticator: w.auth(netForTcp),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_SERVICE',
    );
    // Even on a node misconfigured to treat the tcp service as its network, the type does not match.
    const misconfigured = new TicketVerifier({
      encryptionPrivateKey: w.node.encryptionPrivateKey,
      peerId: w.node.peerId,
      chainId: CHAIN_ID,
      contract: CONTRACT,
      cache: w.cache,
      now: w.clock.now,
      networkServiceIds: [TCP_SERVICE],
    });
    rejects(
      () =>
        misconfigured.verify({
          ticket: netForTcp.ticket,
          authenticator: w.auth(netForTcp),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_TYPE',
    );
    // The client library refuses to make a service ticket for a network service and vice versa.
    assert.throws(() => w.issue('service', NETWORK_SERVICE), TicketError);
    assert.throws(() => w.issue('network', TCP_SERVICE), TicketError);
    // Ticket bound to another node's PeerId (still encrypted to this node's key).
    const elsewhere = w.issue('service', TCP_SERVICE, { peerId: other.peerId });
    rejects(
      () =>
        w.verifier.verify({
          ticket: elsewhere.ticket,
          authenticator: w.auth(elsewhere),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_NODE',
    );
    // Authenticator addressed to another node.
    const t = w.issue('service', TCP_SERVICE);
    rejects(
      () =>
        w.verifier.verify({
          ticket: t.ticket,
          authenticator: w.auth(t, { servicePeerId: other.peerId }),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_NODE',
    );
    // A service that moved to another host is no longer served here.
    w.cache.applyService({ serviceId: HTTP_SERVICE, serviceType: 'http', host: other.address, active: true });
    const http = w.issue('service', HTTP_SERVICE);
    rejects(
      () =>
        w.verifier.verify({
          ticket: http.ticket,
          authenticator: w.auth(http),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_NODE',
    );
  });

  it('rejects expired tickets and expired grants', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE, { lifetimeMs: 5 * MIN });
    w.clock.advance(5 * MIN - 1);
    assert.ok(
      w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
    );
    w.clock.advance(1);
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      'EXPIRED',
    );
    // Grant shortened on chain (re-read), ticket still within its own lifetime.
    const t2 = w.issue('service', HTTP_SERVICE);
    w.cache.applyGrant({
      grantId: w.grants.http,
      serviceId: HTTP_SERVICE,
      grantee: w.client.address,
      issuedAt: BigInt(NOW / 1000),
      expiresAt: BigInt(Math.floor(w.clock.now() / 1000)),
      revoked: false,
    });
    rejects(
      () =>
        w.verifier.verify({ ticket: t2.ticket, authenticator: w.auth(t2), remotePeerId: w.client.peerId }),
      'EXPIRED',
    );
  });

  it('ticket issue time more than 10 minutes ahead is rejected, within is accepted', async () => {
    const w = await makeWorld();
    const within = w.issue('service', TCP_SERVICE, { now: NOW + 10 * MIN });
    assert.ok(
      w.verifier.verify({
        ticket: within.ticket,
        authenticator: w.auth(within),
        remotePeerId: w.client.peerId,
      }),
    );
    const ahead = w.issue('service', TCP_SERVICE, { now: NOW + 10 * MIN + 1 });
    rejects(
      () =>
        w.verifier.verify({
          ticket: ahead.ticket,
          authenticator: w.auth(ahead),
          remotePeerId: w.client.peerId,
        }),
      'CLOCK_SKEW',
    );
  });

  it('a ticket issued longer ago than the maximum lifetime, or living longer than it, is refused', async () => {
    const w = await makeWorld();
    // A grant that outlives any ticket, so only the ticket's own times can be at fault.
    const long = 99n;
    w.cache.applyGrantIssued({
      grantId: long,
      serviceId: TCP_SERVICE,
      grantee: w.client.address,
      issuedAt: BigInt(NOW / 1000),
      expiresAt: BigInt(NOW / 1000 + 90 * 86_400),
    });
    // What a client that bypasses issueTicket's cap can seal with its own key.
    const craft = (issuedAt: number, expiresAt: number) => {
      const header = {
        v: 2,
        kind: 'service' as const,
        chainId: CHAIN_ID,
        clientAddress: w.client.address,
        salt: new Uint8Array(randomBytes(32)),
      };
      const headerBytes = encodeTicketHeader(header);
      const sessionKey = new Uint8Array(randomBytes(32));
      const body = encodeTicketBody({
        v: 2,
        kind: 'service',
        grantId: long,
        chainId: CHAIN_ID,
        contract: CONTRACT,
        clientAddress: w.client.address,
        serviceId: TCP_SERVICE,
        serviceType: 'tcp',
        servicePeerId: w.node.peerId,
        issuedAt,
        expiresAt,
        nonce: new Uint8Array(randomBytes(16)),
        sessionKey,
      });
      const pair = clientPairKey(
        nobleTicketCrypto.x25519Key(w.client.encryptionPrivateKey),
        w.node.encryptionPublicKey,
      );
      const ticket = encodeSealedTicket(header, sealTicketBody(pair, headerBytes, body));
      return { ticket, sessionKey, ticketHash: hashTicket(ticket) };
    };
    const present = (t: ReturnType<typeof craft>) =>
      w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId });
    const DAY = 86_400_000;
    // The longest lifetime a client may ask for is accepted, also late in its life.
    assert.ok(present(craft(NOW - MAX_TICKET_LIFETIME_MS + MIN, NOW + MIN)));
    // Issued 30 days ago, valid for another hour: the age alone refuses it.
    rejects(() => present(craft(NOW - 30 * DAY, NOW + 60 * MIN)), 'LIFETIME_EXCEEDED');
    // Issued now, valid for 30 days.
    rejects(() => present(craft(NOW, NOW + 30 * DAY)), 'LIFETIME_EXCEEDED');
    // One millisecond over the maximum lifetime.
    rejects(() => present(craft(NOW - MIN, NOW - MIN + MAX_TICKET_LIFETIME_MS + 1)), 'LIFETIME_EXCEEDED');
    // A verifier with a shorter maximum refuses what is within the default.
    const strict = new TicketVerifier({
      encryptionPrivateKey: w.node.encryptionPrivateKey,
      peerId: w.node.peerId,
      chainId: CHAIN_ID,
      contract: CONTRACT,
      cache: w.cache,
      now: w.clock.now,
      maxTicketLifetimeMs: DAY,
    });
    const t = craft(NOW, NOW + 2 * DAY);
    assert.throws(
      () => strict.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      (e: unknown) => e instanceof TicketError && e.code === 'LIFETIME_EXCEEDED',
    );
  });

  it('authenticator time off by more than 10 minutes either way is rejected, within is accepted', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    for (const off of [-10 * MIN, 10 * MIN, 0, -1, 1]) {
      assert.ok(
        w.verifier.verify({
          ticket: t.ticket,
          authenticator: w.auth(t, { now: NOW + off }),
          remotePeerId: w.client.peerId,
        }),
      );
    }
    for (const off of [-10 * MIN - 1, 10 * MIN + 1, -60 * MIN, 60 * MIN]) {
      rejects(
        () =>
          w.verifier.verify({
            ticket: t.ticket,
            authenticator: w.auth(t, { now: NOW + off }),
            remotePeerId: w.client.peerId,
          }),
        'CLOCK_SKEW',
      );
    }
  });

  it('a replayed authenticator is rejected, also on a new connection', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    const oneShot = w.auth(t);
    assert.ok(w.verifier.verify({ ticket: t.ticket, authenticator: oneShot, remotePeerId: w.client.peerId }));
    // Same bytes again (what a new connection carrying a copy looks like for one-shot use).
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: oneShot, remotePeerId: w.client.peerId }),
      'REPLAY',
    );
    // Nine minutes later it is still remembered.
    w.clock.advance(9 * MIN);
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: oneShot, remotePeerId: w.client.peerId }),
      'REPLAY',
    );
    // With a per-connection challenge, a copy on a new connection answers the old challenge.
    const c1 = new Uint8Array(16).fill(1);
    const c2 = new Uint8Array(16).fill(2);
    const answered = w.auth(t, { challenge: c1 });
    assert.ok(
      w.verifier.verify({
        ticket: t.ticket,
        authenticator: answered,
        remotePeerId: w.client.peerId,
        challenge: c1,
      }),
    );
    rejects(
      () =>
        w.verifier.verify({
          ticket: t.ticket,
          authenticator: answered,
          remotePeerId: w.client.peerId,
          challenge: c2,
        }),
      'WRONG_CHALLENGE',
    );
    // If a verifier ever reused a challenge, the replay cache still catches the copy.
    rejects(
      () =>
        w.verifier.verify({
          ticket: t.ticket,
          authenticator: answered,
          remotePeerId: w.client.peerId,
          challenge: c1,
        }),
      'REPLAY',
    );
  });

  it('the replay cache refuses new authenticators when full instead of forgetting live ones', async () => {
    const w = await makeWorld();
    const replayCache = new ReplayCache({ maxEntries: 3 });
    const v = new TicketVerifier({
      encryptionPrivateKey: w.node.encryptionPrivateKey,
      peerId: w.node.peerId,
      chainId: CHAIN_ID,
      contract: CONTRACT,
      cache: w.cache,
      now: w.clock.now,
      replayCache,
    });
    const t = w.issue('service', TCP_SERVICE);
    const first = w.auth(t);
    v.verify({ ticket: t.ticket, authenticator: first, remotePeerId: w.client.peerId });
    v.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId });
    v.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId });
    rejects(
      () => v.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      'OVERLOADED',
    );
    rejects(
      () => v.verify({ ticket: t.ticket, authenticator: first, remotePeerId: w.client.peerId }),
      'REPLAY',
    );
    // Once the window of the old entries has passed they are dropped and room is made.
    w.clock.advance(10 * MIN + 1);
    const later = w.issue('service', TCP_SERVICE);
    assert.ok(
      v.verify({ ticket: later.ticket, authenticator: w.auth(later), remotePeerId: w.client.peerId }),
    );
    assert.equal(replayCache.size, 1);
  });

  it('a revoked grant is rejected and its live session is closed', async () => {
    const w = await makeWorld();
    const sessions = new SessionRegistry({ cache: w.cache, now: w.clock.now, nodeAddress: w.node.address });
    const t = w.issue('service', TCP_SERVICE);
    const other = w.issue('service', HTTP_SERVICE);
    const closed: string[] = [];
    sessions.register(
      w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      (r) => closed.push(`tcp:${r.code}`),
    );
    sessions.register(
      w.verifier.verify({
        ticket: other.ticket,
        authenticator: w.auth(other),
        remotePeerId: w.client.peerId,
      }),
      (r) => closed.push(`http:${r.code}`),
    );
    assert.equal(sessions.size, 2);
    w.cache.applyGrantRevoked({ grantId: w.grants.tcp, serviceId: TCP_SERVICE });
    assert.deepEqual(closed, ['tcp:REVOKED']);
    assert.equal(sessions.size, 1);
    // The (already decrypted, cached) ticket is refused from now on.
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      'REVOKED',
    );
    // A late "issued" event for the same grant cannot un-revoke it.
    w.cache.applyGrantIssued({
      grantId: w.grants.tcp,
      serviceId: TCP_SERVICE,
      grantee: w.client.address,
      issuedAt: BigInt(NOW / 1000),
      expiresAt: GRANT_EXPIRES,
    });
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      'REVOKED',
    );
    // Retiring the http service closes the other session.
    w.cache.applyServiceRetired({ serviceId: HTTP_SERVICE });
    assert.deepEqual(closed, ['tcp:REVOKED', 'http:SERVICE_INACTIVE']);
    rejects(
      () =>
        w.verifier.verify({
          ticket: other.ticket,
          authenticator: w.auth(other),
          remotePeerId: w.client.peerId,
        }),
      'SERVICE_INACTIVE',
    );
    sessions.dispose();
  });

  it('live sessions close when their expiry passes', async () => {
    const w = await makeWorld();
    const sessions = new SessionRegistry({ cache: w.cache, now: w.clock.now });
    const t = w.issue('service', TCP_SERVICE, { lifetimeMs: 2 * MIN });
    const closed: string[] = [];
    const forget = sessions.register(
      w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      (r) => closed.push(r.code),
    );
    w.clock.advance(MIN);
    assert.equal(sessions.sweep(), 0);
    w.cache.markSynced(100);
    assert.deepEqual(closed, []);
    w.clock.advance(MIN);
    // A synced block triggers the sweep, as the chain watcher does every block.
    w.cache.markSynced(101);
    assert.deepEqual(closed, ['EXPIRED']);
    assert.equal(sessions.size, 0);
    forget();
    sessions.dispose();
  });

  it('a grant for another account, an unknown grant or an unknown client key is rejected', async () => {
    const w = await makeWorld();
    const other = await makeParty();
    w.cache.applyGrantIssued({
      grantId: 99n,
      serviceId: TCP_SERVICE,
      grantee: other.address,
      issuedAt: 1n,
      expiresAt: GRANT_EXPIRES,
    });
    const notMine = w.issue('service', TCP_SERVICE, { grantId: 99n });
    rejects(
      () =>
        w.verifier.verify({
          ticket: notMine.ticket,
          authenticator: w.auth(notMine),
          remotePeerId: w.client.peerId,
        }),
      'NOT_GRANTEE',
    );
    const unknown = w.issue('service', TCP_SERVICE, { grantId: 12345n });
    rejects(
      () =>
        w.verifier.verify({
          ticket: unknown.ticket,
          authenticator: w.auth(unknown),
          remotePeerId: w.client.peerId,
        }),
      'UNKNOWN_GRANT',
    );
    // Grant for the http service used in a tcp ticket.
    const mixed = w.issue('service', TCP_SERVICE, { grantId: w.grants.http });
    rejects(
      () =>
        w.verifier.verify({
          ticket: mixed.ticket,
          authenticator: w.auth(mixed),
          remotePeerId: w.client.peerId,
        }),
      'EXCEEDS_GRANT',
    );
    const t = w.issue('service', TCP_SERVICE);
    w.cache.applyIdentity({ account: w.client.address, encryptionKey: new Uint8Array(32) });
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      'UNKNOWN_CLIENT_KEY',
    );
  });

  it('a ticket made before the client replaced its encryption key is refused, even when cached', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    assert.ok(
      w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
    );
    const fresh = await makeParty();
    w.cache.applyIdentity({ account: w.client.address, encryptionKey: fresh.encryptionPublicKey });
    rejects(
      () => w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
      'TAMPERED',
    );
  });

  it('rejects tickets for another chain or another AccessGrants contract', async () => {
    const w = await makeWorld();
    const base = {
      kind: 'service' as const,
      grant: { grantId: w.grants.tcp, serviceId: TCP_SERVICE, expiresAt: GRANT_EXPIRES },
      client: { address: w.client.address, encryptionPrivateKey: w.client.encryptionPrivateKey },
      service: {
        serviceId: TCP_SERVICE,
        serviceType: 'tcp',
        peerId: w.node.peerId,
        encryptionPublicKey: w.node.encryptionPublicKey,
      },
      now: NOW,
    };
    const otherChain = issueTicket({ ...base, chainId: CHAIN_ID + 1, contract: CONTRACT });
    rejects(
      () =>
        w.verifier.verify({
          ticket: otherChain.ticket,
          authenticator: w.auth(otherChain),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_CHAIN',
    );
    const otherContract = issueTicket({ ...base, chainId: CHAIN_ID, contract: `0x${'12'.repeat(20)}` });
    rejects(
      () =>
        w.verifier.verify({
          ticket: otherContract.ticket,
          authenticator: w.auth(otherContract),
          remotePeerId: w.client.peerId,
        }),
      'WRONG_CHAIN',
    );
  });

  it('an authenticator for another ticket is rejected', async () => {
    const w = await makeWorld();
    const a = w.issue('service', TCP_SERVICE);
    const b = w.issue('service', TCP_SERVICE);
    rejects(
      () => w.verifier.verify({ ticket: a.ticket, authenticator: w.auth(b), remotePeerId: w.client.peerId }),
      'WRONG_TICKET',
    );
  });
});

describe('organizations', () => {
  it('an org-A grant never admits to org B', async () => {
    // Two organizations on one chain, each with its own network service and one node.
    const client = await makeParty();
    const nodeA = await makeParty();
    const nodeB = await makeParty();
    const cache = new GrantCache();
    for (const p of [client, nodeA, nodeB])
      cache.applyIdentity({ account: p.address, encryptionKey: p.encryptionPublicKey });
    const zero = `0x${'0'.repeat(40)}`;
    const NET_A = 20n;
    const NET_B = 21n;
    const SVC_A = 22n;
    cache.applyService({ serviceId: NET_A, serviceType: 'network', host: zero, active: true });
    cache.applyService({ serviceId: NET_B, serviceType: 'network', host: zero, active: true });
    cache.applyService({ serviceId: SVC_A, serviceType: 'tcp', host: nodeA.address, active: true });
    cache.applyGrantIssued({
      grantId: 30n,
      serviceId: NET_A,
      grantee: client.address,
      issuedAt: 1n,
      expiresAt: GRANT_EXPIRES,
    });
    cache.applyGrantIssued({
      grantId: 31n,
      serviceId: SVC_A,
      grantee: client.address,
      issuedAt: 1n,
      expiresAt: GRANT_EXPIRES,
    });
    const verifierFor = (node: typeof nodeA, net: bigint) =>
      new TicketVerifier({
        encryptionPrivateKey: node.encryptionPrivateKey,
        peerId: node.peerId,
        chainId: CHAIN_ID,
        contract: CONTRACT,
        cache,
        now: () => NOW,
        networkServiceIds: [net],
      });
    const vA = verifierFor(nodeA, NET_A);
    const vB = verifierFor(nodeB, NET_B);
    const ticketFor = (
      kind: 'network' | 'service',
      grantId: bigint,
      serviceId: bigint,
      serviceType: string,
      node: typeof nodeA,
    ) =>
      issueTicket({
        kind,
        grant: { grantId, serviceId, expiresAt: GRANT_EXPIRES },
        chainId: CHAIN_ID,
        contract: CONTRACT,
        client: { address: client.address, encryptionPrivateKey: client.encryptionPrivateKey },
        service: {
          serviceId,
          serviceType,
          peerId: node.peerId,
          encryptionPublicKey: node.encryptionPublicKey,
        },
        now: NOW,
      });
    const { createAuthenticator } = await import('../src/tickets/index.ts');
    const present = (v: TicketVerifier, node: typeof nodeA, t: ReturnType<typeof ticketFor>) =>
      v.verify({
        ticket: t.ticket,
        authenticator: createAuthenticator({
          ...t,
          clientPeerId: client.peerId,
          servicePeerId: node.peerId,
          now: NOW,
        }),
        remotePeerId: client.peerId,
      });
    // Control: org A's node admits the org-A network ticket and the org-A service ticket.
    assert.equal(present(vA, nodeA, ticketFor('network', 30n, NET_A, 'network', nodeA)).serviceId, NET_A);
    assert.equal(present(vA, nodeA, ticketFor('service', 31n, SVC_A, 'tcp', nodeA)).serviceId, SVC_A);
    // The same grants, with tickets made out to org B's node, are refused there.
    rejects(() => present(vB, nodeB, ticketFor('network', 30n, NET_A, 'network', nodeB)), 'WRONG_SERVICE');
    rejects(() => present(vB, nodeB, ticketFor('service', 31n, SVC_A, 'tcp', nodeB)), 'WRONG_NODE');
    // Org A's ticket for node A, forwarded to node B, does not even decrypt there.
    rejects(() => present(vB, nodeB, ticketFor('network', 30n, NET_A, 'network', nodeA)), 'TAMPERED');
  });
});
