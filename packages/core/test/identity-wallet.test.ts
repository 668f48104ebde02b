import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import { Wallet as EthersWallet, verifyMessage as ethersVerifyMessage } from 'ethers';
import {
  getAddress,
  hashMessage as viemHashMessage,
  recoverMessageAddress as viemRecover,
  toHex as viemToHex,
} from 'viem';
import { privateKeyToAccount, sign as viemSign } from 'viem/accounts';
import {
  hashMessage,
  isAddress,
  recoverDigestAddress,
  recoverMessageAddress,
  toChecksumAddress,
  verifyMessage,
  Wallet,
  WalletError,
} from '../src/index.ts';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isWalletError = (code: string) => (err: unknown) => err instanceof WalletError && err.code === code;

describe('wallet keys', () => {
  test('known vectors: the first two anvil dev accounts', () => {
    const a = Wallet.fromPrivateKey('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
    assert.equal(a.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    const b = Wallet.fromPrivateKey('59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
    assert.equal(b.address, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8');
  });

  test('random keys: address and public keys match viem and ethers, and round-trip', () => {
    for (let i = 0; i < 40; i++) {
      const w = Wallet.generate();
      const keyHex = w.exportPrivateKeyHex();
      const account = privateKeyToAccount(keyHex);
      assert.equal(w.address, account.address);
      assert.equal(viemToHex(w.uncompressedPublicKey), account.publicKey);
      const ethersWallet = new EthersWallet(keyHex);
      assert.equal(`0x${hex(w.publicKey)}`, ethersWallet.signingKey.compressedPublicKey);
      const again = Wallet.fromPrivateKey(w.exportPrivateKey());
      assert.equal(again.address, w.address);
      assert.equal(Wallet.fromPrivateKey(keyHex.slice(2)).address, w.address);
    }
  });

  test('invalid private keys are refused with INVALID_PRIVATE_KEY', () => {
    const bad: (string | Uint8Array)[] = [
      new Uint8Array(32),
      `0x${N.toString(16)}`,
      `0x${(N + 1n).toString(16)}`,
      `0x${'ff'.repeat(32)}`,
      new Uint8Array(31).fill(1),
      new Uint8Array(33).fill(1),
      '0x1234',
      `0x${'zz'.repeat(32)}`,
      '',
      `0x${'11'.repeat(32)}00`,
    ];
    for (const key of bad)
      assert.throws(() => Wallet.fromPrivateKey(key), isWalletError('INVALID_PRIVATE_KEY'));
    assert.throws(() => new Wallet('x' as unknown as Uint8Array), isWalletError('INVALID_PRIVATE_KEY'));
  });

  test('the private key never shows in JSON, strings, inspect or enumerable properties', () => {
    const w = Wallet.generate();
    const secret = hex(w.exportPrivateKey());
    const views = [
      JSON.stringify(w),
      JSON.stringify({ nested: [w] }),
      String(w),
      `${w}`,
      inspect(w, { showHidden: true, depth: 10 }),
      inspect({ w }, { showHidden: true, depth: 10 }),
      JSON.stringify(Object.entries(w)),
      JSON.stringify(structuredClone({ ...w })),
    ];
    for (const view of views) {
      assert.ok(!view.toLowerCase().includes(secret), `private key leaked in: ${view.slice(0, 60)}`);
    }
    assert.ok(String(w).includes(w.address));
    assert.deepEqual(JSON.parse(JSON.stringify(w)), { address: w.address });
  });

  test('exported keys are copies that cannot change the wallet', () => {
    const w = Wallet.generate();
    const copy = w.exportPrivateKey();
    const before = w.signMessage('x');
    const publicBefore = hex(w.publicKey);
    copy.fill(7);
    w.publicKey.fill(0);
    assert.equal(w.signMessage('x'), before);
    assert.equal(hex(w.publicKey), publicBefore);
  });
});

describe('EIP-191 signatures', () => {
  const messages: (string | Uint8Array)[] = [
    '',
    'hello',
    'Sign in to DIBS\nnonce: 42',
    'ünïcödé ✓ 🔑',
    'x'.repeat(1000),
    new Uint8Array([]),
    Uint8Array.from([0, 1, 2, 255]),
    new Uint8Array(randomBytes(97)),
  ];

  test('signMessage is byte-identical to viem and ethers, and both recover ours', async () => {
    for (let i = 0; i < 5; i++) {
      const w = Wallet.generate();
      const account = privateKeyToAccount(w.exportPrivateKeyHex());
      const ethersWallet = new EthersWallet(w.exportPrivateKeyHex());
      for (const message of messages) {
        const ours = w.signMessage(message);
        const viemMessage = typeof message === 'string' ? message : { raw: message };
        assert.equal(ours, await account.signMessage({ message: viemMessage }));
        assert.equal(ours, await ethersWallet.signMessage(message));
        assert.equal(await viemRecover({ message: viemMessage, signature: ours }), w.address);
        assert.equal(ethersVerifyMessage(message, ours), w.address);
        assert.equal(recoverMessageAddress(message, ours), w.address);
        assert.ok(verifyMessage(w.address, message, ours));
        assert.ok(verifyMessage(w.address.toLowerCase(), message, ours));
      }
    }
  });

  test('signatures from viem and ethers recover to their signer with ours', async () => {
    for (let i = 0; i < 10; i++) {
      const w = Wallet.generate();
      const account = privateKeyToAccount(w.exportPrivateKeyHex());
      const ethersWallet = new EthersWallet(w.exportPrivateKeyHex());
      const message = `message ${i} ${hex(randomBytes(8))}`;
      assert.equal(recoverMessageAddress(message, await account.signMessage({ message })), w.address);
      assert.equal(recoverMessageAddress(message, await ethersWallet.signMessage(message)), w.address);
    }
  });

  test('signDigest matches viem sign() and recoverDigestAddress inverts it', async () => {
    for (let i = 0; i < 10; i++) {
      const w = Wallet.generate();
      const digest = new Uint8Array(randomBytes(32));
      const ours = w.signDigest(digest);
      const theirs = await viemSign({
        hash: viemToHex(digest),
        privateKey: w.exportPrivateKeyHex(),
        to: 'hex',
      });
      assert.equal(viemToHex(ours), theirs);
      assert.equal(recoverDigestAddress(digest, ours), w.address);
    }
    assert.throws(() => Wallet.generate().signDigest(new Uint8Array(31)), isWalletError('INVALID_SIGNATURE'));
  });

  test('v may be 0/1 as well as 27/28', () => {
    const w = Wallet.generate();
    const sig = Buffer.from(w.signMessage('v').slice(2), 'hex');
    sig[64] = sig[64]! - 27;
    assert.equal(recoverMessageAddress('v', new Uint8Array(sig)), w.address);
  });

  test('the high-S twin of a valid signature is refused (no malleability)', () => {
    const w = Wallet.generate();
    const sig = Buffer.from(w.signMessage('m').slice(2), 'hex');
    const s = BigInt(`0x${sig.subarray(32, 64).toString('hex')}`);
    const twin = Buffer.from(sig);
    Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex').copy(twin, 32);
    twin[64] = sig[64] === 27 ? 28 : 27;
    assert.throws(() => recoverMessageAddress('m', new Uint8Array(twin)), isWalletError('INVALID_SIGNATURE'));
    assert.equal(verifyMessage(w.address, 'm', new Uint8Array(twin)), false);
  });

  test('property: mutated signatures never verify and only ever throw WalletError', () => {
    const w = Wallet.generate();
    const message = 'mutate me';
    const good = Buffer.from(w.signMessage(message).slice(2), 'hex');
    for (let i = 0; i < 300; i++) {
      const sig = Buffer.from(good);
      const at = i % 64;
      sig[at] = sig[at]! ^ (1 + (randomBytes(1)[0]! % 255));
      try {
        assert.notEqual(recoverMessageAddress(message, new Uint8Array(sig)), w.address);
      } catch (err) {
        assert.ok(err instanceof WalletError, `unexpected ${String(err)}`);
      }
      assert.equal(verifyMessage(w.address, message, new Uint8Array(sig)), false);
    }
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(randomBytes(randomBytes(1)[0]! % 80));
      try {
        recoverMessageAddress(message, junk);
      } catch (err) {
        assert.ok(err instanceof WalletError, `unexpected ${String(err)}`);
      }
      try {
        recoverMessageAddress(message, `0x${hex(junk)}`);
      } catch (err) {
        assert.ok(err instanceof WalletError, `unexpected ${String(err)}`);
      }
    }
    for (const v of [2, 26, 29, 255]) {
      const sig = Buffer.from(good);
      sig[64] = v;
      assert.throws(
        () => recoverMessageAddress(message, new Uint8Array(sig)),
        isWalletError('INVALID_SIGNATURE'),
      );
    }
    assert.throws(() => recoverMessageAddress(message, 'nothex'), isWalletError('INVALID_SIGNATURE'));
  });

  test('hashMessage matches the EIP-191 definition', () => {
    // keccak256("\x19Ethereum Signed Message:\n5hello"), pinned and checked against viem.
    assert.equal(
      hex(hashMessage('hello')),
      '50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750',
    );
    for (const message of ['', 'hello', 'ünïcödé', 'a'.repeat(300)]) {
      assert.equal(viemToHex(hashMessage(message)), viemHashMessage(message));
    }
  });
});

describe('addresses', () => {
  test('toChecksumAddress agrees with viem getAddress for random addresses', () => {
    for (let i = 0; i < 200; i++) {
      const lower = `0x${hex(randomBytes(20))}`;
      const expected = getAddress(lower);
      assert.equal(toChecksumAddress(lower), expected);
      assert.equal(toChecksumAddress(lower.toUpperCase().replace('0X', '0x')), expected);
      assert.equal(toChecksumAddress(expected), expected);
      assert.ok(isAddress(expected));
    }
  });

  test('a mixed-case address with a wrong checksum is refused', () => {
    const good = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
    const bad = '0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
    assert.throws(() => toChecksumAddress(bad), isWalletError('INVALID_ADDRESS'));
    assert.equal(isAddress(bad), false);
    assert.equal(isAddress(good), true);
    for (const junk of [
      '',
      '0x',
      '0x123',
      `0x${'g'.repeat(40)}`,
      `${'a'.repeat(40)}`,
      `0x${'a'.repeat(41)}`,
    ]) {
      assert.throws(() => toChecksumAddress(junk), isWalletError('INVALID_ADDRESS'));
      assert.equal(isAddress(junk), false);
    }
    assert.equal(isAddress(42), false);
  });
});

describe('ECDH', () => {
  test('sharedSecret is symmetric and equals node:crypto secp256k1 ECDH', () => {
    for (let i = 0; i < 10; i++) {
      const a = Wallet.generate();
      const b = Wallet.generate();
      const ab = a.sharedSecret(b.publicKey);
      assert.deepEqual(ab, b.sharedSecret(a.uncompressedPublicKey));
      const ecdh = createECDH('secp256k1');
      ecdh.setPrivateKey(Buffer.from(a.exportPrivateKey()));
      assert.equal(hex(ab), ecdh.computeSecret(Buffer.from(b.publicKey)).toString('hex'));
    }
    assert.throws(
      () => Wallet.generate().sharedSecret(new Uint8Array(33)),
      isWalletError('INVALID_PUBLIC_KEY'),
    );
  });
});
