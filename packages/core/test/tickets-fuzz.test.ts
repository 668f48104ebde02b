import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from 'cborg';
import {
  DECODE_ERROR_CODES,
  decodeAuthenticator,
  decodeSealedTicket,
  decodeTicketBody,
  encodeTicketBody,
  MAX_AUTHENTICATOR_BYTES,
  MAX_TICKET_BYTES,
  TICKET_VERSION,
  type TicketBody,
  TicketError,
} from '../src/tickets/index.ts';
import { encodeAuthenticator, encodeAuthenticatorFields, encodeSealedTicket } from '../src/tickets/codec.ts';
import { makeWorld, NETWORK_SERVICE, TCP_SERVICE } from './tickets-helpers.ts';

/** Deterministic PRNG (mulberry32) so any failure reproduces from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** Random CBOR values of the kinds an attacker can encode, nested a little. */
function randomValue(rand: () => number, depth = 0): unknown {
  const r = Math.floor(rand() * (depth > 2 ? 6 : 8));
  switch (r) {
    case 0:
      return Math.floor(rand() * 2 ** Math.floor(rand() * 53));
    case 1:
      return -Math.floor(rand() * 1000);
    case 2:
      return randomBytes(rand, Math.floor(rand() * 40));
    case 3:
      return 'x'.repeat(Math.floor(rand() * 40));
    case 4:
      return rand() < 0.5 ? null : rand() < 0.5;
    case 5:
      return rand() * 1e6;
    case 6:
      return Array.from({ length: Math.floor(rand() * 14) }, () => randomValue(rand, depth + 1));
    default:
      return { a: randomValue(rand, depth + 1), b: 1 };
  }
}

/** Mutations of a valid input: flips, truncation, insertion, deletion, splicing of random bytes. */
function mutate(rand: () => number, input: Uint8Array): Uint8Array {
  const b = Array.from(input);
  const ops = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < ops; i++) {
    const pos = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 5)) {
      case 0:
        if (b.length) b[pos % b.length] = Math.floor(rand() * 256);
        break;
      case 1:
        b.length = pos;
        break;
      case 2:
        b.splice(pos, 0, Math.floor(rand() * 256));
        break;
      case 3:
        b.splice(pos, 1);
        break;
      default:
        b.splice(pos, 0, ...randomBytes(rand, Math.floor(rand() * 8)));
    }
  }
  return Uint8Array.from(b);
}

function onlyTypedErrors(decoder: (b: Uint8Array) => unknown, input: Uint8Array, label: string): boolean {
  try {
    decoder(input);
    return true;
  } catch (err) {
    assert.ok(
      err instanceof TicketError,
      `${label}: threw ${String(err)} on ${Buffer.from(input).toString('hex')}`,
    );
    assert.ok(DECODE_ERROR_CODES.includes(err.code), `${label}: unexpected code ${err.code}`);
    return false;
  }
}

