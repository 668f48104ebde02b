import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatUnits } from 'viem';
import { parseListen } from '../src/services/forward.ts';
import { ServiceError } from '../src/services/errors.ts';
import { formatAllowRule, formatHostPort, parseAllowRule, parseHostPort } from '../src/services/target.ts';
import { parseTokenAmount } from '../src/services/token-amount.ts';

describe('service targets and allow rules', () => {
  it('parses host:port targets and rejects bad ones', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseHostPort('[::1]:443'), { host: '::1', port: 443 });
    assert.deepEqual(parseHostPort('db.internal:5432'), { host: 'db.internal', port: 5432 });
    assert.equal(formatHostPort({ host: '::1', port: 443 }), '[::1]:443');
    for (const bad of [
      '',
      'x',
      ':80',
      'a:0',
      'a:65536',
      '::1:80',
      '[zz]:1',
      'a b:1',
      `${'a'.repeat(400)}:1`,
    ]) {
      assert.throws(() => parseHostPort(bad), { code: 'BAD_TARGET' }, bad);
    }
  });

  it('parses allow rules, round-trips their text form, and rejects bad ones', () => {
    assert.deepEqual(parseAllowRule('10.0.0.0/8'), { cidr: '10.0.0.0/8' });
    assert.deepEqual(parseAllowRule('192.168.1.5:22'), { cidr: '192.168.1.5/32', ports: [[22, 22]] });
    assert.deepEqual(parseAllowRule('[fd00::/8]:80-443'), { cidr: 'fd00::/8', ports: [[80, 443]] });
    assert.deepEqual(parseAllowRule('fd00::/8'), { cidr: 'fd00::/8' });
    for (const text of ['10.0.0.0/8:22+80-443', '192.168.1.5/32', '[fd00::/8]:80-443']) {
      assert.equal(formatAllowRule(parseAllowRule(text)), text);
    }
    for (const bad of [
      '',
      'x',
      '10.0.0.0/33',
      '10.0.0.0/8:0',
      '10.0.0.0/8:443-80',
      '10.0.0.0/8:a',
      '1.2.3/8',
    ]) {
      assert.throws(() => parseAllowRule(bad), { code: 'BAD_ALLOW_RULE' }, bad);
    }
  });

  it('random input never escapes as anything but a ServiceError', () => {
    for (let i = 0; i < 3000; i++) {
      const text = randomBytes(1 + (i % 40))
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, i % 2 ? ':' : '1');
      for (const parse of [parseHostPort, parseAllowRule, (t: string) => parseListen(t)]) {
        try {
          parse(text);
        } catch (err) {
          assert.ok(err instanceof ServiceError, `${JSON.stringify(text)}: ${(err as Error).message}`);
        }
      }
    }
  });

  it('parses listen addresses with port 0 for any free port', () => {
    assert.deepEqual(parseListen(undefined), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen(':0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('[::1]:1080'), { host: '::1', port: 1080 });
    assert.throws(() => parseListen('example.com:80'), { code: 'BAD_LISTEN' });
  });
});

describe('token amounts in the token’s units (token thresholds)', () => {
  it('reads decimals in base units and refuses what the token cannot express', () => {
    assert.equal(parseTokenAmount('2.5', 18), 25n * 10n ** 17n);
    assert.equal(parseTokenAmount('7', 6), 7_000_000n);
    assert.equal(parseTokenAmount('1.10', 1), 11n);
    assert.equal(parseTokenAmount('0', 18), 0n);
    for (const [bad, decimals] of [
      ['1.5', 0],
      ['0.0000001', 6],
      ['-1', 18],
      ['1e18', 18],
      ['', 18],
      ['.5', 18],
      ['1.', 18],
      [` ${'9'.repeat(78)}`, 18],
    ] as const) {
      assert.throws(() => parseTokenAmount(bad, decimals), { code: 'BAD_TOKEN_AMOUNT' }, bad);
    }
  });

  it('round-trips every uint256 at any decimals; any other text is a BAD_TOKEN_AMOUNT', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.integer({ min: 0, max: 36 }), (v, d) => {
        assert.equal(parseTokenAmount(formatUnits(v, d), d), v);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.integer({ min: 0, max: 255 }), (text, d) => {
        try {
          const v = parseTokenAmount(text, d);
          assert.ok(v >= 0n && v < 1n << 256n);
        } catch (err) {
          assert.ok(err instanceof ServiceError && err.code === 'BAD_TOKEN_AMOUNT', String(err));
        }
      }),
    );
  });
});
