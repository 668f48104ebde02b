import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { GRANT_SERVICE_SHIFT, grantIdOf, grantSequence, serviceIdOfGrant } from '../src/index.ts';

const big = (bytes: number): bigint => BigInt(`0x${randomBytes(bytes).toString('hex')}`);

test('grant ids round-trip service id and sequence for random values', () => {
  for (let i = 0; i < 500; i++) {
    const serviceId = big(1 + (i % 24));
    const sequence = big(1 + (i % 6)) || 1n;
    const id = grantIdOf(serviceId, sequence);
    assert.equal(serviceIdOfGrant(id), serviceId);
    assert.equal(grantSequence(id), sequence);
  }
});

test('grant ids of different services never collide', () => {
  const seen = new Set<bigint>();
  for (let s = 1n; s <= 20n; s++) {
    for (let n = 1n; n <= 20n; n++) seen.add(grantIdOf(s, n));
  }
  assert.equal(seen.size, 400);
  assert.equal(grantIdOf(1n, 1n), (1n << GRANT_SERVICE_SHIFT) + 1n);
});
