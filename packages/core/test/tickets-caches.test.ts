import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GrantCache,
  type GrantCacheEvent,
  ReplayCache,
  SessionRegistry,
  TicketError,
  type VerifiedSession,
} from '../src/tickets/index.ts';

const A: `0x${string}` = `0x${'aa'.repeat(20)}`;
const B = `0x${'bb'.repeat(20)}`;

function session(grantId: bigint, serviceId: bigint, expiresAt: number): VerifiedSession {
  return {
    clientAddress: A,
    grantId,
    serviceId,
    serviceType: 'tcp',
    kind: 'service',
    sessionKey: new Uint8Array(32),
    expiresAt,
    ticketHash: new Uint8Array(32),
    clientPeerId: new Uint8Array(39),
  };
}

describe('ReplayCache', () => {
  it('remembers keys through their window and rejects duplicates', () => {
    const c = new ReplayCache({ maxEntries: 10 });
    c.checkAndAdd('n1', 1000, 0);
    assert.throws(
      () => c.checkAndAdd('n1', 1000, 500),
      (e: unknown) => e instanceof TicketError && e.code === 'REPLAY',
    );
    assert.throws(
      () => c.checkAndAdd('n1', 1000, 1000),
      (e: unknown) => e instanceof TicketError && e.code === 'REPLAY',
    );
    // After the window the entry is gone (the clock check would refuse the authenticator anyway).
    c.checkAndAdd('n1', 3000, 1001);
    assert.equal(c.size, 1);
  });

  it('is bounded and only evicts entries whose window has closed', () => {
    const c = new ReplayCache({ maxEntries: 100 });
    // Entries with scattered expiries, inserted out of order.
    for (let i = 0; i < 100; i++) c.checkAndAdd(`k${i}`, 1000 + ((i * 37) % 100) * 10, 0);
    assert.throws(
      () => c.checkAndAdd('extra', 5000, 0),
      (e: unknown) => e instanceof TicketError && e.code === 'OVERLOADED',
    );
    // At t = 1500 exactly the entries expiring before it (expiry < 1500: 50 of them) are gone.
    c.checkAndAdd('extra', 5000, 1500);
    assert.equal(c.size, 51);
    for (let i = 0; i < 100; i++) {
      const exp = 1000 + ((i * 37) % 100) * 10;
      if (exp >= 1500) {
        assert.throws(
          () => c.checkAndAdd(`k${i}`, 9000, 1500),
          (e: unknown) => e instanceof TicketError && e.code === 'REPLAY',
        );
      }
    }
  });
});

describe('GrantCache', () => {
  it('revocation and retirement are one-way and announced once', () => {
    const cache = new GrantCache();
    const events: GrantCacheEvent[] = [];
    cache.subscribe((e) => events.push(e));
    cache.applyGrantRevoked({ grantId: 5n, serviceId: 2n });
    // The issued event arriving late keeps the grant revoked.
    cache.applyGrantIssued({ grantId: 5n, serviceId: 2n, grantee: B, issuedAt: 1n, expiresAt: 100n });
    assert.equal(cache.grant(5n)?.revoked, true);
    assert.equal(cache.grant(5n)?.grantee, B);
    cache.applyGrantRevoked({ grantId: 5n });
    cache.applyServiceRetired({ serviceId: 2n });
    cache.applyService({ serviceId: 2n, serviceType: 'tcp', host: A, active: true });
    assert.equal(cache.service(2n)?.active, false);
    assert.deepEqual(
      events.map((e) => e.type),
      ['grantRevoked', 'serviceRetired'],
    );
    assert.equal(cache.revocationMaxBlocks, 2);
    assert.equal(new GrantCache({ revocationMaxBlocks: 5 }).revocationMaxBlocks, 5);
    assert.throws(() => new GrantCache({ revocationMaxBlocks: 0 }), TicketError);
  });

  it('normalizes addresses, takes bytes32 hex keys and removes zero keys', () => {
    const cache = new GrantCache();
    cache.applyIdentity({
      account: A.toUpperCase().replace('0X', '0x'),
      encryptionKey: `0x${'01'.repeat(32)}`,
    });
    assert.deepEqual(cache.encryptionKey(A as `0x${string}`), new Uint8Array(32).fill(1));
    cache.applyIdentity({ account: A, encryptionKey: `0x${'00'.repeat(32)}` });
    assert.equal(cache.encryptionKey(A as `0x${string}`), undefined);
    assert.throws(() => cache.applyIdentity({ account: A, encryptionKey: '0x1234' }), TicketError);
    assert.throws(
      () => cache.applyIdentity({ account: 'nope', encryptionKey: new Uint8Array(32) }),
      TicketError,
    );
  });

  it('prunes expired grants', () => {
    const cache = new GrantCache();
    cache.applyGrantIssued({ grantId: 1n, serviceId: 1n, grantee: A, issuedAt: 1n, expiresAt: 100n });
    cache.applyGrantIssued({ grantId: 2n, serviceId: 1n, grantee: A, issuedAt: 1n, expiresAt: 300n });
    assert.equal(cache.pruneExpired(200), 1);
    assert.equal(cache.grant(1n), undefined);
    assert.ok(cache.grant(2n));
  });
});

