import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { addressToBytes, encodeTicketHeader, hexOf } from '../src/tickets/codec.ts';
import {
  decodeSealedTicket,
  derivePairKey,
  type GrantCache,
  hashTicket,
  issueTicket,
  nobleTicketCrypto,
  openTicket,
  TICKET_SALT_BYTES,
  TicketError,
  TicketVerifier,
  ticketSealKey,
} from '../src/tickets/index.ts';
import {
  CHAIN_ID,
  CONTRACT,
  GRANT_EXPIRES,
  makeParty,
  makeWorld,
  NOW,
  TCP_SERVICE,
} from './tickets-helpers.ts';

const enc = new TextEncoder();

function isTampered(err: unknown): boolean {
  assert.ok(err instanceof TicketError, `expected TicketError, got ${String(err)}`);
  assert.equal(err.code, 'TAMPERED', err.message);
  return true;
}

describe('pairwise sealing', () => {
  it("a ticket for client C can be opened only with C's or the service's private key, and forged by neither C's address nor another client's key", async () => {
    const w = await makeWorld();
    const other = await makeParty();
    // `other` is a registered client with a grant of its own: a real insider, not a stranger.
    w.cache.applyIdentity({ account: other.address, encryptionKey: other.encryptionPublicKey });
    w.cache.applyGrantIssued({
      grantId: 99n,
      serviceId: TCP_SERVICE,
      grantee: other.address,
      issuedAt: BigInt(NOW / 1000),
      expiresAt: GRANT_EXPIRES,
    });
    const t = w.issue('service', TCP_SERVICE);
    const sealed = decodeSealedTicket(t.ticket);
    const c = nobleTicketCrypto.x25519Key(w.client.encryptionPrivateKey);
    const s = nobleTicketCrypto.x25519Key(w.node.encryptionPrivateKey);
    const o = nobleTicketCrypto.x25519Key(other.encryptionPrivateKey);
    const cPub = w.client.encryptionPublicKey;
    const sPub = w.node.encryptionPublicKey;

    // Controls: both ends of the pair open it.
    assert.deepEqual(
      openTicket(sealed, derivePairKey(c.sharedSecret(sPub), cPub, sPub)).sessionKey,
      t.sessionKey,
    );
    assert.deepEqual(
      openTicket(sealed, derivePairKey(s.sharedSecret(cPub), cPub, sPub)).sessionKey,
      t.sessionKey,
    );
    // Another client's key, combined with every public value it could use, does not open it.
    for (const shared of [o.sharedSecret(sPub), o.sharedSecret(cPub)]) {
      assert.throws(() => openTicket(sealed, derivePairKey(shared, cPub, sPub)), isTampered);
      assert.throws(
        () => openTicket(sealed, derivePairKey(shared, other.encryptionPublicKey, sPub)),
        isTampered,
      );
    }

    // Forging as C with another client's key (knowing C's address) fails at the verifier.
    const forged = issueTicket({
      kind: 'service',
      grant: { grantId: w.grants.tcp, serviceId: TCP_SERVICE, expiresAt: GRANT_EXPIRES },
      chainId: CHAIN_ID,
      contract: CONTRACT,
      client: { address: w.client.address, encryptionPrivateKey: other.encryptionPrivateKey },
      service: {
        serviceId: TCP_SERVICE,
        serviceType: 'tcp',
        peerId: w.node.peerId,
        encryptionPublicKey: sPub,
      },
      now: NOW,
    });
    assert.throws(
      () =>
        w.verifier.verify({
          ticket: forged.ticket,
          authenticator: w.auth(forged),
          remotePeerId: w.client.peerId,
        }),
      isTampered,
    );
    // The insider's own valid ticket, relabelled in the clear header as C's, fails too.
    const own = issueTicket({
      kind: 'service',
      grant: { grantId: 99n, serviceId: TCP_SERVICE, expiresAt: GRANT_EXPIRES },
      chainId: CHAIN_ID,
      contract: CONTRACT,
      client: { address: other.address, encryptionPrivateKey: other.encryptionPrivateKey },
      service: {
        serviceId: TCP_SERVICE,
        serviceType: 'tcp',
        peerId: w.node.peerId,
        encryptionPublicKey: sPub,
      },
      now: NOW,
    });
    assert.ok(
      w.verifier.verify({
        ticket: own.ticket,
        authenticator: w.auth(own, { clientPeerId: other.peerId }),
        remotePeerId: other.peerId,
      }),
    );
    const relabelled = own.ticket.slice();
    const at = Buffer.from(relabelled).indexOf(Buffer.from(addressToBytes(other.address)));
    assert.ok(at > 0);
    relabelled.set(addressToBytes(w.client.address), at);
    const auth = w.auth({ ticketHash: hashTicket(relabelled), sessionKey: own.sessionKey });
    assert.throws(
      () => w.verifier.verify({ ticket: relabelled, authenticator: auth, remotePeerId: w.client.peerId }),
      isTampered,
    );
  });

  it('no two tickets share an AEAD key, even with identical fields and clock', async () => {
    const w = await makeWorld();
    const s = nobleTicketCrypto.x25519Key(w.node.encryptionPrivateKey);
    const cPub = w.client.encryptionPublicKey;
    const sPub = w.node.encryptionPublicKey;
    const shared = s.sharedSecret(cPub);
    const pair = derivePairKey(shared, cPub, sPub);
    // The same key by the RFC 5869 definition, computed independently.
    const prk = extract(
      sha256,
      new Uint8Array([...shared, ...cPub, ...sPub]),
      enc.encode('dibs/ticket/v2/pair'),
    );
    const keys = new Set<string>();
    const salts = new Set<string>();
    const n = 300;
    for (let i = 0; i < n; i++) {
      const sealed = decodeSealedTicket(w.issue('service', TCP_SERVICE, { now: NOW }).ticket);
      assert.equal(sealed.header.salt.length, TICKET_SALT_BYTES);
      assert.deepEqual(sealed.headerBytes, encodeTicketHeader(sealed.header));
      const key = ticketSealKey(pair, sealed.headerBytes);
      const info = new Uint8Array([...enc.encode('dibs/ticket/v2/seal'), ...sealed.headerBytes]);
      assert.deepEqual(key, expand(sha256, prk, info, 32));
      keys.add(hexOf(key));
      salts.add(hexOf(sealed.header.salt));
    }
    assert.equal(salts.size, n);
    assert.equal(keys.size, n);
    // Every header field feeds the key: the same salt under another chain id or kind gives another key.
    const base = decodeSealedTicket(w.issue('service', TCP_SERVICE).ticket).header;
    const variants = [
      base,
      { ...base, chainId: base.chainId + 1 },
      { ...base, kind: 'network' as const },
      { ...base, clientAddress: (await makeParty()).address },
    ];
    const variantKeys = new Set(variants.map((h) => hexOf(ticketSealKey(pair, encodeTicketHeader(h)))));
    assert.equal(variantKeys.size, variants.length);
  });

  it('the verifier keeps working when its pairwise-key cache evicts (LRU of one entry)', async () => {
    const w = await makeWorld();
    const second = await makeParty();
    const cache: GrantCache = w.cache;
    cache.applyIdentity({ account: second.address, encryptionKey: second.encryptionPublicKey });
    cache.applyGrantIssued({
      grantId: 77n,
      serviceId: TCP_SERVICE,
      grantee: second.address,
      issuedAt: BigInt(NOW / 1000),
      expiresAt: GRANT_EXPIRES,
    });
    const verifier = new TicketVerifier({
      encryptionPrivateKey: w.node.encryptionPrivateKey,
      peerId: w.node.peerId,
      chainId: CHAIN_ID,
      contract: CONTRACT,
      cache,
      now: w.clock.now,
      ticketCacheEntries: 0,
      clientKeyCacheEntries: 1,
    });
    for (let i = 0; i < 6; i++) {
      const mine = i % 2 === 0;
      const t = mine
        ? w.issue('service', TCP_SERVICE)
        : issueTicket({
            kind: 'service',
            grant: { grantId: 77n, serviceId: TCP_SERVICE, expiresAt: GRANT_EXPIRES },
            chainId: CHAIN_ID,
            contract: CONTRACT,
            client: { address: second.address, encryptionPrivateKey: second.encryptionPrivateKey },
            service: {
              serviceId: TCP_SERVICE,
              serviceType: 'tcp',
              peerId: w.node.peerId,
              encryptionPublicKey: w.node.encryptionPublicKey,
            },
            now: NOW,
          });
      const peer = mine ? w.client.peerId : second.peerId;
      const session = verifier.verify({
        ticket: t.ticket,
        authenticator: w.auth(t, { clientPeerId: peer }),
        remotePeerId: peer,
      });
      assert.equal(session.clientAddress, mine ? w.client.address : second.address);
    }
  });
});
