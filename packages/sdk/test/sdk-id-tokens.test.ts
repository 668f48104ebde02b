/**
 * Server SDK: DIBS ID tokens from a real login provider (real anvil) verified in an Express server —
 * accepted while the grant holds, refused when tampered, for another audience, expired, or once the
 * grant behind them is revoked on chain (seen through the event-fed chain view).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import * as oidc from 'openid-client';
import { Browser, type LoginBed, type Party, sign, signIn, startLoginBed } from '../../login/test/fixture.ts';
import {
  type ChainView,
  DibsAuth,
  type DibsRequest,
  dibsExpress,
  IdTokenVerifier,
  SdkError,
  startChainView,
} from '../src/server/index.ts';

describe('server SDK: DIBS ID tokens', () => {
  let bed: LoginBed;
  let view: ChainView;
  let verifier: IdTokenVerifier;
  let server: Server;
  let url: string;
  let clientId: string;
  let serviceId: bigint;
  let config: oidc.Configuration;
  let redirectUri: string;

  before(async () => {
    bed = await startLoginBed();
    serviceId = await bed.loginService('api');
    redirectUri = 'http://127.0.0.1:9/callback';
    const client = bed.client(serviceId, redirectUri);
    clientId = client.clientId;
    config = await oidc.discovery(
      new URL(bed.server.issuer),
      client.clientId,
      client.clientSecret,
      undefined,
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
    view = await startChainView({
      rpcUrl: bed.anvil.rpcUrl,
      deployment: bed.deployment,
      pollIntervalMs: 100,
    });
    verifier = await IdTokenVerifier.create({
      issuer: bed.server.issuer,
      audience: clientId,
      grants: view.cache,
    });
    const app = express();
    app.get('/me', dibsExpress(new DibsAuth({ idTokens: verifier })), (req, res) => {
      const id = (req as unknown as DibsRequest).dibs!;
      res.json({ sub: id.sub, groups: id.groups, via: id.via });
    });
    app.get(
      '/acme-only',
      dibsExpress(new DibsAuth({ idTokens: verifier }), { groups: ['acme'] }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server?.close();
    await view?.stop();
    await bed?.stop();
  });

  async function idToken(who: Party): Promise<{ token: string; grantId: bigint }> {
    const verifierCode = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifierCode),
      code_challenge_method: 'S256',
      state,
    });
    const outcome = await signIn(new Browser(), authUrl.href, bed.server.issuer, who.address, (m) =>
      sign(who.account, m),
    );
    if (outcome.kind !== 'callback') throw new Error(JSON.stringify(outcome));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(outcome.url), {
      pkceCodeVerifier: verifierCode,
      expectedState: state,
    });
    return { token: tokens.id_token!, grantId: BigInt(String(tokens.claims()!.grant_id)) };
  }

  const me = (token: string, path = '/me') =>
    fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  test('a valid ID token is accepted; group rules apply', async () => {
    const alice = await bed.party();
    await bed.admit(serviceId, alice);
    const { token } = await idToken(alice);
    const res = await me(token);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      sub: `eip155:${bed.deployment.chainId}:${alice.address}`,
      groups: [],
      via: 'id_token',
    });
    assert.equal((await me(token, '/acme-only')).status, 403);
  });

  test('tampered, foreign-audience and expired tokens are refused', async () => {
    const bob = await bed.party();
    await bed.admit(serviceId, bob);
    const { token } = await idToken(bob);
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, groups: ['acme'] })).toString('base64url')}.${s}`;
    assert.equal((await me(tampered, '/acme-only')).status, 401);
    const other = await IdTokenVerifier.create({ issuer: bed.server.issuer, audience: 'another-app' });
    await assert.rejects(
      other.verify(token),
      (e: unknown) => e instanceof SdkError && e.code === 'WRONG_AUDIENCE',
    );
    const later = await IdTokenVerifier.create({
      issuer: bed.server.issuer,
      audience: clientId,
      now: () => Date.now() + 24 * 3600_000,
    });
    await assert.rejects(
      later.verify(token),
      (e: unknown) => e instanceof SdkError && e.code === 'TOKEN_EXPIRED',
    );
    for (const garbage of ['', 'a.b.c', 'x'.repeat(9000), `${h}.${p}.`]) {
      await assert.rejects(verifier.verify(garbage), SdkError);
    }
  });

  test('a token is refused once its grant is revoked on chain', async () => {
    const carol = await bed.party();
    const grantId = await bed.admit(serviceId, carol);
    const { token, grantId: claimed } = await idToken(carol);
    assert.equal(claimed, grantId);
    await view.catchUp();
    assert.equal((await me(token)).status, 200);
    await bed.owner.registry.revokeGrant(grantId);
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      status = (await me(token)).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
    await assert.rejects(
      verifier.verify(token),
      (e: unknown) => e instanceof SdkError && e.code === 'GRANT_REVOKED',
    );
  });
});
