import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ChaCha20Poly1305 } from '../src/tunnel/chacha20-poly1305.ts';

/** node:crypto's ChaCha20-Poly1305 (OpenSSL): ciphertext ‖ tag. */
function reference(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

function seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const out = Buffer.alloc(plaintext.length + 16);
  new ChaCha20Poly1305(key).seal(nonce, aad, plaintext, out, 0);
  return out;
}

describe('ChaCha20-Poly1305 (compact records)', () => {
  test('RFC 8439 §2.8.2: the AEAD test vector', () => {
    const key = Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex');
    const nonce = Buffer.from('070000004041424344454647', 'hex');
    const aad = Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex');
    const plaintext = Buffer.from(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const sealed = seal(key, nonce, aad, plaintext);
    assert.equal(
      sealed.subarray(0, 16).toString('hex'),
      'd31a8d34648e60db7b86afbc53ef7ec2',
      'first ciphertext block',
    );
    assert.equal(sealed.subarray(plaintext.length).toString('hex'), '1ae10b594f09e26a7e902ecbd0600691');
    const back = Buffer.alloc(plaintext.length);
    assert.ok(new ChaCha20Poly1305(key).open(nonce, aad, sealed, 0, plaintext.length, back, 0));
    assert.deepEqual(back, plaintext);
  });

  test('matches node:crypto for random keys, nonces, AAD and lengths 0–1100, and opens its output', () => {
    for (let i = 0; i < 3000; i++) {
      const key = randomBytes(32);
      const nonce = randomBytes(12);
      const aad = randomBytes(i % 41);
      const plaintext = randomBytes(i < 2000 ? i % 300 : Math.floor(Math.random() * 1100));
      const ours = seal(key, nonce, aad, plaintext);
      assert.deepEqual(ours, reference(key, nonce, aad, plaintext), `case ${i}`);
      const back = Buffer.alloc(plaintext.length);
      assert.ok(new ChaCha20Poly1305(key).open(nonce, aad, ours, 0, plaintext.length, back, 0));
      assert.deepEqual(back, plaintext);
    }
  });

  test('matches node:crypto where Poly1305 carries most: all-ones keys and messages', () => {
    for (let i = 0; i < 600; i++) {
      const key = Buffer.alloc(32, 0xff);
      key.writeUInt32LE(i, 0);
      const nonce = Buffer.alloc(12, i % 2 === 0 ? 0xff : 0);
      const plaintext = Buffer.alloc(i % 200, 0xff);
      const aad = Buffer.alloc(i % 17, 0xff);
      assert.deepEqual(seal(key, nonce, aad, plaintext), reference(key, nonce, aad, plaintext), `case ${i}`);
    }
  });

  test('a flipped bit in ciphertext, tag, AAD, nonce or key fails to open and writes nothing', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = randomBytes(4);
    const plaintext = randomBytes(40);
    const sealed = seal(key, nonce, aad, plaintext);
    const opens = (k: Uint8Array, n: Uint8Array, a: Uint8Array, s: Uint8Array) => {
      const out = Buffer.alloc(plaintext.length, 0xaa);
      const ok = new ChaCha20Poly1305(k).open(n, a, s, 0, plaintext.length, out, 0);
      if (!ok)
        assert.ok(
          out.every((b) => b === 0xaa),
          'nothing written on failure',
        );
      return ok;
    };
    assert.ok(opens(key, nonce, aad, sealed));
    const flip = (b: Uint8Array, bit: number) => {
      const c = Buffer.from(b);
      c[bit >> 3]! ^= 1 << (bit & 7);
      return c;
    };
    for (let bit = 0; bit < sealed.length * 8; bit++) assert.ok(!opens(key, nonce, aad, flip(sealed, bit)));
    for (let bit = 0; bit < 32; bit++) assert.ok(!opens(key, nonce, flip(aad, bit), sealed));
    for (let bit = 0; bit < 96; bit++) assert.ok(!opens(key, flip(nonce, bit), aad, sealed));
    for (let bit = 0; bit < 256; bit += 7) assert.ok(!opens(flip(key, bit), nonce, aad, sealed));
  });

  test('a key of any length but 32 bytes is refused', () => {
    for (const n of [0, 16, 31, 33]) assert.throws(() => new ChaCha20Poly1305(new Uint8Array(n)), RangeError);
  });
});
