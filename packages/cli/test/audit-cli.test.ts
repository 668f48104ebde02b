/**
 * The audit trail from the CLI: the retention setting (flag over environment over config file, bad
 * values refused with what to give), and `dibs audit` exporting a node database's records as JSON
 * lines and as one JSON object, filtered by service and kind.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditLog, openStore } from '@dibs/store';
import { MAX_AUDIT_RETENTION_DAYS, parseAuditRetention } from '../src/commands/up.ts';
import { CliError } from '../src/errors.ts';
import { lastJson, runCli, tempHome } from './cli-helpers.ts';

describe('audit retention setting', () => {
  const home = tempHome();
  after(() => home.cleanup());
  const config = join(home.root, 'config.json');

  it('takes the flag, else DIBS_AUDIT_RETENTION_DAYS, else audit.retentionDays, else the default', () => {
    writeFileSync(config, JSON.stringify({ version: 1, audit: { retentionDays: 30 } }));
    const env = { DIBS_AUDIT_RETENTION_DAYS: '14' };
    assert.equal(parseAuditRetention('7', env, config), 7);
    assert.equal(parseAuditRetention(undefined, env, config), 14);
    assert.equal(parseAuditRetention(undefined, {}, config), 30);
    writeFileSync(config, JSON.stringify({ version: 1 }));
    assert.equal(parseAuditRetention(undefined, {}, config), undefined, 'unset keeps the default');
    assert.equal(parseAuditRetention('0.5', {}, config), 0.5, 'half a day');
  });

  it('refuses what is not a number of days, naming where it came from', () => {
    for (const bad of ['0', '-3', 'ten', '1e3', String(MAX_AUDIT_RETENTION_DAYS + 1)]) {
      assert.throws(
        () => parseAuditRetention(bad, {}, config),
        (e: unknown) =>
          e instanceof CliError && e.code === 'BAD_AUDIT_RETENTION' && /--audit-retention/.test(e.message),
        bad,
      );
    }
    assert.throws(
      () => parseAuditRetention(undefined, { DIBS_AUDIT_RETENTION_DAYS: 'x' }, config),
      /DIBS_AUDIT_RETENTION_DAYS/,
    );
    writeFileSync(config, JSON.stringify({ version: 1, audit: { retentionDays: '30' } }));
    assert.throws(() => parseAuditRetention(undefined, {}, config), /audit\.retentionDays/);
  });
});

describe('dibs audit export', () => {
  const home = tempHome();
  after(() => home.cleanup());

  it('exports the records as JSON lines and as JSON, filtered', async () => {
    mkdirSync(home.home, { recursive: true });
    const store = openStore(join(home.home, 'dibs.db'));
    const now = Date.now();
    try {
      const audit = new AuditLog(store);
      const who = '0x00000000000000000000000000000000000000aa';
      audit.add({
        kind: 'grant-issued',
        at: now - 60_000,
        who,
        serviceId: '5',
        serviceName: 'web',
        grantId: '9',
        outcome: 'ok',
      });
      audit.add({
        kind: 'session',
        at: now - 30_000,
        who,
        serviceId: '5',
        serviceName: 'web',
        sessionId: 's1',
        direction: 'inbound',
        path: 'direct',
        endedAt: now - 10_000,
        bytesIn: 1200,
        bytesOut: 3400,
        outcome: 'closed',
      });
      audit.add({
        kind: 'refusal',
        at: now - 20_000,
        peerId: '16Uiu2HAm',
        reason: 'NO_GRANT',
        outcome: 'refused',
      });
      audit.add({
        kind: 'grant-issued',
        at: now - 3 * 86_400_000,
        who,
        serviceId: '5',
        grantId: '8',
        outcome: 'ok',
      });
    } finally {
      store.close();
    }
    const lines = await runCli(['audit', '--jsonl', '--since', '1h'], home.env);
    assert.equal(lines.code, 0, lines.stderr);
    const rows = lines.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(rows.length, 3, 'the record from three days ago is outside --since 1h');
    const session = rows.find((r) => r.kind === 'session');
    assert.deepEqual(
      [session?.bytesIn, session?.bytesOut, session?.path, session?.outcome],
      [1200, 3400, 'direct', 'closed'],
    );
    const json = await runCli(
      ['--json', 'audit', '--since', '7d', '--service', 'web', '--kind', 'grant-issued'],
      home.env,
    );
    assert.equal(json.code, 0, json.stderr);
    const { records } = lastJson<{ records: Array<{ grantId: string }> }>(json.stdout);
    assert.deepEqual(
      records.map((r) => r.grantId).sort(),
      ['9'],
      'only the named service’s grants of that kind',
    );
    const bad = await runCli(['audit', '--kind', 'nonsense'], home.env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown record kind/);
  });
});
