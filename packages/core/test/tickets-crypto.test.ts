import assert from 'node:assert/strict';
import * as nodeCrypto from 'node:crypto';
import { describe, it } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import { publicKeyToAddress } from 'viem/accounts';
import {
  defaultTicketCrypto,
  nobleTicketCrypto,
  nodeTicketCrypto,
  secp256k1PeerIdToAddress,
  TicketError,
} from '../src/tickets/index.ts';
import { makeParty, makeWorld, TCP_SERVICE } from './tickets-helpers.ts';

const node = nodeTicketCrypto(nodeCrypto);

describe('crypto backends', () => {
  it('the default backend on Node is OpenSSL', () => {
    assert.equal(defaultTicketCrypto().name, 'node');
  });

  it('node and noble X25519 agree on public keys and shared secrets', () => {
    for (let i = 0; i < 50; i++) {
      const a = nobleTicketCrypto.randomBytes(32);
      const b = node.randomBytes(32);
      const an = node.x25519Key(a);
      const ab = nobleTicketCrypto.x25519Key(a);
      const bn = node.x25519Key(b);
      const bb = nobleTicketCrypto.x25519Key(b);
      assert.deepEqual(an.publicKey, ab.publicKey);
      assert.deepEqual(bn.publicKey, bb.publicKey);
      const s1 = an.sharedSecret(bb.publicKey);
      assert.deepEqual(s1, ab.sharedSecret(bn.publicKey));
      assert.deepEqual(s1, bn.sharedSecret(an.publicKey));
      assert.deepEqual(s1, bb.sharedSecret(ab.publicKey));
    }
    // Generated keys interoperate too.
    const e = node.generateX25519Key();
    const f = nobleTicketCrypto.generateX25519Key();
    assert.deepEqual(e.sharedSecret(f.publicKey), f.sharedSecret(e.publicKey));
  });

  it('both backends refuse low-order public keys', () => {
    const zero = new Uint8Array(32);
    const one = new Uint8Array(32);
    one[0] = 1;
    for (const backend of [node, nobleTicketCrypto]) {
      const k = backend.generateX25519Key();
      for (const bad of [zero, one]) {
        assert.throws(
          () => k.sharedSecret(bad),
          (e: unknown) => e instanceof TicketError && e.code === 'TAMPERED',
          backend.name,
        );
      }
      assert.throws(() => k.sharedSecret(new Uint8Array(31)), TicketError);
    }
  });

  for (const [issuer, verifier] of [
    [nobleTicketCrypto, node],
    [node, nobleTicketCrypto],
  ] as const) {
    it(`a ticket sealed with ${issuer.name} verifies with ${verifier.name}`, async () => {
      const issuing = await makeWorld({ crypto: issuer });
      const verifying = await makeWorld({ crypto: verifier });
      // Same parties, verifier built with the other backend.
      const t = issuing.issue('service', TCP_SERVICE);
      const s = issuing.verifier.verify({
        ticket: t.ticket,
        authenticator: issuing.auth(t),
        remotePeerId: issuing.client.peerId,
      });
      assert.equal(s.serviceId, TCP_SERVICE);
      const { TicketVerifier } = await import('../src/tickets/index.ts');
      const other = new TicketVerifier({
        encryptionPrivateKey: issuing.node.encryptionPrivateKey,
        peerId: issuing.node.peerId,
        chainId: issuing.verifier.chainId,
        contract: issuing.verifier.contract,
        cache: issuing.cache,
        now: issuing.clock.now,
        crypto: verifier,
      });
      assert.deepEqual(
        other.verify({
          ticket: t.ticket,
          authenticator: issuing.auth(t),
          remotePeerId: issuing.client.peerId,
        }).sessionKey,
        t.sessionKey,
      );
      assert.ok(verifying);
    });
  }

  it('PeerId to address mapping matches viem for real libp2p secp256k1 identities', async () => {
    for (let i = 0; i < 5; i++) {
      const p = await makeParty();
      const peer = peerIdFromString(p.peerIdText);
      const raw = peer.publicKey!.raw;
      const { secp256k1 } = await import('@noble/curves/secp256k1.js');
      const uncompressed = secp256k1.Point.fromBytes(raw).toBytes(false);
      const expected = publicKeyToAddress(`0x${Buffer.from(uncompressed).toString('hex')}`).toLowerCase();
      assert.equal(secp256k1PeerIdToAddress(p.peerId), expected);
    }
    // Non-secp256k1 or malformed PeerIds map to nothing.
    assert.equal(secp256k1PeerIdToAddress(new Uint8Array(39)), undefined);
    const bad = (await makeParty()).peerId;
    bad[6] = 0x07;
    assert.equal(secp256k1PeerIdToAddress(bad), undefined);
  });
});
