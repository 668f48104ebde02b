/** The inbound connection limiter: a burst, then its rate; admitted peers' addresses always pass. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InboundLimiter } from '../src/p2p/admission/inbound-limit.ts';

describe('InboundLimiter', () => {
  test('takes a burst, then its rate; refuses the rest and reports refusals in batches', () => {
    let now = 1_000_000;
    const reports: number[] = [];
    const limiter = new InboundLimiter({
      perSecond: 10,
      burst: 5,
      isKnownAddress: (ip) => ip === '10.0.0.1',
      onRefused: (n) => reports.push(n),
      now: () => now,
    });
    const from = (ip: string) => limiter.allow(`/ip4/${ip}/tcp/4001`);
    const burst = Array.from({ length: 20 }, () => from('203.0.113.9'));
    assert.equal(burst.filter(Boolean).length, 5);
    // An admitted peer's address passes even with the bucket empty (a reconnect during a flood).
    assert.equal(from('10.0.0.1'), true);
    assert.equal(limiter.allow('/ip6/2001:db8::1/tcp/4001'), false);
    now += 1_000;
    const next = Array.from({ length: 20 }, () => from('198.51.100.7'));
    assert.equal(next.filter(Boolean).length, 5, 'refilled at 10/s, capped by the burst');
    now += 100;
    assert.equal(from('198.51.100.7'), true, 'one token after 100 ms at 10/s');
    assert.equal(from('198.51.100.7'), false);
    assert.ok(reports.length >= 1 && reports[0]! >= 1, 'refusals are reported, not logged one by one');
    assert.throws(() => new InboundLimiter({ perSecond: 0, isKnownAddress: () => false }), RangeError);
  });
});
