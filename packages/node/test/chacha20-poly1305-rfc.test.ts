/**
 * The data channel's hand-written ChaCha20-Poly1305 against RFC 8439 Appendix A (block function,
 * keystream, Poly1305 alone, one-time key generation, AEAD decryption) and, for random inputs,
 * against the audited @noble/ciphers implementation in both directions, with forged tags refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import fc from 'fast-check';
import { ChaCha20Poly1305 } from '../src/tunnel/chacha20-poly1305.ts';

interface Vectors {
  block: Array<{ name: string; key: string; nonce: string; counter: number; words: string[] }>;
  encryption: Array<{
    name: string;
    key: string;
    nonce: string;
    counter: number;
    plaintext: string;
    ciphertext: string;
  }>;
  poly1305: Array<{ name: string; key: string; message: string; tag: string }>;
  keyGeneration: Array<{ name: string; key: string; nonce: string; oneTimeKey: string }>;
  aead: Array<{
    name: string;
    key: string;
    nonce: string;
    aad: string;
    ciphertext: string;
    tag: string;
    plaintext: string;
  }>;
}

const vectors = JSON.parse(
  readFileSync(new URL('./fixtures/rfc8439-appendix-a.json', import.meta.url), 'utf8'),
) as Vectors;
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The block's state words as the RFC prints them, serialized little-endian. */
function wordsToBytes(words: string[]): Uint8Array {
  const out = Buffer.alloc(64);
  for (const [i, w] of words.entries()) out.writeUInt32LE(Number.parseInt(w, 16), 4 * i);
  return new Uint8Array(out);
}

/** ChaCha20 encryption (RFC 8439 §2.4) from our block function. */
function keystreamXor(key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let at = 0, n = counter; at < data.length; at += 64, n++) {
    const block = ChaCha20Poly1305.block(key, n, nonce);
    for (let i = 0; i < 64 && at + i < data.length; i++) out[at + i] = data[at + i]! ^ block[i]!;
  }
  return out;
}

function seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + 16);
  new ChaCha20Poly1305(key).seal(nonce, aad, plaintext, out, 0);
  return out;
}

function open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  const n = sealed.length - 16;
  const out = new Uint8Array(n);
  return new ChaCha20Poly1305(key).open(nonce, aad, sealed, 0, n, out, 0) ? out : null;
}

