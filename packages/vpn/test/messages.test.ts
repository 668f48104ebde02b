/** The VPN session messages: round trips, and strict refusal of anything else (fast-check). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import {
  decodeVpnMessage,
  encodeVpnMessage,
  MAX_VPN_MESSAGE_BYTES,
  type VpnGrant,
  VpnError,
  VpnMessageType,
  type VpnRequest,
} from '../src/index.ts';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const cidr = fc.tuple(fc.nat(0xffffffff), fc.integer({ min: 0, max: 32 })).map(([n, p]) => {
  const net = p === 0 ? 0 : (n & ((0xffffffff << (32 - p)) >>> 0)) >>> 0;
  return `${[net >>> 24, (net >>> 16) & 255, (net >>> 8) & 255, net & 255].join('.')}/${p}`;
});
const request = fc.record({
  type: fc.constant(VpnMessageType.REQUEST),
  publicKey: key,
  mode: fc.constantFrom('client' as const, 'site' as const),
});
const grant = fc.record({
  type: fc.constant(VpnMessageType.GRANT),
  publicKey: key,
  address: ip,
  gateway: ip,
  routes: fc.array(cidr, { maxLength: 16 }),
  port: fc.integer({ min: 1, max: 65535 }),
  hosts: fc.array(ip, { maxLength: 8 }),
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof VpnError, `expected a VpnError, got ${String(err)}`);
    return err.code;
  }
}

describe('vpn session messages', () => {
  it('every request and grant round-trips to the same value and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(request, grant), (msg: VpnRequest | VpnGrant) => {
        const bytes = encodeVpnMessage(msg);
        assert.ok(bytes.length <= MAX_VPN_MESSAGE_BYTES);
        const back = decodeVpnMessage(bytes);
        assert.deepEqual(
          { ...back, publicKey: [...back.publicKey] },
          { ...msg, publicKey: [...msg.publicKey] },
        );
        assert.deepEqual(encodeVpnMessage(back), bytes);
      }),
    );
  });

  it('random bytes never crash the decoder: a message or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        code(() => decodeVpnMessage(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('flipping any byte of a valid message gives a valid message or a typed error', () => {
    fc.assert(
      fc.property(grant, fc.nat(), fc.integer({ min: 1, max: 255 }), (msg, at, x) => {
        const bytes = encodeVpnMessage(msg);
        const copy = new Uint8Array(bytes);
        copy[at % copy.length]! ^= x;
        code(() => decodeVpnMessage(copy));
      }),
    );
  });

  it('refuses wrong versions, unknown types, short keys, bad addresses, non-canonical routes and oversize', () => {
    const k = new Uint8Array(32);
    assert.equal(
      code(() => decodeVpnMessage(cborEncode([2, 1, k, 0]))),
      'UNSUPPORTED_VERSION',
    );
    assert.equal(
      code(() => decodeVpnMessage(cborEncode([1, 9, k, 0]))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(cborEncode([1, 1, new Uint8Array(31), 0]))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(cborEncode([1, 1, k, 2]))),
      'MALFORMED',
    );
    const g = (address: unknown, routes: unknown, port: unknown = 51820) =>
      cborEncode([1, 2, k, address, '10.0.0.1', routes, port, []]);
    assert.equal(
      code(() => decodeVpnMessage(g('10.0.0.2', ['10.0.0.0/24']))),
      undefined,
    );
    assert.equal(
      code(() => decodeVpnMessage(g('10.0.0.256', []))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(g('10.0.0.2', ['10.0.0.1/24']))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(g('10.0.0.2', ['10.0.0.1']))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(g('10.0.0.2', [], 0))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(g('10.0.0.2', Array(17).fill('10.0.0.0/24')))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(new Uint8Array(MAX_VPN_MESSAGE_BYTES + 1))),
      'TOO_LARGE',
    );
    // A map instead of an array, and an indefinite-length array.
    assert.equal(
      code(() => decodeVpnMessage(cborEncode({ a: 1 }))),
      'MALFORMED',
    );
    assert.equal(
      code(() => decodeVpnMessage(Uint8Array.of(0x9f, 0x01, 0x01, 0xff))),
      'MALFORMED',
    );
  });
});
