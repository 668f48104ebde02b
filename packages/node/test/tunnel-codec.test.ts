import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { encode as cborEncode } from 'cborg';
import fc from 'fast-check';
import { dataLabelRefusal } from '../src/tunnel/preamble.ts';
import {
  DATA_MAGIC,
  dataLabel,
  MAX_DATA_LABEL_BYTES,
  TUNNEL_VERSION,
  chooseDestination,
  compileRules,
  decodeTunnelMessage,
  deriveDataKeys,
  encodeTunnelMessage,
  isAllowed,
  COMPACT_RECORD_BYTES,
  MAX_CONTROL_MESSAGE_BYTES,
  MAX_RECORD_PLAINTEXT,
  RECORD_COMPACT,
  RecordOpener,
  RecordSealer,
  TunnelError,
  type TunnelMessage,
  TunnelMessageType,
} from '../src/tunnel/index.ts';

/** A deterministic generator so a failing fuzz case can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}

function sample(next: () => number): TunnelMessage {
  const pick = Math.floor(next() * 6);
  if (pick === 4) {
    return { type: TunnelMessageType.PAIR_REQUEST, ...(next() < 0.5 ? { datagrams: true } : {}) };
  }
  if (pick === 5) {
    return {
      type: TunnelMessageType.PAIR,
      port: 1 + Math.floor(next() * 65535),
      hosts: next() < 0.5 ? [] : ['10.0.0.1', 'relay.example'],
      hostToken: bytes(next, 16),
      clientToken: bytes(next, 16),
      ...(next() < 0.5
        ? { udp: { host: 1 + Math.floor(next() * 65535), client: 1 + Math.floor(next() * 65535) } }
        : {}),
    };
  }
  if (pick === 0) return { type: TunnelMessageType.CHALLENGE, challenge: bytes(next, 32) };
  if (pick === 1) {
    return {
      type: TunnelMessageType.OPEN,
      ticket: bytes(next, 1 + Math.floor(next() * 1000)),
      authenticator: bytes(next, 1 + Math.floor(next() * 200)),
      destination:
        next() < 0.5
          ? null
          : { host: `h${Math.floor(next() * 1e6)}.example`, port: 1 + Math.floor(next() * 65535) },
      clientNonce: bytes(next, 32),
      wantData: next() < 0.5,
      // An L3 VPN request rides as opaque bytes (its own schema is @dibs/vpn's).
      ...(next() < 0.3 ? { vpn: bytes(next, 1 + Math.floor(next() * 1024)) } : {}),
    };
  }
  if (pick === 2) {
    const ok = next() < 0.5;
    return {
      type: TunnelMessageType.RESULT,
      code: ok ? 'OK' : 'TICKET_REFUSED',
      message: ok ? '' : 'refused: grant 7 was revoked',
      sessionId: ok ? bytes(next, 16) : new Uint8Array(0),
      offer:
        ok && next() < 0.7
          ? {
              port: 1 + Math.floor(next() * 65535),
              hosts: ['127.0.0.1', '::1'],
              serverNonce: bytes(next, 32),
              ...(next() < 0.5
                ? {
                    relayToken: bytes(next, 16),
                    ...(next() < 0.5 ? { udpPort: 1 + Math.floor(next() * 65535) } : {}),
                  }
                : {}),
            }
          : null,
      ...(ok && next() < 0.3 ? { vpn: bytes(next, 1 + Math.floor(next() * 1024)) } : {}),
    };
  }
  return { type: TunnelMessageType.START, channel: next() < 0.5 ? 'data' : 'stream' };
}

describe('tunnel control messages', () => {
  test('the vpn field: bounded, bytes only, absent keeps the old encoding', () => {
    const open = {
      type: TunnelMessageType.OPEN,
      ticket: new Uint8Array(10).fill(1),
      authenticator: new Uint8Array(10).fill(2),
      destination: null,
      clientNonce: new Uint8Array(32),
      wantData: true,
    } as const;
    const plain = encodeTunnelMessage(open);
    assert.equal(decodeTunnelMessage(plain).type, TunnelMessageType.OPEN);
    assert.ok(!('vpn' in decodeTunnelMessage(plain)));
    const withVpn = decodeTunnelMessage(encodeTunnelMessage({ ...open, vpn: new Uint8Array(40).fill(3) }));
    assert.deepEqual((withVpn as { vpn?: Uint8Array }).vpn, new Uint8Array(40).fill(3));
    const wire = (vpn: unknown) =>
      cborEncode([
        1,
        TunnelMessageType.OPEN,
        open.ticket,
        open.authenticator,
        null,
        open.clientNonce,
        true,
        vpn,
      ]);
    assert.throws(
      () => decodeTunnelMessage(wire(new Uint8Array(1025))),
      (e: TunnelError) => e.code === 'MALFORMED',
    );
    assert.throws(
      () => decodeTunnelMessage(wire('text')),
      (e: TunnelError) => e.code === 'MALFORMED',
    );
    assert.throws(
      () => decodeTunnelMessage(wire(new Uint8Array(0))),
      (e: TunnelError) => e.code === 'MALFORMED',
    );
  });

  test('every message round-trips and re-encodes to the same bytes', () => {
    const next = rng(1);
    for (let i = 0; i < 500; i++) {
      const msg = sample(next);
      const wire = encodeTunnelMessage(msg);
      const back = decodeTunnelMessage(wire);
      assert.deepEqual(back, msg);
      assert.deepEqual(encodeTunnelMessage(back), wire);
    }
  });

  test('random bytes and mutations never crash: only typed errors', () => {
    const next = rng(2);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      let input: Uint8Array;
      if (i % 2 === 0) {
        input = bytes(next, Math.floor(next() * 200));
      } else {
        input = encodeTunnelMessage(sample(next)).slice();
        const flips = 1 + Math.floor(next() * 4);
        for (let f = 0; f < flips; f++) {
          const at = Math.floor(next() * input.length);
          input[at] = input[at]! ^ (1 << Math.floor(next() * 8));
        }
      }
      try {
        const msg = decodeTunnelMessage(input);
        // Anything accepted is canonical: it re-encodes to exactly the input.
        assert.deepEqual(encodeTunnelMessage(msg), input);
        accepted++;
      } catch (err) {
        assert.ok(err instanceof TunnelError, `typed error, got ${err}`);
        assert.ok(['MALFORMED', 'TOO_LARGE', 'UNSUPPORTED_VERSION'].includes(err.code));
      }
    }
    assert.ok(accepted < 3000);
  });

  test('oversized, non-canonical, wrong-version and off-schema input is refused with its code', () => {
    const big = new Uint8Array(MAX_CONTROL_MESSAGE_BYTES + 1);
    assert.throws(() => decodeTunnelMessage(big), { code: 'TOO_LARGE' });
    assert.throws(() => decodeTunnelMessage(new Uint8Array(cborEncode([2, 1, new Uint8Array(32)]))), {
      code: 'UNSUPPORTED_VERSION',
    });
    assert.throws(() => decodeTunnelMessage(new Uint8Array(cborEncode([1, 1, new Uint8Array(31)]))), {
      code: 'MALFORMED',
    });
    assert.throws(() => decodeTunnelMessage(new Uint8Array(cborEncode([1, 9]))), { code: 'MALFORMED' });
    // 1 encoded in two bytes (0x18 0x01) instead of one: same value, not canonical.
    assert.throws(() => decodeTunnelMessage(Uint8Array.of(0x83, 0x18, 0x01, 0x04, 0x00)), {
      code: 'MALFORMED',
    });
    const destination = [
      1,
      2,
      new Uint8Array(10),
      new Uint8Array(10),
      ['bad host/x', 80],
      new Uint8Array(32),
      true,
    ];
    assert.throws(() => decodeTunnelMessage(new Uint8Array(cborEncode(destination))), { code: 'MALFORMED' });
    const port = [
      1,
      2,
      new Uint8Array(10),
      new Uint8Array(10),
      ['ok.example', 70000],
      new Uint8Array(32),
      true,
    ];
    assert.throws(() => decodeTunnelMessage(new Uint8Array(cborEncode(port))), { code: 'MALFORMED' });
    const t16 = new Uint8Array(16);
    const refuse = (v: unknown[]) =>
      assert.throws(() => decodeTunnelMessage(new Uint8Array(cborEncode(v))), { code: 'MALFORMED' });
    refuse([1, 5, 0]);
    refuse([1, 6, 80, [], t16, new Uint8Array(15)]);
    refuse([1, 6, 0, [], t16, t16]);
    refuse([1, 6, 80, ['a b'], t16, t16]);
    refuse([1, 3, 'OK', '', t16, [80, [], new Uint8Array(32), new Uint8Array(17)]]);
    refuse([1, 3, 'OK', '', t16, [80, [], new Uint8Array(32), t16, t16]]);
    // The datagram relay's fields: the request's flag only as `true`, ports in range, a UDP port only
    // behind a relay token.
    refuse([1, 5, false]);
    refuse([1, 5, true, true]);
    refuse([1, 6, 80, [], t16, t16, [0, 80]]);
    refuse([1, 6, 80, [], t16, t16, [80]]);
    refuse([1, 6, 80, [], t16, t16, [80, 70000]]);
    refuse([1, 3, 'OK', '', t16, [80, [], new Uint8Array(32), t16, 0]]);
    refuse([1, 3, 'OK', '', t16, [80, [], new Uint8Array(32), t16, 80, 81]]);
    const withUdp = decodeTunnelMessage(
      new Uint8Array(cborEncode([1, 3, 'OK', '', t16, [80, ['10.0.0.1'], new Uint8Array(32), t16, 4242]])),
    );
    assert.equal(withUdp.type === TunnelMessageType.RESULT && withUdp.offer?.udpPort, 4242);
    const pairUdp = decodeTunnelMessage(new Uint8Array(cborEncode([1, 6, 80, [], t16, t16, [81, 82]])));
    assert.deepEqual(pairUdp.type === TunnelMessageType.PAIR && pairUdp.udp, { host: 81, client: 82 });
    const good = decodeTunnelMessage(
      new Uint8Array(cborEncode([1, 3, 'OK', '', t16, [80, ['10.0.0.1'], new Uint8Array(32), t16]])),
    );
    assert.equal(good.type === TunnelMessageType.RESULT && good.offer?.relayToken?.length, 16);
  });
});

function keys() {
  return deriveDataKeys({
    sessionKey: randomBytes(32),
    challenge: randomBytes(32),
    clientNonce: randomBytes(32),
    serverNonce: randomBytes(32),
    clientPeerId: randomBytes(39),
    serverPeerId: randomBytes(39),
    sessionId: randomBytes(16),
  });
}

/** Most bytes an opener may hold for one unfinished record. */
const RECORD_BOUND = 4 + MAX_RECORD_PLAINTEXT + 16;

