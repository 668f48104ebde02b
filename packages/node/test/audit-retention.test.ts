/**
 * The audit trail's retention on a real store (SQLite): records older than the retention are pruned
 * by the trail's timer while the node runs (not only at start), newer ones stay, and the pruning is
 * a log line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog, openStore } from '@dibs/store';
import { auditTrail } from '../src/daemon/audit-trail.ts';
import { createLogger, LogRing } from '../src/daemon/log.ts';
import { waitFor } from './helpers.ts';

const DAY = 86_400_000;

test('the audit trail prunes records past their retention on its timer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dibs-audit-retention-'));
  const store = openStore(join(dir, 'dibs.db'));
  const ring = new LogRing();
  const log = createLogger({ console: null, component: 'audit', ring });
  const audit = new AuditLog(store, { retentionDays: 1 });
  const trail = auditTrail(audit, store, log, { pruneIntervalMs: 50 });
  try {
    const now = Date.now();
    const base = { who: '0x0000000000000000000000000000000000000001', serviceId: '7', outcome: 'ok' };
    audit.add({ ...base, kind: 'grant-issued', at: now - 2 * DAY, grantId: '1' });
    audit.add({ ...base, kind: 'grant-issued', at: now - DAY / 2, grantId: '2' });
    assert.equal(audit.query({ since: 0 }).length, 2, 'both records are stored');
    assert.ok(
      await waitFor(() => audit.query({ since: 0 }).length === 1, 10_000),
      'the timer prunes the record older than a day',
    );
    assert.deepEqual(
      audit.query({ since: 0 }).map((r) => r.grantId),
      ['2'],
      'the record within the retention stays',
    );
    const line = ring.entries(100).find((l) => l.message === 'audit records past their retention pruned');
    assert.ok(line, 'pruning is logged');
    assert.equal(line.fields.records, '1');
  } finally {
    trail.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