describe('decoder fuzzing', async () => {
  const w = await makeWorld();
  const ticket = w.issue('service', TCP_SERVICE).ticket;
  const issued = w.issue('network', NETWORK_SERVICE);
  const authenticator = w.auth(issued, { challenge: new Uint8Array(32).fill(9) });
  const body: TicketBody = {
    v: TICKET_VERSION,
    kind: 'service',
    grantId: 2n ** 200n + 5n,
    chainId: 31337,
    contract: `0x${'ab'.repeat(20)}`,
    clientAddress: w.client.address,
    serviceId: 7n,
    serviceType: 'tcp',
    servicePeerId: w.node.peerId,
    issuedAt: 1_800_000_000_000,
    expiresAt: 1_800_000_600_000,
    nonce: new Uint8Array(16).fill(1),
    sessionKey: new Uint8Array(32).fill(2),
  };
  const bodyBytes = encodeTicketBody(body);
  const decoders = [
    { name: 'sealed ticket', decode: decodeSealedTicket, valid: ticket, max: MAX_TICKET_BYTES },
    { name: 'ticket body', decode: decodeTicketBody, valid: bodyBytes, max: MAX_TICKET_BYTES },
    {
      name: 'authenticator',
      decode: decodeAuthenticator,
      valid: authenticator,
      max: MAX_AUTHENTICATOR_BYTES,
    },
  ];

  for (const d of decoders) {
    it(`${d.name}: the valid encoding decodes and re-encodes identically`, () => {
      assert.ok(onlyTypedErrors(d.decode, d.valid, d.name));
    });

    it(`${d.name}: 5000 random inputs throw only typed decode errors`, () => {
      const rand = prng(0xd1b5 + d.max);
      for (let i = 0; i < 5000; i++) {
        const input =
          i % 2 === 0
            ? randomBytes(rand, Math.floor(rand() * (d.max + 64)))
            : encode(randomValue(rand) as never);
        onlyTypedErrors(d.decode, input, `${d.name} random #${i}`);
      }
    });

    it(`${d.name}: 5000 mutations of a valid input throw only typed decode errors`, () => {
      const rand = prng(0x5eed + d.max);
      let accepted = 0;
      for (let i = 0; i < 5000; i++) {
        const input = mutate(rand, d.valid);
        if (onlyTypedErrors(d.decode, input, `${d.name} mutation #${i}`)) accepted++;
      }
      // Mutations that still decode must be field changes, never a different framing of the same value.
      assert.ok(accepted < 5000);
    });

    it(`${d.name}: inputs over the bound are refused before decoding`, () => {
      // Garbage that would fail decoding: seeing TOO_LARGE shows the bound is checked first.
      for (const size of [d.max + 1, 64 * 1024, 16 * 1024 * 1024]) {
        const junk = new Uint8Array(size).fill(0xff);
        assert.throws(
          () => d.decode(junk),
          (e: unknown) => e instanceof TicketError && e.code === 'TOO_LARGE',
        );
      }
      const padded = new Uint8Array(d.max + 1);
      padded.set(d.valid);
      assert.throws(
        () => d.decode(padded),
        (e: unknown) => e instanceof TicketError && e.code === 'TOO_LARGE',
      );
      // A length prefix claiming far more than the input holds fails without allocating it.
      const claim = Uint8Array.of(0x86, TICKET_VERSION, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
      assert.throws(
        () => d.decode(claim),
        (e: unknown) => e instanceof TicketError && e.code === 'DECODE',
      );
      const arrayClaim = Uint8Array.of(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
      assert.throws(
        () => d.decode(arrayClaim),
        (e: unknown) => e instanceof TicketError && e.code === 'DECODE',
      );
    });
  }

  it('whatever a decoder accepts re-encodes to the identical bytes (one encoding per value)', () => {
    const reencoders = [
      {
        decode: decodeSealedTicket,
        encode: (b: Uint8Array) => {
          const t = decodeSealedTicket(b);
          return encodeSealedTicket(t.header, t.ciphertext);
        },
        valid: ticket,
      },
      {
        decode: decodeTicketBody,
        encode: (b: Uint8Array) => encodeTicketBody(decodeTicketBody(b)),
        valid: bodyBytes,
      },
      {
        decode: decodeAuthenticator,
        encode: (b: Uint8Array) => {
          const a = decodeAuthenticator(b);
          assert.deepEqual(a.macInput, encodeAuthenticatorFields(a));
          return encodeAuthenticator(a, a.mac);
        },
        valid: authenticator,
      },
    ];
    const rand = prng(0xca70);
    let accepted = 0;
    for (const r of reencoders) {
      for (let i = 0; i < 3000; i++) {
        const input = i === 0 ? r.valid : mutate(rand, r.valid);
        if (!onlyTypedErrors(r.decode, input, 're-encode')) continue;
        accepted++;
        assert.deepEqual(
          r.encode(input),
          input,
          `accepted a non-canonical ${Buffer.from(input).toString('hex')}`,
        );
      }
    }
    assert.ok(accepted >= reencoders.length);
  });

  it('non-canonical encodings of valid values are refused', () => {
    // Same authenticator with its timestamp as a float, and with a non-minimal length: both must fail.
    const fields = [
      TICKET_VERSION,
      new Uint8Array(32),
      1_800_000_000_000,
      new Uint8Array(16),
      w.client.peerId,
      w.node.peerId,
      new Uint8Array(0),
      new Uint8Array(32),
    ];
    const ok = encode(fields);
    assert.equal(decodeAuthenticator(ok).timestamp, 1_800_000_000_000);
    const nonMinimal = Uint8Array.from([0x98, 0x08, ...ok.subarray(1)]);
    assert.throws(
      () => decodeAuthenticator(nonMinimal),
      (e: unknown) => e instanceof TicketError && e.code === 'DECODE',
    );
    const asFloat = encode([
      TICKET_VERSION,
      new Uint8Array(32),
      1.5,
      new Uint8Array(16),
      w.client.peerId,
      w.node.peerId,
      new Uint8Array(0),
      new Uint8Array(32),
    ]);
    assert.throws(
      () => decodeAuthenticator(asFloat),
      (e: unknown) => e instanceof TicketError && e.code === 'DECODE',
    );
    // A body whose issuedAt is written as a float64 with an integral value.
    const b = Array.from(bodyBytes);
    const intItem = encode(body.issuedAt);
    const at = Buffer.from(bodyBytes).indexOf(Buffer.from(intItem));
    assert.ok(at > 0);
    const f = new DataView(new ArrayBuffer(9));
    f.setUint8(0, 0xfb);
    f.setFloat64(1, body.issuedAt);
    b.splice(at, intItem.length, ...new Uint8Array(f.buffer));
    assert.throws(
      () => decodeTicketBody(Uint8Array.from(b)),
      (e: unknown) => e instanceof TicketError && e.code === 'DECODE',
    );
  });

  it('unknown versions are reported as such', () => {
    // Both the next version and the previous one (v1 sealed with an ephemeral key) are refused by name.
    for (const v of [TICKET_VERSION + 1, TICKET_VERSION - 1]) {
      for (const [decoder, valid] of [
        [decodeAuthenticator, authenticator],
        [decodeSealedTicket, ticket],
        [decodeTicketBody, bodyBytes],
      ] as const) {
        const other = Uint8Array.from(valid);
        other[1] = v;
        assert.throws(
          () => decoder(other),
          (e: unknown) => e instanceof TicketError && e.code === 'UNSUPPORTED_VERSION',
        );
      }
    }
  });

  it('verify never throws anything but TicketError on mutated tickets and authenticators', () => {
    const rand = prng(77);
    const t = w.issue('service', TCP_SERVICE);
    for (let i = 0; i < 2000; i++) {
      const mutateTicket = i % 2 === 0;
      const tk = mutateTicket ? mutate(rand, t.ticket) : t.ticket;
      const au = mutateTicket ? w.auth(t) : mutate(rand, w.auth(t));
      try {
        w.verifier.verify({ ticket: tk, authenticator: au, remotePeerId: w.client.peerId });
      } catch (err) {
        assert.ok(err instanceof TicketError, `verify threw ${String(err)}`);
      }
    }
  });
});
