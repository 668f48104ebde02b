import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { P2pError } from '../src/p2p/errors.ts';
import {
  type NodeRecord,
  nodeRecordKey,
  selectNodeRecord,
  signNodeRecord,
  verifyNodeRecord,
} from '../src/p2p/records.ts';
import { recordSigner } from './helpers.ts';

const signer = recordSigner;

function record(s: ReturnType<typeof signer>, over: Partial<NodeRecord> = {}): NodeRecord {
  const now = Date.now();
  return {
    address: s.address,
    peerId: s.peerId.toString(),
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001'],
    roles: 2,
    services: [1n, 2n],
    seq: 1n,
    issuedAt: now,
    expiresAt: now + 60_000,
    ...over,
  };
}

describe('node records', () => {
  it('verify what was signed, under its own key', async () => {
    const s = signer();
    const r = record(s);
    assert.deepEqual(await verifyNodeRecord(await signNodeRecord(s, r), nodeRecordKey(s.address)), r);
  });

  it('reject expired, future, wrong-key, wrong-signer and over-long records', async () => {
    const s = signer();
    const other = signer();
    const now = Date.now();
    const cases: Array<[string, Uint8Array, Uint8Array]> = [
      ['expired', await signNodeRecord(s, record(s, { expiresAt: now - 1 })), nodeRecordKey(s.address)],
      [
        'future',
        await signNodeRecord(s, record(s, { issuedAt: now + 3_600_000, expiresAt: now + 7_200_000 })),
        nodeRecordKey(s.address),
      ],
      ['wrong key', await signNodeRecord(s, record(s)), nodeRecordKey(other.address)],
      ['signer not owner', await signNodeRecord(other, record(s)), nodeRecordKey(s.address)],
      [
        'lifetime',
        await signNodeRecord(s, record(s, { expiresAt: now + 30 * 86_400_000 })),
        nodeRecordKey(s.address),
      ],
    ];
    for (const [name, bytes, key] of cases) {
      await assert.rejects(verifyNodeRecord(bytes, key), { code: 'INVALID_RECORD' }, name);
    }
  });

  it('reject every single-byte change of a signed record', async () => {
    const s = signer();
    const bytes = await signNodeRecord(s, record(s));
    for (let i = 0; i < bytes.length; i += 3) {
      const bad = bytes.slice();
      bad[i]! ^= 0x01;
      await assert.rejects(verifyNodeRecord(bad, nodeRecordKey(s.address)), P2pError);
    }
  });

  it('a record changed in place after it verified is checked again', async () => {
    const s = signer();
    const bytes = await signNodeRecord(s, record(s));
    await verifyNodeRecord(bytes, nodeRecordKey(s.address));
    // The same array object verified again (the DHT's validator, then the lookup) reuses the first
    // check; an array changed since must not.
    for (let i = 0; i < bytes.length; i += 7) {
      bytes[i]! ^= 0x01;
      await assert.rejects(verifyNodeRecord(bytes, nodeRecordKey(s.address)), P2pError);
      bytes[i]! ^= 0x01;
      assert.equal((await verifyNodeRecord(bytes, nodeRecordKey(s.address))).address, s.address);
    }
    // and the key and time checks still run on a reused check
    await assert.rejects(verifyNodeRecord(bytes, nodeRecordKey(signer().address)), {
      code: 'INVALID_RECORD',
    });
    await assert.rejects(verifyNodeRecord(bytes, nodeRecordKey(s.address), Date.now() + 365 * 86_400_000), {
      code: 'INVALID_RECORD',
    });
  });

  it('random bytes only ever fail with INVALID_RECORD', async () => {
    for (let i = 0; i < 1000; i++) {
      await assert.rejects(verifyNodeRecord(new Uint8Array(randomBytes(randomInt(0, 400)))), {
        code: 'INVALID_RECORD',
      });
    }
  });

  it('the selector prefers the highest valid seq', async () => {
    const s = signer();
    const key = nodeRecordKey(s.address);
    const values = [
      await signNodeRecord(s, record(s, { seq: 5n })),
      await signNodeRecord(s, record(s, { seq: 9n })),
      new Uint8Array(randomBytes(50)),
      await signNodeRecord(s, record(s, { seq: 7n })),
    ];
    assert.equal(await selectNodeRecord(key, values), 1);
  });
});
