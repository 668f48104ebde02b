/** The join bundle's codec: round trips, and any other input is a BAD_JOIN_BUNDLE error (fast-check). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeJoinBundle,
  encodeJoinBundle,
  type JoinBundle,
  MAX_JOIN_BUNDLE_CHARS,
} from '../src/daemon/join-bundle.ts';
import { DaemonError } from '../src/daemon/errors.ts';

const hex40 = fc.stringMatching(/^[0-9a-fA-F]{40}$/).map((h) => `0x${h}`);
const peerId = fc.stringMatching(/^[1-9A-HJ-NP-Za-km-z]{46,53}$/);
const bundle: fc.Arbitrary<JoinBundle> = fc.record({
  v: fc.constant(1 as const),
  chainId: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  rpc: fc.array(
    fc
      .tuple(fc.constantFrom('http', 'https', 'ws', 'wss'), fc.ipV4(), fc.integer({ min: 1, max: 65535 }))
      .map(([s, ip, port]) => `${s}://${ip}:${port}`),
    { minLength: 1, maxLength: 8 },
  ),
  contracts: fc.record({
    token: hex40,
    registry: hex40,
    services: hex40,
    accessGrants: hex40,
    organizations: hex40,
    networkServiceId: fc.bigInt({ min: 1n, max: 2n ** 128n }).map(String),
  }),
  bootstrap: fc.array(
    fc
      .tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), peerId)
      .map(([ip, port, id]) => `/ip4/${ip}/tcp/${port}/p2p/${id}`),
    { maxLength: 16 },
  ),
});

const isBundleError = (err: unknown) => err instanceof DaemonError && err.code === 'BAD_JOIN_BUNDLE';

describe('join bundle', () => {
  test('every valid bundle round-trips, as compact base64url', () => {
    fc.assert(
      fc.property(bundle, (b) => {
        const text = encodeJoinBundle(b);
        assert.match(text, /^[A-Za-z0-9_-]+$/);
        assert.ok(text.length <= MAX_JOIN_BUNDLE_CHARS);
        assert.deepEqual(decodeJoinBundle(text), JSON.parse(JSON.stringify(b)));
      }),
    );
  });

  test('arbitrary text is refused with BAD_JOIN_BUNDLE, never another error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        assert.throws(() => decodeJoinBundle(s), isBundleError);
      }),
    );
  });

  test('arbitrary JSON is refused unless it is a bundle', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url');
        assert.throws(() => decodeJoinBundle(text), isBundleError);
      }),
    );
  });

  test('a bundle with one field changed to a wrong type or an extra field is refused and named', () => {
    fc.assert(
      fc.property(
        bundle,
        fc.constantFrom('chainId', 'rpc', 'contracts', 'bootstrap', 'extra'),
        fc.oneof(fc.string(), fc.integer({ max: 0 }), fc.constant(null), fc.constant([]), fc.constant({})),
        (b, key, value) => {
          const broken = { ...b, [key]: value } as Record<string, unknown>;
          if (key === 'bootstrap' && Array.isArray(value)) return; // an empty bootstrap list is fine
          const text = Buffer.from(JSON.stringify(broken)).toString('base64url');
          assert.throws(
            () => decodeJoinBundle(text),
            (err: unknown) => {
              return isBundleError(err) && /invalid at|version/.test((err as Error).message);
            },
          );
        },
      ),
    );
  });

  test('too long, another version, and bad addresses are refused with a reason', () => {
    assert.throws(() => decodeJoinBundle('A'.repeat(MAX_JOIN_BUNDLE_CHARS + 1)), /over 8192 characters/);
    const v2 = Buffer.from(JSON.stringify({ v: 2 })).toString('base64url');
    assert.throws(() => decodeJoinBundle(v2), /version 2; this node reads version 1/);
    const sample = fc.sample(bundle, 1)[0]!;
    const bad = { ...sample, contracts: { ...sample.contracts, registry: '0x1234' } };
    assert.throws(
      () => decodeJoinBundle(Buffer.from(JSON.stringify(bad)).toString('base64url')),
      /contracts\/registry/,
    );
  });
});
