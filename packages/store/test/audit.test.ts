/** The audit trail in SQLite: sessions from start to end, filters, retention and JSON-lines export. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditLog, auditJsonLines, openStore } from '../src/index.ts';

describe('audit trail', () => {
  it('records a session from start to end, grants and refusals; filters by time, service and kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dibs-audit-'));
    try {
      const store = openStore(join(dir, 'dibs.db'));
      const audit = new AuditLog(store, { retentionDays: 30 });
      const t0 = Date.UTC(2026, 11, 5, 10);
      audit.add({
        kind: 'grant-issued',
        at: t0,
        who: '0x1',
        serviceId: '7',
        grantId: '3',
        outcome: 'issued',
      });
      audit.add({
        kind: 'session',
        at: t0 + 1000,
        who: '0x1',
        peerId: 'peer1',
        serviceId: '7',
        serviceName: 'web',
        sessionId: 's1',
        direction: 'inbound',
        path: 'relayed',
        outcome: 'open',
      });
      audit.add({
        kind: 'refusal',
        at: t0 + 2000,
        who: '0x2',
        outcome: 'refused',
        reason: 'REVOKED: grant 4',
      });
      assert.equal(audit.endSession('s1', { endedAt: t0 + 5000, bytesIn: 10, bytesOut: 20 }), true);
      assert.equal(
        audit.endSession('s1', { endedAt: t0 + 6000, bytesIn: 1, bytesOut: 1 }),
        false,
        'ended once',
      );
      store.close();

      // Reopened: the records survive a restart.
      const again = openStore(join(dir, 'dibs.db'));
      const log = new AuditLog(again, { retentionDays: 30 });
      const all = log.query({ since: t0 });
      assert.deepEqual(
        all.map((r) => r.kind),
        ['grant-issued', 'session', 'refusal'],
      );
      const s = all[1]!;
      assert.deepEqual(
        [s.who, s.serviceName, s.direction, s.path, s.endedAt, s.bytesIn, s.bytesOut, s.outcome],
        ['0x1', 'web', 'inbound', 'relayed', t0 + 5000, 10, 20, 'closed'],
      );
      assert.equal(log.query({ service: 'web' }).length, 1);
      assert.equal(log.query({ service: '7' }).length, 2);
      assert.equal(log.query({ kind: 'refusal' })[0]!.reason, 'REVOKED: grant 4');
      assert.equal(log.query({ since: t0 + 1500 }).length, 1);
      assert.equal(
        log
          .query({ limit: 2 })
          .map((r) => r.kind)
          .join(),
        'session,refusal',
        'the newest, oldest first',
      );
      const lines = auditJsonLines(all).trim().split('\n');
      assert.equal(lines.length, 3);
      assert.deepEqual(JSON.parse(lines[1]!), s);

      // Retention: older than 30 days is pruned.
      assert.equal(log.prune(t0 + 30 * 86_400_000 + 1500), 2);
      assert.equal(log.query().length, 1);
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a retention that is not a positive number of days', () => {
    const store = openStore(':memory:');
    assert.throws(() => new AuditLog(store, { retentionDays: 0 }), /positive/);
    store.close();
  });
});
