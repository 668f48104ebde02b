/**
 * Property tests of the login step's parsers: whatever a browser sends as a SIWE message, signature
 * or subject, the provider answers with a typed LoginError (or undefined) and never anything else.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createPublicClient, http, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { LoginError, NonceBook, parseSubject, SiweVerifier } from '../src/index.ts';

// No chain is reachable at this URL: a path that reached the chain would fail as CHAIN_UNAVAILABLE.
const client = createPublicClient({
  transport: http('http://127.0.0.1:9', { retryCount: 0, timeout: 500 }),
}) as PublicClient;
const ISSUER = 'http://127.0.0.1:7780';

function verifier(nonces = new NonceBook()) {
  return new SiweVerifier({ issuer: ISSUER, chainId: 31337, publicClient: client, nonces });
}

describe('SIWE verification under arbitrary input', () => {
  test('arbitrary messages and signatures end in a LoginError', async () => {
    const v = verifier();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 600 }),
        fc.string({ maxLength: 200 }),
        async (message, signature) => {
          await assert.rejects(v.verify({ message, signature, interaction: 'uid' }), LoginError);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a real message with any one line altered is refused before or at the signature', async () => {
    const account = privateKeyToAccount(`0x${'11'.repeat(32)}`);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 40 }),
        async (lineSeed, replacement) => {
          const nonces = new NonceBook();
          const v = verifier(nonces);
          const message = v.message({ address: account.address, interaction: 'uid', statement: 'Sign in.' });
          const lines = message.split('\n');
          const i = lineSeed % lines.length;
          if (lines[i] === replacement) return;
          lines[i] = replacement;
          const altered = lines.join('\n');
          const signature = await account.signMessage({ message: altered });
          try {
            await v.verify({ message: altered, signature, interaction: 'uid' });
            // Some lines (the statement, an empty line) do not change what is checked; the signature
            // then still covers exactly the altered text, which is what the wallet saw.
            assert.ok(lines.join('\n') !== message);
          } catch (err) {
            assert.ok(err instanceof LoginError, String(err));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('oversized input is refused without parsing', async () => {
    const v = verifier();
    await assert.rejects(v.verify({ message: 'x'.repeat(10_000), signature: '0x', interaction: 'u' }), {
      code: 'BAD_SIWE_MESSAGE',
    });
    await assert.rejects(v.verify({ message: 'x', signature: `0x${'ab'.repeat(5000)}`, interaction: 'u' }), {
      code: 'BAD_SIGNATURE',
    });
  });

  test('subjects parse only as eip155:<this chain>:<address>', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (s) => {
        const parsed = parseSubject(s, 31337);
        if (parsed !== undefined) assert.match(s, /^eip155:31337:0x[0-9a-fA-F]{40}$/);
      }),
      { numRuns: 1000 },
    );
    assert.equal(parseSubject('eip155:1:0x0000000000000000000000000000000000000001', 31337), undefined);
    assert.ok(parseSubject('eip155:31337:0x0000000000000000000000000000000000000001', 31337));
  });

  test('a nonce is good once, for its own interaction, within its lifetime', () => {
    let now = 1_000_000;
    const book = new NonceBook({ ttlMs: 1000, now: () => now });
    const a = book.issue('a');
    assert.equal(book.take(a.nonce, 'b'), false, 'another interaction');
    const b = book.issue('a');
    assert.equal(book.take(b.nonce, 'a'), true);
    assert.equal(book.take(b.nonce, 'a'), false, 'used');
    const c = book.issue('a');
    now += 1001;
    assert.equal(book.take(c.nonce, 'a'), false, 'expired');
    const bounded = new NonceBook({ maxPending: 3 });
    for (let i = 0; i < 10; i++) bounded.issue(`i${i}`);
    assert.ok(bounded.size <= 3);
  });
});