describe('SessionRegistry', () => {
  it('closes by grant, by service and on expiry; each callback fires once', () => {
    const cache = new GrantCache();
    let now = 0;
    cache.applyGrantIssued({ grantId: 1n, serviceId: 10n, grantee: A, issuedAt: 0n, expiresAt: 1000n });
    cache.applyGrantIssued({ grantId: 2n, serviceId: 11n, grantee: A, issuedAt: 0n, expiresAt: 1000n });
    cache.applyGrantIssued({ grantId: 3n, serviceId: 11n, grantee: A, issuedAt: 0n, expiresAt: 1000n });
    cache.applyService({ serviceId: 10n, serviceType: 'tcp', host: B, active: true });
    cache.applyService({ serviceId: 11n, serviceType: 'tcp', host: B, active: true });
    const reg = new SessionRegistry({ cache, now: () => now, nodeAddress: B });
    const log: string[] = [];
    reg.register(session(1n, 10n, 500_000), (r) => log.push(`1:${r.code}`));
    reg.register(session(2n, 11n, 500_000), (r) => log.push(`2:${r.code}`));
    reg.register(session(3n, 11n, 100_000), (r) => log.push(`3:${r.code}`));
    const forget = reg.register(session(3n, 11n, 900_000), (r) => log.push(`4:${r.code}`));
    forget();
    now = 100_000;
    assert.equal(reg.sweep(), 1);
    cache.applyGrantRevoked({ grantId: 1n });
    cache.applyGrantRevoked({ grantId: 1n });
    cache.applyServiceRetired({ serviceId: 11n });
    assert.deepEqual(log, ['3:EXPIRED', '1:REVOKED', '2:SERVICE_INACTIVE']);
    assert.equal(reg.size, 0);
    // A session for an already revoked grant closes at once.
    reg.register(session(1n, 10n, 500_000), (r) => log.push(`5:${r.code}`));
    assert.equal(log.at(-1), '5:REVOKED');
    reg.dispose();
  });

  it('closes service sessions when the service moves to another host, and reports throwing callbacks', () => {
    const cache = new GrantCache();
    cache.applyGrantIssued({ grantId: 1n, serviceId: 10n, grantee: A, issuedAt: 0n, expiresAt: 1000n });
    cache.applyService({ serviceId: 10n, serviceType: 'tcp', host: B, active: true });
    const errors: unknown[] = [];
    const reg = new SessionRegistry({
      cache,
      now: () => 0,
      nodeAddress: B,
      onCallbackError: (e) => errors.push(e),
    });
    reg.register(session(1n, 10n, 500_000), () => {
      throw new Error('boom');
    });
    cache.applyService({ serviceId: 10n, serviceType: 'tcp', host: A, active: true });
    assert.equal(reg.size, 0);
    assert.equal(errors.length, 1);
    reg.dispose();
  });
});

describe('GrantCache under churn', () => {
  it('100,000 grants issued, a tenth revoked, all expired: pruning keeps the cache to the live window', () => {
    const cache = new GrantCache();
    cache.applyService({ serviceId: 1n, serviceType: 'tcp', host: B, active: true });
    const LIFETIME_S = 60;
    const PER_SECOND = 100;
    const PRUNE_EVERY_S = 10;
    let nowSec = 1_800_000_000;
    let peak = 0;
    for (let i = 1; i <= 100_000; i++) {
      const grantId = (1n << 64n) | BigInt(i);
      cache.applyGrantIssued({
        grantId,
        serviceId: 1n,
        grantee: A,
        issuedAt: nowSec,
        expiresAt: nowSec + LIFETIME_S,
      });
      if (i % 10 === 0) cache.applyGrantRevoked({ grantId });
      if (i % PER_SECOND === 0) nowSec++;
      // What the chain mirror's timer does.
      if (i % (PER_SECOND * PRUNE_EVERY_S) === 0) cache.pruneExpired(nowSec);
      const { grants, revoked } = cache.size;
      peak = Math.max(peak, grants + revoked);
    }
    // Live window: grants of the last LIFETIME_S seconds plus one prune interval, and their revocations.
    const window = (LIFETIME_S + PRUNE_EVERY_S + 1) * PER_SECOND;
    assert.ok(peak <= window * 1.1, `peak ${peak} entries for a live window of ${window}`);
    nowSec += LIFETIME_S + 1;
    cache.pruneExpired(nowSec);
    assert.deepEqual(cache.size, { grants: 0, services: 1, identities: 0, revoked: 0, policyUnmet: 0 });
  });

  it('clear() forgets grants, services, keys, marks and standings (a rewound chain)', () => {
    const cache = new GrantCache();
    const events: GrantCacheEvent[] = [];
    cache.subscribe((e) => events.push(e));
    cache.applyService({ serviceId: 1n, serviceType: 'tcp', host: B, active: true });
    cache.applyGrantIssued({ grantId: 5n, serviceId: 1n, grantee: A, issuedAt: 1, expiresAt: 2 ** 40 });
    cache.applyGrantRevoked({ grantId: 5n });
    cache.applyServiceRetired({ serviceId: 1n });
    cache.applyIdentity({ account: A, encryptionKey: new Uint8Array(32).fill(1) });
    cache.applyPolicyStanding(1n, A, false);
    cache.markSynced(10);
    cache.clear();
    assert.deepEqual(cache.size, { grants: 0, services: 0, identities: 0, revoked: 0, policyUnmet: 0 });
    assert.equal(cache.syncedBlock, -1n);
    assert.equal(events.at(-1)?.type, 'cleared');
    // A grant replayed after the rewind is neither revoked nor retired any more.
    cache.applyService({ serviceId: 1n, serviceType: 'tcp', host: B, active: true });
    cache.applyGrantIssued({ grantId: 5n, serviceId: 1n, grantee: A, issuedAt: 1, expiresAt: 2 ** 40 });
    assert.equal(cache.grant(5n)?.revoked, false);
    assert.equal(cache.service(1n)?.active, true);
    assert.equal(cache.meetsPolicy(1n, A), true);
  });
});