describe('ChaCha20-Poly1305: RFC 8439 Appendix A', () => {
  test('A.1: the ChaCha20 block function', () => {
    for (const v of vectors.block) {
      const expected = wordsToBytes(v.words);
      // The transcription itself, checked against the audited implementation.
      assert.equal(
        toHex(chacha20(hex(v.key), hex(v.nonce), new Uint8Array(64), undefined, v.counter)),
        toHex(expected),
        `${v.name} (reference)`,
      );
      assert.equal(
        toHex(ChaCha20Poly1305.block(hex(v.key), v.counter, hex(v.nonce))),
        toHex(expected),
        v.name,
      );
    }
  });

  test('A.2: ChaCha20 encryption', () => {
    for (const v of vectors.encryption) {
      const got = keystreamXor(hex(v.key), hex(v.nonce), v.counter, hex(v.plaintext));
      assert.equal(toHex(got), v.ciphertext, v.name);
      assert.equal(
        toHex(keystreamXor(hex(v.key), hex(v.nonce), v.counter, got)),
        v.plaintext,
        `${v.name} back`,
      );
    }
  });

  test('A.3: Poly1305, including the reduction edge cases', () => {
    for (const v of vectors.poly1305) {
      assert.equal(toHex(poly1305(hex(v.message), hex(v.key))), v.tag, `${v.name} (reference)`);
      assert.equal(toHex(ChaCha20Poly1305.poly1305(hex(v.key), hex(v.message))), v.tag, v.name);
    }
  });

  test('A.4: Poly1305 one-time key generation (block 0 of the keystream)', () => {
    for (const v of vectors.keyGeneration) {
      assert.equal(
        toHex(ChaCha20Poly1305.block(hex(v.key), 0, hex(v.nonce)).subarray(0, 32)),
        v.oneTimeKey,
        v.name,
      );
    }
  });

  test('A.5: AEAD decryption, re-encryption, and every tampering refused', () => {
    for (const v of vectors.aead) {
      const key = hex(v.key);
      const nonce = hex(v.nonce);
      const aad = hex(v.aad);
      const sealed = hex(v.ciphertext + v.tag);
      const plain = open(key, nonce, aad, sealed);
      assert.ok(plain, `${v.name} opens`);
      assert.equal(toHex(plain), v.plaintext, v.name);
      assert.equal(toHex(seal(key, nonce, aad, hex(v.plaintext))), v.ciphertext + v.tag, `${v.name} seal`);
      for (const at of [0, 100, sealed.length - 17, sealed.length - 16, sealed.length - 1]) {
        const forged = sealed.slice();
        forged[at]! ^= 0x01;
        assert.equal(open(key, nonce, aad, forged), null, `${v.name}: byte ${at} flipped`);
      }
      const otherAad = aad.slice();
      otherAad[0]! ^= 0x80;
      assert.equal(open(key, nonce, otherAad, sealed), null, `${v.name}: other AAD`);
      assert.equal(open(key, nonce, new Uint8Array(0), sealed), null, `${v.name}: no AAD`);
      const otherNonce = nonce.slice();
      otherNonce[11]! ^= 0x01;
      assert.equal(open(key, otherNonce, aad, sealed), null, `${v.name}: other nonce`);
    }
  });
});

describe('ChaCha20-Poly1305 against @noble/ciphers (property)', () => {
  const input = fc.record({
    key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
    aad: fc.uint8Array({ maxLength: 64, size: 'max' }),
    plaintext: fc.uint8Array({ maxLength: 4096, size: 'max' }),
    flip: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  });

  test('seals like noble, opens what noble seals, refuses any flipped bit (10,000 cases, lengths 0–4,096)', () => {
    fc.assert(
      fc.property(input, ({ key, nonce, aad, plaintext, flip, bit }) => {
        const theirs = chacha20poly1305(key, nonce, aad).encrypt(plaintext);
        const ours = seal(key, nonce, aad, plaintext);
        assert.equal(toHex(ours), toHex(theirs), 'seal');
        const back = open(key, nonce, aad, theirs);
        assert.ok(back, 'opens noble output');
        assert.equal(toHex(back), toHex(plaintext), 'open');
        assert.equal(
          toHex(chacha20poly1305(key, nonce, aad).decrypt(ours)),
          toHex(plaintext),
          'noble opens ours',
        );
        // A flipped bit anywhere (tag or ciphertext) is refused by both.
        const forged = theirs.slice();
        forged[flip % forged.length]! ^= 1 << bit;
        assert.equal(open(key, nonce, aad, forged), null, 'forgery refused');
        assert.throws(() => chacha20poly1305(key, nonce, aad).decrypt(forged));
      }),
      { numRuns: 10_000 },
    );
  });

  test('lengths around block and Poly1305 boundaries, tag flips only (every length 0–4,096)', () => {
    const key = new Uint8Array(32).fill(0xa5);
    const nonce = new Uint8Array(12).fill(0x5a);
    for (let n = 0; n <= 4096; n++) {
      const plaintext = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      const aad = plaintext.subarray(0, n % 29);
      const theirs = chacha20poly1305(key, nonce, aad).encrypt(plaintext);
      assert.equal(toHex(seal(key, nonce, aad, plaintext)), toHex(theirs), `length ${n}`);
      const forged = theirs.slice();
      forged[n + (n % 16)]! ^= 0x80;
      assert.equal(open(key, nonce, aad, forged), null, `length ${n}: tag flip`);
    }
  });
});