function wire(parts: Buffer[][]): Buffer {
  return Buffer.concat(parts.flat());
}

describe('data-channel records', () => {
  test('keys differ per direction and per input; records round-trip across arbitrary splits', () => {
    const k = keys();
    assert.notDeepEqual(k.clientToServer, k.serverToClient);
    assert.notDeepEqual(keys().clientToServer, k.clientToServer);
    const next = rng(3);
    const sealer = new RecordSealer(k.clientToServer);
    const opener = new RecordOpener(k.clientToServer);
    const payloads = Array.from({ length: 40 }, () => Buffer.from(bytes(next, Math.floor(next() * 70_000))));
    const stream = wire([...payloads.map((p) => sealer.seal(p)), sealer.seal(new Uint8Array(0), true)]);
    const got: Buffer[] = [];
    let fin = false;
    for (let at = 0; at < stream.length; ) {
      const n = 1 + Math.floor(next() * 50_000);
      for (const r of opener.push(stream.subarray(at, at + n))) {
        if (r.fin) fin = true;
        else got.push(r.plaintext);
      }
      at += n;
    }
    assert.ok(fin);
    assert.deepEqual(Buffer.concat(got), Buffer.concat(payloads));
  });

  test('a flipped bit anywhere, a replayed, reordered or cut record is rejected', () => {
    const k = keys();
    const sealer = new RecordSealer(k.serverToClient);
    const a = wire([sealer.seal(Buffer.from('first record'))]);
    const b = wire([sealer.seal(Buffer.from('second record'))]);
    // Both ciphers: a compact record (ChaCha20-Poly1305) and a bulk one (AES-GCM), every bit of each,
    // the header's FIN and compact flags included.
    const bulkSealer = new RecordSealer(k.serverToClient);
    const bulk = wire([bulkSealer.seal(Buffer.alloc(COMPACT_RECORD_BYTES + 1, 7))]);
    assert.equal(a.readUInt32BE(0) & RECORD_COMPACT, RECORD_COMPACT, 'a small record is compact');
    assert.equal(bulk.readUInt32BE(0) & RECORD_COMPACT, 0, 'a bigger one is not');
    for (const record of [a, bulk]) {
      for (let bit = 0; bit < record.length * 8; bit++) {
        const bad = Buffer.from(record);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        let delivered: unknown[] = [];
        try {
          // A longer length waits for bytes that never come (a cut, seen when the socket ends); nothing is delivered.
          delivered = new RecordOpener(k.serverToClient).push(bad);
        } catch (err) {
          assert.ok(
            err instanceof TunnelError && ['RECORD_REJECTED', 'TOO_LARGE'].includes(err.code),
            `flip of bit ${bit}`,
          );
        }
        assert.deepEqual(delivered, [], `flip of bit ${bit} delivered nothing`);
      }
    }
    // A compact record may not announce more than COMPACT_RECORD_BYTES (bounds the gathering).
    const bigCompact = Buffer.alloc(4);
    bigCompact.writeUInt32BE(RECORD_COMPACT + COMPACT_RECORD_BYTES + 1);
    assert.throws(() => new RecordOpener(k.serverToClient).push(bigCompact), { code: 'TOO_LARGE' });
    const replay = new RecordOpener(k.serverToClient);
    replay.push(a);
    assert.throws(() => replay.push(a), { code: 'RECORD_REJECTED' });
    assert.throws(() => new RecordOpener(k.serverToClient).push(b), { code: 'RECORD_REJECTED' }, 'reordered');
    assert.throws(
      () => new RecordOpener(k.clientToServer).push(a),
      { code: 'RECORD_REJECTED' },
      'other direction',
    );
    const oversize = Buffer.alloc(4);
    oversize.writeUInt32BE(MAX_RECORD_PLAINTEXT + 1);
    assert.throws(() => new RecordOpener(k.serverToClient).push(oversize), { code: 'TOO_LARGE' });
    const fin = new RecordSealer(k.serverToClient);
    const finWire = wire([fin.seal(new Uint8Array(0), true)]);
    const afterFin = new RecordOpener(k.serverToClient);
    assert.throws(() => afterFin.push(Buffer.concat([finWire, Buffer.of(1)])), { code: 'RECORD_REJECTED' });
  });
});

