/**
 * The inbound connection limiter: a burst, then its rate, shared and per address; admitted peers'
 * addresses always pass; the shared rate shrinks while the node is busy; a TCP listener with its
 * block list closes refused connections before making a socket of them.
 */
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { describe, test } from 'node:test';
import { INBOUND_BUSY_SHARE, INBOUND_TRACKED_ADDRESSES } from '../src/p2p/admission/constants.ts';
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
      load: () => 0,
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

  test('one address gets its own burst and rate; others still pass', () => {
    let now = 1_000_000;
    const limiter = new InboundLimiter({
      perSecond: 1_000,
      burst: 1_000,
      perIpPerSecond: 2,
      perIpBurst: 4,
      isKnownAddress: () => false,
      load: () => 0,
      now: () => now,
    });
    const flood = Array.from({ length: 50 }, () => limiter.allowIp('192.0.2.1'));
    assert.equal(flood.filter(Boolean).length, 4, 'the burst of one address');
    assert.equal(limiter.allowIp('192.0.2.2'), true, 'another address is not held back by it');
    assert.equal(limiter.allowIp('::ffff:192.0.2.1'), false, 'an IPv4-mapped address is the same address');
    now += 500;
    assert.equal(limiter.allowIp('192.0.2.1'), true, 'one token after 500 ms at 2/s');
    assert.equal(limiter.allowIp('192.0.2.1'), false);
  });

  test('the shared rate falls while the node is busy', () => {
    let now = 1_000_000;
    let load = 0;
    const limiter = new InboundLimiter({
      perSecond: 40,
      burst: 1,
      perIpPerSecond: 1_000,
      perIpBurst: 1_000,
      isKnownAddress: () => false,
      load: () => load,
      now: () => now,
    });
    const perSecond = () => {
      let n = 0;
      for (let ms = 0; ms < 1_000; ms += 5) {
        now += 5;
        if (limiter.allowIp('198.51.100.1')) n++;
      }
      return n;
    };
    assert.equal(perSecond(), 40);
    load = 0.95;
    assert.equal(perSecond(), 40 * INBOUND_BUSY_SHARE);
  });

  test('the addresses it tracks stay bounded under ever new ones', () => {
    let now = 1_000_000;
    const limiter = new InboundLimiter({ isKnownAddress: () => false, load: () => 0, now: () => now });
    for (let i = 0; i < 3 * INBOUND_TRACKED_ADDRESSES; i++) {
      now += 1;
      limiter.allowIp(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      assert.ok(limiter.trackedAddresses <= INBOUND_TRACKED_ADDRESSES);
    }
  });

  test('a listener with its block list closes refused connections before making a socket', async () => {
    const limiter = new InboundLimiter({
      perSecond: 1_000,
      burst: 1_000,
      perIpPerSecond: 0.001,
      perIpBurst: 3,
      isKnownAddress: () => false,
      load: () => 0,
    });
    let sockets = 0;
    const server = createServer({ blockList: limiter.blockList() }, (s) => {
      sockets++;
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      let closed = 0;
      for (let i = 0; i < 10; i++) {
        await new Promise<void>((resolve) => {
          const c = connect(port, '127.0.0.1');
          c.on('error', () => {});
          c.on('close', () => {
            closed++;
            resolve();
          });
          c.resume();
        });
      }
      assert.equal(closed, 10, 'every connection ended');
      assert.equal(sockets, 3, 'only the burst became sockets');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
