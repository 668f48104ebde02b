import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import * as lp from 'it-length-prefixed';
import { FrameBound } from '../src/p2p/frame-guard.ts';

/** Splits `bytes` into random chunks, as a network delivers them. */
function chunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, 1 + randomInt(64));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('frame bound (length-prefixed streams without a bound of their own)', () => {
  it('property: frames within the bound pass, in any chunking, and are counted exactly', () => {
    for (let round = 0; round < 200; round++) {
      const max = 1 + randomInt(5_000);
      const frames = Array.from({ length: randomInt(12) }, () => randomBytes(randomInt(max + 1)));
      const wire = concat(frames.map((f) => lp.encode.single(f).subarray()));
      const bound = new FrameBound(max);
      for (const c of chunks(wire)) assert.equal(bound.push(c), undefined);
      assert.equal(bound.frames, frames.length);
    }
  });

  it('property: a frame over the bound is caught at its prefix, wherever it sits and however it is split', () => {
    for (let round = 0; round < 200; round++) {
      const max = 1 + randomInt(5_000);
      const ok = Array.from({ length: randomInt(5) }, () => randomBytes(randomInt(max + 1)));
      const bodyLength = max + 1 + randomInt(1_000);
      const wire = concat([
        ...ok.map((f) => lp.encode.single(f).subarray()),
        lp.encode.single(new Uint8Array(bodyLength)).subarray(),
      ]);
      const bound = new FrameBound(max);
      let seen = 0;
      let problem: string | undefined;
      for (const c of chunks(wire)) {
        problem = bound.push(c);
        seen += c.length;
        if (problem) break;
      }
      assert.match(String(problem), /announces/);
      // Caught by the chunk holding the prefix (chunks are at most 64 bytes), not after the body.
      assert.ok(seen < wire.length - bodyLength + 64, `caught after ${seen} of ${wire.length} bytes`);
    }
  });

  it('random bytes either hold or are refused; never a throw, never a frame over the bound', () => {
    for (let round = 0; round < 500; round++) {
      const bound = new FrameBound(1 + randomInt(10_000));
      const problem = bound.push(randomBytes(randomInt(2_000)));
      assert.ok(problem === undefined || /announces|too long/.test(problem));
    }
  });

  it('an over-long varint prefix is refused', () => {
    assert.match(
      String(new FrameBound(1 << 30).push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x01))),
      /too long/,
    );
  });
});