describe('data-channel records, streamed opening', () => {
  test('byte-by-byte and whole-stream feeding deliver the same bytes; small and big records alike', () => {
    const k = keys();
    const next = rng(11);
    const sizes = [
      0,
      1,
      2,
      15,
      16,
      17,
      COMPACT_RECORD_BYTES - 1,
      COMPACT_RECORD_BYTES,
      COMPACT_RECORD_BYTES + 1,
      4096,
      16 * 1024,
      16 * 1024 + 1,
      100_000,
      MAX_RECORD_PLAINTEXT,
    ];
    const payloads = sizes.map((n) => Buffer.from(bytes(next, n)));
    const sealer = new RecordSealer(k.clientToServer);
    const records = payloads.map((p) => sealer.seal(p));
    // Small records go out as one buffer, big ones as header, body and tag; up to
    // COMPACT_RECORD_BYTES they are compact (ChaCha20-Poly1305).
    const compact = (n: number) => (records[sizes.indexOf(n)]![0]!.readUInt32BE(0) & RECORD_COMPACT) !== 0;
    assert.ok(compact(1) && compact(COMPACT_RECORD_BYTES));
    assert.ok(!compact(COMPACT_RECORD_BYTES + 1) && !compact(16 * 1024));
    assert.equal(records[sizes.indexOf(16 * 1024)]!.length, 1);
    assert.equal(records[sizes.indexOf(16 * 1024 + 1)]!.length, 3);
    const stream = wire([...records, sealer.seal(new Uint8Array(0), true)]);
    const whole: Buffer[] = [];
    let fins = 0;
    new RecordOpener(k.clientToServer).feed(stream, (parts, fin) => {
      if (fin) fins++;
      else whole.push(Buffer.concat(parts));
    });
    assert.equal(fins, 1);
    assert.deepEqual(whole, payloads);
    const slow = new RecordOpener(k.clientToServer);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      slow.feed(stream.subarray(i, i + 1), (parts, fin) => {
        if (!fin) got.push(Buffer.concat(parts));
      });
      if (i < stream.length - 1) assert.ok(slow.buffered <= RECORD_BOUND, `bounded at byte ${i}`);
    }
    assert.ok(slow.ended);
    assert.deepEqual(Buffer.concat(got), Buffer.concat(payloads));
  });

  test('a record whose tag fails delivers none of its plaintext, however it was split', () => {
    const k = keys();
    const next = rng(12);
    for (let round = 0; round < 30; round++) {
      const sealer = new RecordSealer(k.serverToClient);
      const good = wire([sealer.seal(Buffer.from(bytes(next, 1 + Math.floor(next() * 200_000))))]);
      const bad = wire([sealer.seal(Buffer.from(bytes(next, 1 + Math.floor(next() * 200_000))))]);
      // Flip one bit in the second record's body or tag.
      bad[4 + Math.floor(next() * (bad.length - 4))]! ^= 1 << Math.floor(next() * 8);
      const all = Buffer.concat([good, bad]);
      const opener = new RecordOpener(k.serverToClient);
      let delivered = 0;
      assert.throws(
        () => {
          for (let at = 0; at < all.length; ) {
            const n = 1 + Math.floor(next() * 70_000);
            opener.feed(all.subarray(at, at + n), (parts) => {
              for (const p of parts) delivered += p.length;
            });
            at += n;
          }
        },
        { code: 'RECORD_REJECTED' },
      );
      assert.equal(delivered, good.length - 20, `round ${round}: only the good record arrived`);
    }
  });
});

