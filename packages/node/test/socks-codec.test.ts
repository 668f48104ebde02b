import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  encodeRequest,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  parseGreeting,
  parseRequest,
  REPLY_ADDRESS_TYPE_NOT_SUPPORTED,
  REPLY_COMMAND_NOT_SUPPORTED,
  type SocksDestination,
  SocksError,
} from '../src/socks/index.ts';

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomDestination(r: () => number): SocksDestination {
  const port = Math.floor(r() * 65536);
  const kind = Math.floor(r() * 3);
  if (kind === 0) {
    return { type: 'ipv4', host: [0, 1, 2, 3].map(() => Math.floor(r() * 256)).join('.'), port };
  }
  if (kind === 1) {
    const groups = Array.from({ length: 8 }, () => (r() < 0.4 ? 0 : Math.floor(r() * 65536)).toString(16));
    // Parse our own encoding back to get the canonical text, then compare by bytes below.
    return { type: 'ipv6', host: groups.join(':'), port };
  }
  const n = 1 + Math.floor(r() * 255);
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789-.';
  let host = '';
  for (let i = 0; i < n; i++) host += chars[Math.floor(r() * chars.length)];
  return { type: 'domain', host, port };
}

describe('SOCKS5 codec', () => {
  it('round-trips random requests of every address type, at every split point', () => {
    const r = rng(1928);
    for (let i = 0; i < 400; i++) {
      const d = randomDestination(r);
      const bytes = encodeRequest(d);
      assert.ok(bytes.length <= MAX_REQUEST_BYTES);
      const parsed = parseRequest(bytes);
      assert.ok(parsed, `request ${i} parses`);
      assert.equal(parsed.length, bytes.length);
      assert.equal(parsed.destination.type, d.type);
      assert.equal(parsed.destination.port, d.port);
      // Re-encoding the parsed destination gives the same bytes (IPv6 text is canonicalised).
      assert.deepEqual(encodeRequest(parsed.destination), bytes);
      if (d.type !== 'ipv6') assert.equal(parsed.destination.host, d.host);
      for (let cut = 0; cut < bytes.length; cut++) {
        assert.equal(parseRequest(bytes.subarray(0, cut)), undefined, `prefix ${cut} of ${i} is incomplete`);
      }
    }
  });

  it('canonicalises IPv6 per RFC 5952 and keeps domain names as names', () => {
    const v6 = parseRequest(encodeRequest({ type: 'ipv6', host: '2001:db8:0:0:0:0:0:1', port: 443 }));
    assert.equal(v6?.destination.host, '2001:db8::1');
    const loop = parseRequest(encodeRequest({ type: 'ipv6', host: '::1', port: 80 }));
    assert.equal(loop?.destination.host, '::1');
    const name = parseRequest(encodeRequest({ type: 'domain', host: 'web.dibs', port: 80 }));
    assert.deepEqual(name?.destination, { type: 'domain', host: 'web.dibs', port: 80 });
  });

  it('answers unsupported commands with 0x07 and unknown address types with 0x08', () => {
    const bind = encodeRequest({ type: 'ipv4', host: '10.0.0.1', port: 1 }, 0x02);
    assert.throws(
      () => parseRequest(bind),
      (e: unknown) => e instanceof SocksError && e.reply === REPLY_COMMAND_NOT_SUPPORTED,
    );
    assert.throws(
      () => parseRequest(Uint8Array.of(5, 1, 0, 9, 1, 2, 3, 4, 0, 80)),
      (e: unknown) => e instanceof SocksError && e.reply === REPLY_ADDRESS_TYPE_NOT_SUPPORTED,
    );
    assert.throws(() => parseRequest(Uint8Array.of(4, 1, 0, 80)), { code: 'BAD_VERSION' });
    assert.throws(() => parseRequest(Uint8Array.of(5, 1, 0, 3, 0, 0, 80)), { code: 'BAD_ADDRESS' });
    assert.throws(() => parseRequest(Uint8Array.of(5, 1, 0, 3, 1, 0x0a, 0, 80)), { code: 'BAD_ADDRESS' });
  });

  it('parses greetings and bounds them', () => {
    assert.deepEqual(parseGreeting(Uint8Array.of(5, 2, 0, 2)), { methods: [0, 2], length: 4 });
    assert.equal(parseGreeting(Uint8Array.of(5, 3, 0)), undefined);
    assert.throws(() => parseGreeting(Uint8Array.of(5, 0)), { code: 'NO_METHODS' });
    assert.throws(() => parseGreeting(Uint8Array.of(4, 1, 0)), { code: 'BAD_VERSION' });
    const full = new Uint8Array(MAX_GREETING_BYTES).fill(0);
    full[0] = 5;
    full[1] = 255;
    assert.equal(parseGreeting(full)?.length, MAX_GREETING_BYTES);
  });

  it('random bytes never crash the parsers: each answer is undefined, a bounded message or a SocksError', () => {
    const r = rng(42);
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(r() * 300);
      const bytes = randomBytes(len);
      // Half the cases start like SOCKS5 so the deeper branches are reached.
      if (r() < 0.5 && len > 0) bytes[0] = 5;
      if (r() < 0.5 && len > 2) bytes[2] = 0;
      for (const parse of [parseGreeting, parseRequest]) {
        try {
          const out = parse(bytes);
          if (out) assert.ok(out.length <= bytes.length && out.length <= MAX_REQUEST_BYTES);
        } catch (err) {
          assert.ok(err instanceof SocksError, `case ${i}: ${(err as Error).message}`);
          assert.ok(err.reply >= 1 && err.reply <= 8);
        }
      }
    }
  });
});
