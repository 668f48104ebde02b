import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { peerIdFromString } from '@libp2p/peer-id';
import { getAddress } from 'viem';
import {
  base58btcDecode,
  base58btcEncode,
  type DidDocument,
  DidError,
  encryptionKeyFromDidDocument,
  encryptionKeyFromWallet,
  formatDid,
  type IdentityReader,
  parseDid,
  peerIdFromWallet,
  resolveDid,
  Wallet,
  x25519KeyFromMultibase,
  x25519KeyToMultibase,
} from '../src/index.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isDidError = (code: string) => (err: unknown) => err instanceof DidError && err.code === code;

/** An in-memory Registry with the same identity semantics as the contract (0 key = not registered). */
class MemoryRegistry implements IdentityReader {
  readonly chainId: number | undefined;
  readonly #identities = new Map<string, { encryptionKey: Uint8Array; registeredAt: number }>();
  lookups = 0;
  constructor(chainId?: number) {
    this.chainId = chainId;
  }
  register(address: string, encryptionKey: Uint8Array, registeredAt: number) {
    this.#identities.set(address.toLowerCase(), {
      encryptionKey: Uint8Array.from(encryptionKey),
      registeredAt,
    });
  }
  async getIdentity(address: string) {
    this.lookups++;
    return this.#identities.get(address.toLowerCase()) ?? null;
  }
}