describe('vpn destination rules', () => {
  const rules = compileRules([
    {
      cidr: '10.1.0.0/16',
      ports: [
        [22, 22],
        [8000, 8100],
      ],
    },
    { cidr: '192.168.5.7' },
  ]);

  test('CIDR and port ranges', () => {
    assert.equal(isAllowed(rules, '10.1.200.3', 22), true);
    assert.equal(isAllowed(rules, '10.1.200.3', 8050), true);
    assert.equal(isAllowed(rules, '10.1.200.3', 23), false);
    assert.equal(isAllowed(rules, '10.2.0.1', 22), false);
    assert.equal(isAllowed(rules, '192.168.5.7', 1), true);
    assert.equal(isAllowed(rules, '192.168.5.8', 1), false);
    assert.equal(isAllowed(rules, 'not-an-ip', 22), false);
  });

  test('names resolve at the exit and the resolved IP is what is checked and dialed', async () => {
    const service = { serviceId: 1n, serviceType: 'vpn', allow: [{ cidr: '127.0.0.0/8' }] };
    const resolve = async (h: string) => (h === 'inside.corp' ? ['127.0.0.9'] : ['93.184.216.34']);
    assert.deepEqual(await chooseDestination(service, { host: 'inside.corp', port: 5432 }, resolve), {
      host: '127.0.0.9',
      port: 5432,
    });
    await assert.rejects(chooseDestination(service, { host: 'outside.example', port: 80 }, resolve), {
      code: 'DESTINATION_NOT_ALLOWED',
    });
    await assert.rejects(chooseDestination(service, null, resolve), { code: 'DESTINATION_REQUIRED' });
    await assert.rejects(
      chooseDestination({ serviceId: 2n, serviceType: 'vpn' }, { host: '127.0.0.1', port: 1 }),
      {
        code: 'DESTINATION_NOT_ALLOWED',
      },
    );
    const tcp = { serviceId: 3n, serviceType: 'tcp', target: { host: '127.0.0.1', port: 5000 } };
    assert.deepEqual(await chooseDestination(tcp, null), { host: '127.0.0.1', port: 5000 });
    await assert.rejects(chooseDestination(tcp, { host: '127.0.0.1', port: 22 }), {
      code: 'DESTINATION_NOT_ALLOWED',
    });
    await assert.rejects(chooseDestination({ serviceId: 4n, serviceType: 'network' }, null), {
      code: 'NOT_A_TUNNEL_SERVICE',
    });
  });
});

