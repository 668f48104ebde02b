import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  OrgNetworkError,
  orgAddressKey,
  orgAddressRecordRules,
  orgProtocolPrefix,
  parseOrgId,
  verifyOrgAddressRecord,
  wireLabel,
} from '../src/orgs/index.ts';
import { P2pError } from '../src/p2p/errors.ts';
import { type NodeRecord, signNodeRecord } from '../src/p2p/records.ts';
import { signOrgAddressRecord } from '../src/orgs/index.ts';
import { recordSigner } from './helpers.ts';

const signer = recordSigner;

function record(s: ReturnType<typeof signer>, seq = 1n): NodeRecord {
  const now = Date.now();
  return {
    address: s.address,
    peerId: s.peerId.toString(),
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001'],
    roles: 0,
    services: [],
    seq,
    issuedAt: now,
    expiresAt: now + 60_000,
  };
}

describe('organization address records', () => {
  it('verify under their own organization and address only', async () => {
    const s = signer();
    const value = await signOrgAddressRecord(s, record(s));
    // The same record signed as a public node record is not an organization address record.
    await assert.rejects(
      verifyOrgAddressRecord(await signNodeRecord(s, record(s, 99n)), orgAddressKey(3n, s.address)),
      (e: unknown) => e instanceof P2pError && e.code === 'INVALID_RECORD',
    );
    const r = await verifyOrgAddressRecord(value, orgAddressKey(3n, s.address));
    assert.equal(r.address, s.address);
    // Another node's key, a node-record key, a malformed key: refused.
    const other = signer();
    for (const key of [
      orgAddressKey(3n, other.address),
      new TextEncoder().encode(`/dibs-node/${s.address}`),
      new TextEncoder().encode(`/dibs-org/x/${s.address}`),
    ]) {
      await assert.rejects(
        verifyOrgAddressRecord(value, key),
        (e: unknown) => e instanceof P2pError && e.code === 'INVALID_RECORD',
      );
    }
  });

  it('the selector picks the highest valid sequence and skips garbage', async () => {
    const s = signer();
    const key = orgAddressKey(1n, s.address);
    const older = await signOrgAddressRecord(s, record(s, 1n));
    const newer = await signOrgAddressRecord(s, record(s, 5n));
    assert.equal(await orgAddressRecordRules.select(key, [older, Uint8Array.of(1, 2, 3), newer]), 2);
  });

  it('garbage never gets past validation and only ever fails with INVALID_RECORD', async () => {
    const s = signer();
    const key = orgAddressKey(9n, s.address);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 10_000 }), async (bytes) => {
        await assert.rejects(
          orgAddressRecordRules.validate(key, bytes),
          (e: unknown) => e instanceof P2pError && e.code === 'INVALID_RECORD',
        );
      }),
      { numRuns: 300 },
    );
  });

  it('wire labels are protocol-id safe and unique per organization', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.bigInt({ min: 1n, max: 2n ** 64n }), (label, id) => {
        const w = wireLabel(id, label);
        assert.match(w, /^[a-z0-9._-]{1,32}\/[0-9]+$/);
        assert.ok(w.endsWith(`/${id}`));
        assert.ok(orgProtocolPrefix(id, label).startsWith('dibs/org/'));
      }),
    );
    assert.notEqual(orgProtocolPrefix(1n, 'acme'), orgProtocolPrefix(2n, 'acme'));
  });

  it('organization ids from users: decimal and at least 1', () => {
    assert.equal(parseOrgId('12'), 12n);
    for (const bad of ['0', '-1', 'abc', '1.5', '', '123456789012345678901']) {
      assert.throws(
        () => parseOrgId(bad),
        (e: unknown) => e instanceof OrgNetworkError && e.code === 'INVALID_ORG_ID',
      );
    }
  });
});
