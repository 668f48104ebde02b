/** Checkpoint signatures (EIP-712) and the strict JSON codec, with property tests for the parser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Wallet } from '@dibs/core';
import fc from 'fast-check';
import {
  type Checkpoint,
  recoverCheckpointSigner,
  signCheckpoint,
  signedCheckpointFromJson,
  signedCheckpointToJson,
  verifySignedCheckpoint,
} from '../src/checkpoint.ts';
import {
  checkpointRecordKey,
  checkpointRecordRules,
  decodeCheckpointRecord,
  encodeCheckpointRecord,
} from '../src/checkpoint-record.ts';
import { LightError } from '../src/errors.ts';

const registry = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const cp: Checkpoint = {
  chainId: 31337,
  number: 42n,
  blockHash: `0x${'12'.repeat(32)}`,
  stateRoot: `0x${'34'.repeat(32)}`,
};

test('a signed checkpoint recovers to its signer and to nobody else for any other field', async () => {
  const w = Wallet.generate();
  const s = signCheckpoint(w, cp, registry);
  assert.equal(await recoverCheckpointSigner(cp, s.signature, registry), w.address);
  for (const other of [
    { ...cp, number: 43n },
    { ...cp, chainId: 1 },
    { ...cp, blockHash: `0x${'13'.repeat(32)}` as const },
    { ...cp, stateRoot: `0x${'35'.repeat(32)}` as const },
  ]) {
    assert.notEqual(await recoverCheckpointSigner(other, s.signature, registry), w.address);
  }
  assert.notEqual(
    await recoverCheckpointSigner(cp, s.signature, '0x0000000000000000000000000000000000000001'),
    w.address,
    'bound to the deployment',
  );
  await assert.rejects(
    verifySignedCheckpoint({ ...s, signer: Wallet.generate().address }, registry),
    LightError,
  );
  assert.deepEqual(signedCheckpointFromJson(JSON.parse(JSON.stringify(signedCheckpointToJson(s)))), s);
});

test('the JSON parser refuses every malformed checkpoint with a LightError, never anything else', () => {
  const good = signedCheckpointToJson(signCheckpoint(Wallet.generate(), cp, registry));
  for (const bad of [
    null,
    [],
    'x',
    { ...good, extra: 1 },
    { ...good, number: '-1' },
    { ...good, number: '1e3' },
    { ...good, number: '99999999999999999999999' },
    { ...good, chainId: 0 },
    { ...good, blockHash: '0x12' },
    { ...good, signature: '0x00' },
    { ...good, signer: 'nobody' },
  ]) {
    assert.throws(
      () => signedCheckpointFromJson(bad),
      (e: unknown) => e instanceof LightError && e.code === 'MALFORMED',
    );
  }
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      try {
        signedCheckpointFromJson(value);
      } catch (err) {
        return err instanceof LightError && err.code === 'MALFORMED';
      }
      return false;
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.record({
        chainId: fc.oneof(fc.integer(), fc.double()),
        number: fc.oneof(fc.string(), fc.bigInt().map(String)),
        blockHash: fc.oneof(fc.string(), fc.constant(good.blockHash)),
        stateRoot: fc.oneof(fc.string(), fc.constant(good.stateRoot)),
        signer: fc.oneof(fc.string(), fc.constant(good.signer)),
        signature: fc.oneof(fc.string(), fc.constant(good.signature)),
      }),
      (value) => {
        try {
          signedCheckpointFromJson(value);
          return true;
        } catch (err) {
          return err instanceof LightError && err.code === 'MALFORMED';
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('checkpoint records in the DHT: valid only under their signer’s key, the highest copy wins', async () => {
  const w = Wallet.generate();
  const rules = checkpointRecordRules(registry);
  const low = signCheckpoint(w, cp, registry);
  const high = signCheckpoint(w, { ...cp, number: 50n }, registry);
  const key = checkpointRecordKey(w.address);
  await rules.validate(key, encodeCheckpointRecord(low));
  await assert.rejects(
    rules.validate(checkpointRecordKey(Wallet.generate().address), encodeCheckpointRecord(low)),
    LightError,
  );
  const forged = { ...high, checkpoint: { ...high.checkpoint, number: 51n } };
  await assert.rejects(rules.validate(key, encodeCheckpointRecord(forged)), LightError);
  await assert.rejects(rules.validate(key, new TextEncoder().encode('{"x":1}')), LightError);
  await assert.rejects(rules.validate(key, new Uint8Array(5000)), LightError);
  assert.equal(
    await rules.select(key, [
      encodeCheckpointRecord(low),
      encodeCheckpointRecord(forged),
      encodeCheckpointRecord(high),
    ]),
    2,
  );
  assert.equal(
    (await decodeCheckpointRecord(key, encodeCheckpointRecord(high), registry)).checkpoint.number,
    50n,
  );
});
