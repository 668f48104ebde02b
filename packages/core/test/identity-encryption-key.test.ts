import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  ENCRYPTION_KEY_LABEL,
  EncryptionKeyError,
  encryptionKeyFromBytes32,
  encryptionKeyFromWallet,
  encryptionKeyToBytes32,
  encryptionPublicKey,
  Wallet,
} from '../src/index.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const nodeX25519 = (privateKey: Uint8Array) =>
  createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
const isEncryptionKeyError = (err: unknown) =>
  err instanceof EncryptionKeyError && err.code === 'INVALID_ENCRYPTION_KEY';

describe('encryption key', () => {
  test('is HKDF-SHA256(wallet key, info = label) and its X25519 public key, as node:crypto computes them', () => {
    assert.equal(ENCRYPTION_KEY_LABEL, 'dibs/encryption-key/v1');
    for (let i = 0; i < 20; i++) {
      const w = Wallet.generate();
      const { publicKey, privateKey } = encryptionKeyFromWallet(w);
      const expected = new Uint8Array(
        hkdfSync('sha256', w.exportPrivateKey(), Buffer.alloc(0), ENCRYPTION_KEY_LABEL, 32),
      );
      assert.equal(hex(privateKey), hex(expected));
      const spki = createPublicKey(nodeX25519(privateKey)).export({ format: 'der', type: 'spki' });
      assert.equal(hex(publicKey), spki.subarray(-32).toString('hex'));
      assert.deepEqual(encryptionPublicKey(privateKey), publicKey);
      assert.notEqual(hex(privateKey), hex(w.exportPrivateKey()));
    }
  });

  test('is deterministic per wallet and distinct across wallets; pinned vector', () => {
    const anvil0 = Wallet.fromPrivateKey(
      '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
    );
    assert.equal(
      hex(encryptionKeyFromWallet(anvil0).publicKey),
      '9694cdd70ef7694d74ae24ffa081b095a6bd515fcdb3c5f32dec8cbea1220505',
    );
    const again = Wallet.fromPrivateKey(anvil0.exportPrivateKey());
    assert.deepEqual(encryptionKeyFromWallet(again), encryptionKeyFromWallet(anvil0));
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(hex(encryptionKeyFromWallet(Wallet.generate()).publicKey));
    assert.equal(seen.size, 50);
  });

  test('two derived keys agree on an X25519 shared secret (checked with node:crypto)', () => {
    const a = encryptionKeyFromWallet(Wallet.generate());
    const b = encryptionKeyFromWallet(Wallet.generate());
    const spki = (pub: Uint8Array) =>
      createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]),
        format: 'der',
        type: 'spki',
      });
    const ab = diffieHellman({ privateKey: nodeX25519(a.privateKey), publicKey: spki(b.publicKey) });
    const ba = diffieHellman({ privateKey: nodeX25519(b.privateKey), publicKey: spki(a.publicKey) });
    assert.equal(ab.toString('hex'), ba.toString('hex'));
    assert.equal(ab.length, 32);
  });

  test('bytes32 conversion round-trips; zero means "not registered"; wrong sizes are refused', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey } = encryptionKeyFromWallet(Wallet.generate());
      const b32 = encryptionKeyToBytes32(publicKey);
      assert.match(b32, /^0x[0-9a-f]{64}$/);
      assert.deepEqual(encryptionKeyFromBytes32(b32), publicKey);
      assert.deepEqual(encryptionKeyFromBytes32(b32.slice(2).toUpperCase()), publicKey);
      assert.deepEqual(encryptionKeyFromBytes32(publicKey), publicKey);
    }
    assert.equal(encryptionKeyFromBytes32(`0x${'00'.repeat(32)}`), null);
    assert.equal(encryptionKeyFromBytes32(new Uint8Array(32)), null);
    assert.throws(() => encryptionKeyToBytes32(new Uint8Array(32)), isEncryptionKeyError);
    for (const bad of ['0x', '0x1234', `0x${'ab'.repeat(33)}`, `0x${'zz'.repeat(32)}`, new Uint8Array(31)]) {
      assert.throws(() => encryptionKeyFromBytes32(bad), isEncryptionKeyError);
    }
    assert.throws(() => encryptionKeyToBytes32(new Uint8Array(33)), isEncryptionKeyError);
    assert.throws(() => encryptionPublicKey(new Uint8Array(16)), isEncryptionKeyError);
  });
});
