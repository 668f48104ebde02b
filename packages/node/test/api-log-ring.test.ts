import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { logEntrySchema } from '../src/api/dibs-api.ts';
import { compileValidator } from '../src/api/validation.ts';
import { createLogger, LOG_RING_MAX_FIELDS, LOG_RING_MAX_TEXT, LogRing } from '../src/daemon/log.ts';

describe('the log ring behind GET /api/v1/logs', () => {
  it('keeps only the newest lines, in order, and filters by level', () => {
    const ring = new LogRing(5);
    const log = createLogger({ console: null, ring, level: 'debug' });
    for (let i = 0; i < 12; i++) (i % 3 === 0 ? log.warn : log.info)(`line ${i}`);
    const all = ring.entries(100);
    assert.deepEqual(
      all.map((l) => l.message),
      ['line 7', 'line 8', 'line 9', 'line 10', 'line 11'],
    );
    assert.deepEqual(
      ring.entries(100, 'warn').map((l) => l.message),
      ['line 9'],
    );
    assert.deepEqual(
      ring.entries(2).map((l) => l.message),
      ['line 10', 'line 11'],
    );
    assert.deepEqual(ring.entries(0), []);
  });

  it('redacts secrets, nested ones too, before a line reaches the ring', () => {
    const ring = new LogRing();
    const log = createLogger({ console: null, ring });
    log.child('api').info('started', {
      token: 'abc-secret-1',
      passphrase: 'abc-secret-2',
      nested: { sessionKey: 'abc-secret-3', fine: 'visible', deeper: { privateKey: 'abc-secret-4' } },
      url: 'http://127.0.0.1:1',
    });
    const [line] = ring.entries();
    assert.ok(line);
    const text = JSON.stringify(line);
    assert.ok(!/abc-secret/.test(text), text);
    assert.equal(line.fields.token, '[redacted]');
    assert.match(line.fields.nested ?? '', /visible/);
    assert.equal(line.component, 'api');
  });

  it('bounds every line so it always fits the API schema, whatever is logged', () => {
    const ring = new LogRing(50);
    const log = createLogger({ console: null, ring, level: 'debug' });
    for (let i = 0; i < 40; i++) {
      const fields: Record<string, unknown> = {};
      const n = Math.floor(Math.random() * 100);
      for (let k = 0; k < n; k++) {
        const pick = k % 5;
        fields[`${randomBytes(3).toString('hex')}${'k'.repeat(Math.floor(Math.random() * 150))}`] =
          pick === 0
            ? 'x'.repeat(Math.floor(Math.random() * 5000))
            : pick === 1
              ? BigInt(k) ** 40n
              : pick === 2
                ? new Error('e'.repeat(3000))
                : pick === 3
                  ? { a: [1, 2, { b: 'c'.repeat(2500) }] }
                  : Math.random();
      }
      log.debug(randomBytes(Math.floor(Math.random() * 3000)).toString('latin1'), fields);
    }
    const check = compileValidator(logEntrySchema, 'body');
    for (const line of ring.entries(1000)) {
      assert.ok(line.message.length <= LOG_RING_MAX_TEXT);
      assert.ok(Object.keys(line.fields).length <= LOG_RING_MAX_FIELDS);
      const result = check(line);
      assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues).slice(0, 300));
    }
  });
});