describe('did:pkh format and parse', () => {
  test('round-trips random addresses and chain ids; lowercase input is canonicalised', () => {
    for (let i = 0; i < 100; i++) {
      const address = getAddress(`0x${hex(randomBytes(20))}`);
      const chainId = [1, 10, 8453, 31337, 11155111, Number.MAX_SAFE_INTEGER][i % 6]!;
      const did = formatDid(address.toLowerCase(), chainId);
      assert.equal(did, `did:pkh:eip155:${chainId}:${address}`);
      assert.deepEqual(parseDid(did), { did, chainId, address });
      assert.deepEqual(parseDid(did.toLowerCase()), { did, chainId, address });
      assert.equal(formatDid(address, BigInt(chainId)), did);
    }
  });

  test('invalid DIDs are refused with the right code', () => {
    const addr = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
    const cases: [unknown, string][] = [
      ['', 'INVALID_DID'],
      [42, 'INVALID_DID'],
      ['pkh:eip155:1:0x', 'INVALID_DID'],
      [`did:pkh:eip155:1:${addr}:extra`, 'INVALID_DID'],
      ['did:pkh:eip155:1', 'INVALID_DID'],
      [`did:pkh:eip155:1:${addr}${'0'.repeat(100)}`, 'INVALID_DID'],
      [`did:ethr:${addr}`, 'UNSUPPORTED_DID_METHOD'],
      [`did:key:z6Mkhello`, 'UNSUPPORTED_DID_METHOD'],
      [
        'did:pkh:solana:4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZ:CKg5d12Jhpej1JqtmxLJgaFqqeYjxgPqToJ4LBdvG9Ev',
        'UNSUPPORTED_DID_METHOD',
      ],
      [`did:pkh:eip155:0:${addr}`, 'INVALID_CHAIN_ID'],
      [`did:pkh:eip155:01:${addr}`, 'INVALID_CHAIN_ID'],
      [`did:pkh:eip155:-1:${addr}`, 'INVALID_CHAIN_ID'],
      [`did:pkh:eip155:0x1:${addr}`, 'INVALID_CHAIN_ID'],
      [`did:pkh:eip155:${'9'.repeat(20)}:${addr}`, 'INVALID_CHAIN_ID'],
      ['did:pkh:eip155:1:0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 'INVALID_DID_ADDRESS'],
      ['did:pkh:eip155:1:0x1234', 'INVALID_DID_ADDRESS'],
      [`did:pkh:eip155:1:${addr}#blockchainAccountId`, 'INVALID_DID_ADDRESS'],
    ];
    for (const [input, code] of cases)
      assert.throws(() => parseDid(input as string), isDidError(code), String(input));
    assert.throws(() => formatDid(addr, 0), isDidError('INVALID_CHAIN_ID'));
    assert.throws(() => formatDid(addr, 1.5), isDidError('INVALID_CHAIN_ID'));
    assert.throws(() => formatDid(addr, 2n ** 64n), isDidError('INVALID_CHAIN_ID'));
    assert.throws(() => formatDid('0x12', 1), isDidError('INVALID_DID_ADDRESS'));
  });

  test('property: random and mutated strings only ever throw DidError', () => {
    const valid = formatDid(Wallet.generate().address, 31337);
    const alphabet = 'did:pkh:eip155:0123456789abcdefABCDEFx#?/ \u0000é';
    for (let i = 0; i < 2000; i++) {
      let input: string;
      if (i % 2 === 0) {
        const at = randomBytes(1)[0]! % valid.length;
        const ch = alphabet[randomBytes(1)[0]! % alphabet.length]!;
        input = valid.slice(0, at) + ch + valid.slice(at + (i % 4 === 0 ? 1 : 0));
      } else {
        input = randomBytes(randomBytes(1)[0]! % 140).toString(i % 3 === 0 ? 'latin1' : 'utf8');
      }
      try {
        const parsed = parseDid(input);
        assert.equal(parseDid(parsed.did).did, parsed.did);
      } catch (err) {
        assert.ok(err instanceof DidError, `non-DidError for ${JSON.stringify(input)}: ${String(err)}`);
      }
    }
  });
});

describe('base58btc and publicKeyMultibase', () => {
  test('standard vectors and libp2p PeerId strings', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['00', '1'],
      ['0000287fb4cd', '11233QC4'],
      [Buffer.from('Hello World!').toString('hex'), '2NEpo7TZRRrLZSi2U'],
      [
        Buffer.from('The quick brown fox jumps over the lazy dog.').toString('hex'),
        'USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z',
      ],
    ];
    for (const [h, b58] of vectors) {
      assert.equal(base58btcEncode(Buffer.from(h, 'hex')), b58);
      assert.equal(hex(base58btcDecode(b58)!), h);
    }
    for (let i = 0; i < 20; i++) {
      const peerId = peerIdFromWallet(Wallet.generate());
      assert.equal(base58btcEncode(peerId.toMultihash().bytes), peerId.toString());
      assert.deepEqual(base58btcDecode(peerId.toString()), peerId.toMultihash().bytes);
      assert.ok(peerIdFromString(peerId.toString()).equals(peerId));
    }
  });

  test('property: random bytes round-trip; foreign characters are refused', () => {
    for (let i = 0; i < 300; i++) {
      const bytes = new Uint8Array(randomBytes(i % 70));
      if (i % 5 === 0) bytes.fill(0, 0, Math.min(3, bytes.length));
      assert.deepEqual(base58btcDecode(base58btcEncode(bytes)), bytes);
    }
    for (const bad of ['0', 'O', 'I', 'l', 'abc+', ' ', 'é', '1'.repeat(2000)])
      assert.equal(base58btcDecode(bad), null);
  });

  test('X25519 keys encode as z6LS… multibase and decode back', () => {
    for (let i = 0; i < 20; i++) {
      const key = new Uint8Array(randomBytes(32));
      const mb = x25519KeyToMultibase(key);
      assert.ok(mb.startsWith('z6LS'), mb);
      assert.deepEqual(x25519KeyFromMultibase(mb), key);
    }
    assert.equal(x25519KeyFromMultibase('z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'), null); // Ed25519
    assert.equal(x25519KeyFromMultibase('f00'), null);
    assert.equal(x25519KeyFromMultibase('z'), null);
    assert.throws(() => x25519KeyToMultibase(new Uint8Array(31)), isDidError('INVALID_REGISTRY_DATA'));
  });
});