describe('data-channel network label', () => {
  const preamble = (label: Uint8Array, declared = label.length) =>
    Buffer.concat([
      Buffer.from(DATA_MAGIC),
      Buffer.of(TUNNEL_VERSION),
      randomBytes(16),
      Buffer.of(declared),
      label,
      randomBytes(20),
    ]);

  test('a preamble passes only with exactly the port’s own label; any other is refused with a bounded reason', () => {
    const labelBytes = fc.uint8Array({ maxLength: MAX_DATA_LABEL_BYTES });
    fc.assert(
      fc.property(labelBytes, labelBytes, fc.integer({ min: 0, max: 255 }), (ours, theirs, declared) => {
        const honest = dataLabelRefusal(preamble(theirs), ours);
        assert.equal(honest === undefined, Buffer.from(ours).equals(Buffer.from(theirs)));
        // A length byte that lies is refused unless it happens to tell our label's length and bytes.
        const lying = dataLabelRefusal(preamble(theirs, declared), ours);
        if (declared !== ours.length) assert.ok(lying);
        for (const r of [honest, lying]) if (r) assert.ok(r.length < 300 && /^[\x20-\x7e]+$/.test(r));
      }),
      { numRuns: 500 },
    );
    assert.equal(dataLabelRefusal(preamble(new Uint8Array(0)), new Uint8Array(0)), undefined);
    assert.match(
      dataLabelRefusal(
        preamble(Buffer.from(dataLabel('dibs/org/b/2'))),
        Buffer.from(dataLabel('dibs/org/a/1')),
      )!,
      /network label "dibs\/org\/b\/2" is not this port's \("dibs\/org\/a\/1"\)/,
    );
    assert.equal(dataLabel(), '', 'the public network carries an empty label');
  });
});
