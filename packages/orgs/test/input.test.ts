import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OrgError, parseAddress, parseAmount, parseOrgId } from '../src/index.ts';

/** Runs `fn`; returns its value, or the OrgError it threw (anything else fails the property). */
function outcome<T>(fn: () => T): T | OrgError {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof OrgError, `threw ${String(err)}`);
    assert.equal(err.kind, 'invalid');
    assert.ok(err.message.length <= 200 && err.hint.length > 0);
    return err;
  }
}

describe('organization input parsers', () => {
  it('accept what they should and return it exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 21n - 1n }), (id) => {
        assert.equal(parseOrgId(id.toString()), id);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (n) => {
        assert.equal(parseAmount(n.toString()), n);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (bytes) => {
        const hex = `0x${Buffer.from(bytes).toString('hex')}`;
        assert.equal(parseAddress(hex, 'member').toLowerCase(), hex);
      }),
    );
  });

  it('refuse anything else with a typed, bounded error and never another exception', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const id = outcome(() => parseOrgId(text));
        if (!(id instanceof OrgError)) assert.equal(id.toString(), text);
        const amount = outcome(() => parseAmount(text));
        if (!(amount instanceof OrgError)) assert.equal(amount.toString(), text);
        outcome(() => parseAddress(text, 'node'));
      }),
      { numRuns: 2000 },
    );
    for (const bad of ['0', '-1', '01', '1.5', ' 1', '1e3', '']) {
      assert.equal((outcome(() => parseOrgId(bad)) as OrgError).code, 'INVALID_ORG_ID');
    }
    assert.equal((outcome(() => parseAmount((1n << 256n).toString())) as OrgError).code, 'INVALID_AMOUNT');
    assert.equal((outcome(() => parseAddress('0x1234', 'member')) as OrgError).code, 'INVALID_ADDRESS');
  });
});