describe('resolveDid', () => {
  test('an unregistered account resolves to its recovery method only (exact document)', async () => {
    const registry = new MemoryRegistry(1);
    const address = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
    const did = `did:pkh:eip155:1:${address}`;
    const expected: DidDocument = {
      '@context': [
        'https://www.w3.org/ns/did/v1',
        {
          blockchainAccountId: 'https://w3id.org/security#blockchainAccountId',
          EcdsaSecp256k1RecoveryMethod2020:
            'https://identity.foundation/EcdsaSecp256k1RecoverySignature2020#EcdsaSecp256k1RecoveryMethod2020',
        },
      ],
      id: did,
      verificationMethod: [
        {
          id: `${did}#blockchainAccountId`,
          type: 'EcdsaSecp256k1RecoveryMethod2020',
          controller: did,
          blockchainAccountId: `eip155:1:${address}`,
        },
      ],
      authentication: [`${did}#blockchainAccountId`],
      assertionMethod: [`${did}#blockchainAccountId`],
    };
    assert.deepEqual(await resolveDid(did, registry), expected);
    assert.deepEqual(await resolveDid(did.toLowerCase(), registry), expected);
    assert.equal(registry.lookups, 2);
  });

  test('a registered encryption key appears as X25519KeyAgreementKey2020 and works for ECDH', async () => {
    const registry = new MemoryRegistry(31337);
    const wallet = Wallet.generate();
    const encryption = encryptionKeyFromWallet(wallet);
    registry.register(wallet.address, encryption.publicKey, 1_700_000_000);
    const did = formatDid(wallet.address, 31337);
    const doc = await resolveDid(did, registry);
    assert.ok(doc['@context'].includes('https://w3id.org/security/suites/x25519-2020/v1'));
    assert.equal(doc.keyAgreement?.length, 1);
    const agreement = doc.keyAgreement![0]!;
    assert.equal(agreement.type, 'X25519KeyAgreementKey2020');
    assert.equal(agreement.id, `${did}#encryptionKey`);
    assert.equal(agreement.controller, did);
    assert.deepEqual(encryptionKeyFromDidDocument(doc), encryption.publicKey);
    assert.equal(doc.verificationMethod[0]!.blockchainAccountId, `eip155:31337:${wallet.address}`);
    // JSON round trip keeps the document intact (it is plain data).
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);

    const other = Wallet.generate();
    assert.equal(
      encryptionKeyFromDidDocument(await resolveDid(formatDid(other.address, 31337), registry)),
      null,
    );
    registry.register(other.address, new Uint8Array(32), 1);
    const zeroDoc = await resolveDid(formatDid(other.address, 31337), registry);
    assert.equal(zeroDoc.keyAgreement, undefined);
  });

  test('a reader for another chain, a failing reader and malformed registry data are typed errors', async () => {
    const wallet = Wallet.generate();
    await assert.rejects(
      resolveDid(formatDid(wallet.address, 1), new MemoryRegistry(31337)),
      isDidError('CHAIN_MISMATCH'),
    );
    const failing: IdentityReader = {
      async getIdentity() {
        throw new Error('connection refused');
      },
    };
    await assert.rejects(
      resolveDid(formatDid(wallet.address, 1), failing),
      isDidError('REGISTRY_UNAVAILABLE'),
    );
    const malformed: IdentityReader = {
      async getIdentity() {
        return { encryptionKey: new Uint8Array(31), registeredAt: 1 };
      },
    };
    await assert.rejects(
      resolveDid(formatDid(wallet.address, 1), malformed),
      isDidError('INVALID_REGISTRY_DATA'),
    );
    await assert.rejects(
      resolveDid('did:web:example.com', new MemoryRegistry()),
      isDidError('UNSUPPORTED_DID_METHOD'),
    );
    // A reader without a chain id resolves any chain.
    assert.equal(
      (await resolveDid(formatDid(wallet.address, 5), new MemoryRegistry())).id,
      formatDid(wallet.address, 5),
    );
  });
});
