/**
 * IdTokenVerifier as a parser of untrusted input: any string is refused with an SdkError (never
 * another exception, never accepted), a header the verifier has already seen gives a forged payload or
 * signature no pass, and headers of other algorithms, with `crit`, or an unknown key are refused
 * before and after a valid token with the provider's header was verified.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { JSONWebKeySet } from 'jose';
import { IdTokenVerifier, SdkError } from '../src/server/index.ts';

const issuer = 'https://login.example';
const audience = 'app-1';
const address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = {
  keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }],
} as JSONWebKeySet;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const header = { alg: 'RS256', typ: 'JWT', kid: 'k1' };

function claims(over: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer, aud: audience, sub: `eip155:31337:${address}`, iat: now, exp: now + 600, ...over };
}
function signed(h: unknown, payload: unknown): string {
  const input = `${b64(h)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}
async function refused(v: IdTokenVerifier, token: string): Promise<void> {
  await assert.rejects(v.verify(token), (e: unknown) => e instanceof SdkError);
}

describe('IdTokenVerifier on untrusted input', () => {
  test('a token signed with the provider key verifies; its claims come back', async () => {
    const v = await IdTokenVerifier.create({ issuer, audience, jwks });
    const id = await v.verify(signed(header, claims({ groups: ['acme', 7] })));
    assert.equal(id.address, address);
    assert.equal(id.chainId, 31337);
    assert.deepEqual(id.groups, ['acme']);
  });

  test('other algorithms, crit, unknown keys and forged parts are refused, before and after a valid token', async () => {
    const v = await IdTokenVerifier.create({ issuer, audience, jwks });
    const good = signed(header, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const forged = [
      `${b64({ alg: 'none', kid: 'k1' })}.${p}.`,
      `${b64({ alg: 'none', kid: 'k1' })}.${p}.${s}`,
      `${b64({ alg: 'HS256', kid: 'k1' })}.${p}.${s}`,
      signed({ ...header, crit: ['exp'] }, claims()),
      signed({ ...header, kid: 'k2' }, claims()),
      `${h}.${b64(claims({ sub: `eip155:31337:0x${'1'.repeat(40)}` }))}.${s}`,
      `${h}.${p}.${Buffer.from(s, 'base64url').reverse().toString('base64url')}`,
      `${b64({ ...header, typ: 'jwt' })}.${p}.${s}`,
    ];
    for (const t of forged) await refused(v, t);
    await v.verify(good);
    for (const t of forged) await refused(v, t);
    await v.verify(good);
  });

  test('any string is refused with an SdkError', async () => {
    const v = await IdTokenVerifier.create({ issuer, audience, jwks });
    await v.verify(signed(header, claims()));
    const part = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.base64String({ maxLength: 60 }).map((x) => x.replaceAll('=', '')),
      fc.jsonValue({ maxDepth: 2 }).map(b64),
      fc.constant(b64(header)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.tuple(part, part, part).map((x) => x.join('.')),
        ),
        async (token) => {
          await refused(v, token);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('claims with the provider signature but the wrong shape are refused', async () => {
    const v = await IdTokenVerifier.create({ issuer, audience, jwks });
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            iss: fc.constantFrom(`${issuer}/`, '', 'https://other.example'),
            aud: fc.constantFrom(['another', audience], 'another', '', [] as string[]),
            sub: fc.constantFrom(address, '', `eip155:x:${address}`, `eip155:1:${address}0`, 7),
            exp: fc.constantFrom(1, '9999999999', null),
            iat: fc.constantFrom(Math.floor(Date.now() / 1000) + 3600, null, '1'),
            nbf: fc.constant(Math.floor(Date.now() / 1000) + 3600),
          },
          { requiredKeys: [] },
        ),
        async (bad) => {
          fc.pre(Object.keys(bad).length > 0);
          await refused(v, signed(header, claims(bad)));
        },
      ),
      { numRuns: 150 },
    );
  });
});
