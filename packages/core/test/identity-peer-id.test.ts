import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { privateKeyToAccount } from 'viem/accounts';
import {
  addressFromPeerId,
  libp2pPrivateKey,
  PeerIdError,
  peerIdFromPublicKey,
  peerIdFromWallet,
  Wallet,
  WalletError,
} from '../src/index.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isPeerIdError = (code: string) => (err: unknown) => err instanceof PeerIdError && err.code === code;

describe('PeerId <-> address', () => {
  test('the libp2p spec secp256k1 vector maps to the address viem derives from the same key', () => {
    // libp2p/specs peer-ids.md: private key 0x53DA…D8FB, public key protobuf 0802122103 7777…ca99.
    const wallet = Wallet.fromPrivateKey('53DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB');
    const peerId = peerIdFromWallet(wallet);
    assert.equal(
      hex(publicKeyToProtobuf(libp2pPrivateKey(wallet).publicKey)),
      '08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99',
    );
    assert.equal(peerId.toString(), '16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY');
    const expected = privateKeyToAccount(wallet.exportPrivateKeyHex()).address;
    assert.equal(addressFromPeerId('16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY'), expected);
    assert.equal(expected, '0x8b805bF52e9cE863375c5105E1158d519537F5B3');
  });

  test('round trips for many random keys, by object, string, CID string and public key', () => {
    for (let i = 0; i < 50; i++) {
      const wallet = Wallet.generate();
      const peerId = peerIdFromWallet(wallet);
      assert.equal(peerId.type, 'secp256k1');
      assert.equal(addressFromPeerId(peerId), wallet.address);
      assert.equal(addressFromPeerId(peerId.toString()), wallet.address);
      assert.equal(addressFromPeerId(peerId.toCID().toString()), wallet.address);
      assert.ok(peerIdFromPublicKey(wallet.publicKey).equals(peerId));
      assert.ok(peerIdFromPublicKey(wallet.uncompressedPublicKey).equals(peerId));
      assert.ok(peerIdFromPrivateKey(libp2pPrivateKey(wallet)).equals(peerId));
      assert.deepEqual(libp2pPrivateKey(wallet).publicKey.raw, wallet.publicKey);
    }
  });

  test('the libp2p key signs and verifies as the same identity', async () => {
    const wallet = Wallet.generate();
    const key = libp2pPrivateKey(wallet);
    const data = new Uint8Array(randomBytes(64));
    const signature = await key.sign(data);
    const remote = peerIdFromString(peerIdFromWallet(wallet).toString());
    assert.ok(await remote.publicKey!.verify(data, signature));
  });

  test('an Ed25519 PeerId is refused with NOT_SECP256K1_PEER_ID', async () => {
    const ed = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    assert.throws(() => addressFromPeerId(ed), isPeerIdError('NOT_SECP256K1_PEER_ID'));
    assert.throws(() => addressFromPeerId(ed.toString()), isPeerIdError('NOT_SECP256K1_PEER_ID'));
    assert.throws(
      () => addressFromPeerId('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'),
      isPeerIdError('NOT_SECP256K1_PEER_ID'),
    );
  });

  test('malformed PeerIds and public keys are typed errors; random strings only throw PeerIdError', () => {
    for (const bad of ['', 'not-a-peer-id', '16Uiu2HAm', 'Qm', 'x'.repeat(300)]) {
      assert.throws(() => addressFromPeerId(bad), isPeerIdError('INVALID_PEER_ID'), bad);
    }
    for (const bad of [new Uint8Array(33), new Uint8Array(32), new Uint8Array(65).fill(4)]) {
      assert.throws(
        () => peerIdFromPublicKey(bad),
        (err: unknown) => err instanceof WalletError,
      );
    }
    const valid = peerIdFromWallet(Wallet.generate()).toString();
    const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl';
    for (let i = 0; i < 1000; i++) {
      let input: string;
      if (i % 2 === 0) {
        const at = randomBytes(1)[0]! % valid.length;
        input = valid.slice(0, at) + alphabet[randomBytes(1)[0]! % alphabet.length]! + valid.slice(at + 1);
      } else {
        input = randomBytes(randomBytes(1)[0]! % 80).toString(i % 3 === 0 ? 'base64' : 'latin1');
      }
      try {
        addressFromPeerId(input);
      } catch (err) {
        assert.ok(err instanceof PeerIdError, `non-PeerIdError for ${JSON.stringify(input)}: ${String(err)}`);
      }
    }
  });
});
