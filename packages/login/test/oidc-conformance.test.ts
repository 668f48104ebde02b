/**
 * OpenID Connect conformance of the DIBS login provider, offline on loopback, with `openid-client`
 * as the relying party against a real anvil: discovery and JWKS, the code flow with PKCE, state and
 * nonce, the ID token's signature, issuer, audience and expiry, userinfo, refresh and revocation —
 * and every way it must refuse.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Policy } from '@dibs/contracts';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import {
  type AuthorizationRequest,
  authorizationRequest,
  Browser,
  type BedClient,
  callbackUrl,
  followAnswer,
  type LoginBed,
  type Party,
  postSignIn,
  refusal,
  sign,
  signIn,
  startLoginBed,
} from './fixture.ts';
import { approveLogin } from '../src/index.ts';

/** Matches an OAuth error response with this `error` code (openid-client's ResponseBodyError). */
const oauth = (code: string) => (err: unknown) => {
  assert.equal((err as { error?: string }).error, code, String(err));
  return true;
};

/** Matches a client-side check failure whose cause names `what`. */
const refusedBy = (what: RegExp) => (err: unknown) => {
  const e = err as Error & { cause?: Error };
  assert.match(`${e.message} ${e.cause?.message ?? ''}`, what);
  return true;
};

async function rp(issuer: string, c: BedClient, secret = c.clientSecret): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), c.clientId, secret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
}

/** The test's authorization request for client `c`. */
function authorization(config: oidc.Configuration, c: BedClient, extra: Record<string, string> = {}) {
  return authorizationRequest(config, c.redirectUri, extra);
}

describe('DIBS login: OpenID Connect conformance (openid-client as RP)', () => {
  let bed: LoginBed;
  let issuer: string;
  let serviceId: bigint;
  let client: BedClient;
  let config: oidc.Configuration;
  let alice: Party;
  let callbackServer: Server;
  let redirectUri: string;

  before(async () => {
    bed = await startLoginBed({ revocationBoundMs: 2000, pollIntervalMs: 100 });
    issuer = bed.server.issuer;
    // A real listener at the redirect URI (the RP's callback); the tests read the redirect itself.
    callbackServer = createServer((_req, res) => res.end('callback'));
    await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', r));
    redirectUri = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
    serviceId = await bed.loginService('Example app');
    client = bed.client(serviceId, redirectUri);
    config = await rp(issuer, client);
    alice = await bed.party();
    await bed.admit(serviceId, alice);
  });

  after(async () => {
    callbackServer?.close();
    await bed?.stop();
  });

  /** A full sign-in of `who`; returns the tokens. */
  async function login(who: Party, flow?: AuthorizationRequest) {
    const f = flow ?? (await authorization(config, client));
    const browser = new Browser();
    const outcome = await signIn(browser, f.url, issuer, who.address, (m) => sign(who.account, m));
    assert.equal(outcome.kind, 'callback', JSON.stringify(outcome));
    const callback = callbackUrl(outcome);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: f.verifier,
      expectedState: f.state,
      expectedNonce: f.nonce,
      idTokenExpected: true,
    });
    return { tokens, callback, flow: f, browser };
  }

  test('discovery and JWKS describe the provider', async () => {
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, issuer);
    assert.ok(meta.authorization_endpoint?.startsWith(issuer));
    assert.ok(meta.token_endpoint && meta.userinfo_endpoint && meta.revocation_endpoint && meta.jwks_uri);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.ok(meta.id_token_signing_alg_values_supported?.includes('RS256'));
    assert.ok(meta.scopes_supported?.includes('groups'));
    const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Array<Record<string, unknown>> };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.kty, 'RSA');
    assert.equal(jwks.keys[0]!.d, undefined, 'the JWKS must not publish the private key');
  });

  test('code flow with PKCE, state and nonce: ID token, userinfo, groups, refresh, revocation', async () => {
    const orgId = await bed.owner.registry.createOrganization({ name: 'acme', networkLabel: 'acme' });
    await bed.owner.registry.addMember(orgId, alice.address);
    const { tokens, flow } = await login(alice);
    const claims = tokens.claims()!;
    const sub = `eip155:${bed.deployment.chainId}:${alice.address}`;
    assert.equal(claims.sub, sub);
    assert.equal(claims.did, `did:pkh:eip155:${bed.deployment.chainId}:${alice.address}`);
    assert.equal(claims.nonce, flow.nonce);
    assert.deepEqual(claims.groups, ['acme']);

    // The ID token's signature, issuer, audience and expiry, checked independently of the RP library.
    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const verified = await jwtVerify(tokens.id_token!, jwks, { issuer, audience: client.clientId });
    assert.equal(verified.protectedHeader.alg, 'RS256');
    assert.ok(verified.payload.exp! > Date.now() / 1000);
    const grant = await bed.owner.registry.getGrant(BigInt(String(claims.grant_id)));
    assert.ok(verified.payload.exp! <= Number(grant!.expiresAt), 'the ID token must not outlive the grant');
    await assert.rejects(jwtVerify(tokens.id_token!, jwks, { issuer, audience: 'another-app' }), /aud/);
    await assert.rejects(
      jwtVerify(tokens.id_token!, jwks, { issuer: 'http://127.0.0.1:1', audience: client.clientId }),
      /iss/,
    );
    const [h, p, s] = tokens.id_token!.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(tokens.id_token!), sub: 'eip155:1:0x0000000000000000000000000000000000000001' })).toString('base64url')}.${s}`;
    assert.notEqual(forged.split('.')[1], p);
    await assert.rejects(jwtVerify(forged, jwks, { issuer, audience: client.clientId }), /signature/);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);
    assert.deepEqual(info.groups, ['acme']);
    await assert.rejects(
      oidc.fetchUserInfo(config, tokens.access_token, 'eip155:1:someone-else'),
      refusedBy(/"sub"/),
    );

    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal(refreshed.claims()?.sub, sub);
    assert.ok(
      refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token,
      'refresh tokens rotate',
    );
    await assert.rejects(
      oidc.refreshTokenGrant(config, tokens.refresh_token!),
      oauth('invalid_grant'),
      'a rotated refresh token is spent',
    );

    // Token revocation (RFC 7009): the revoked refresh token no longer works.
    const again = await login(alice);
    await oidc.tokenRevocation(config, again.tokens.refresh_token!);
    await assert.rejects(oidc.refreshTokenGrant(config, again.tokens.refresh_token!), oauth('invalid_grant'));
  });

  test('wrong state is refused by the RP and a code is good only once', async () => {
    const f = await authorization(config, client);
    const browser = new Browser();
    const outcome = await signIn(browser, f.url, issuer, alice.address, (m) => sign(alice.account, m));
    assert.equal(outcome.kind, 'callback');
    const callback = callbackUrl(outcome);
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: f.verifier,
        expectedState: oidc.randomState(),
        expectedNonce: f.nonce,
      }),
      refusedBy(/"state"/),
    );
    await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: f.verifier,
      expectedState: f.state,
      expectedNonce: f.nonce,
    });
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: f.verifier,
        expectedState: f.state,
        expectedNonce: f.nonce,
      }),
      oauth('invalid_grant'),
      'a reused code is refused',
    );
  });

  test('a wrong PKCE verifier and a wrong nonce are refused', async () => {
    const f = await authorization(config, client);
    const outcome = await signIn(new Browser(), f.url, issuer, alice.address, (m) => sign(alice.account, m));
    const callback = callbackUrl(outcome);
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
        expectedState: f.state,
        expectedNonce: f.nonce,
      }),
      oauth('invalid_grant'),
    );
    const g = await authorization(config, client);
    const second = await signIn(new Browser(), g.url, issuer, alice.address, (m) => sign(alice.account, m));
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callbackUrl(second), {
        pkceCodeVerifier: g.verifier,
        expectedState: g.state,
        expectedNonce: oidc.randomNonce(),
      }),
      refusedBy(/"nonce"/),
    );
  });

  test('a redirect URI that is not registered is refused, at authorization and at the token endpoint', async () => {
    const f = await authorization(config, client, { redirect_uri: `${redirectUri}-evil` });
    const res = await new Browser().request(f.url);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null, 'never redirects to an unregistered URI');
    assert.match(await res.text(), /redirect_uri/);

    const g = await authorization(config, client);
    const outcome = await signIn(new Browser(), g.url, issuer, alice.address, (m) => sign(alice.account, m));
    const code = callbackUrl(outcome).searchParams.get('code')!;
    const tokenRes = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${redirectUri}-evil`,
        code_verifier: g.verifier,
      }),
    });
    assert.equal(tokenRes.status, 400);
    assert.equal(((await tokenRes.json()) as { error: string }).error, 'invalid_grant');
  });

  test('a bad client secret is refused', async () => {
    const f = await authorization(config, client);
    const outcome = await signIn(new Browser(), f.url, issuer, alice.address, (m) => sign(alice.account, m));
    const wrong = await rp(issuer, client, 'not-the-secret');
    await assert.rejects(
      oidc.authorizationCodeGrant(wrong, callbackUrl(outcome), {
        pkceCodeVerifier: f.verifier,
        expectedState: f.state,
        expectedNonce: f.nonce,
      }),
      oauth('invalid_client'),
    );
  });

  test('prompt=none without a session answers login_required', async () => {
    const f = await authorization(config, client, { prompt: 'none', scope: 'openid' });
    const done = await new Browser().follow(f.url, issuer);
    assert.equal(done.response, undefined, 'the provider redirects back to the application');
    const back = new URL(done.url);
    assert.equal(back.origin + back.pathname, redirectUri);
    assert.equal(back.searchParams.get('error'), 'login_required');
    assert.equal(back.searchParams.get('state'), f.state);
  });

  test('a wallet without a grant gets access_denied', async () => {
    const mallory = await bed.party();
    const f = await authorization(config, client);
    const outcome = await signIn(new Browser(), f.url, issuer, mallory.address, (m) =>
      sign(mallory.account, m),
    );
    assert.equal(outcome.kind, 'callback');
    const back = callbackUrl(outcome);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('code'), null);
    assert.equal(back.searchParams.get('state'), f.state);
  });

  test('a public login service lets a wallet without a grant request one during login', async () => {
    const open = await bed.loginService('Open app', Policy.Public);
    const openClient = bed.client(open, redirectUri);
    const openConfig = await rp(issuer, openClient);
    const bob = await bed.party();
    const f = await authorization(openConfig, openClient);
    const browser = new Browser();
    const outcome = await signIn(browser, f.url, issuer, bob.address, (m) => sign(bob.account, m));
    assert.equal(outcome.kind, 'grant_required');
    if (outcome.kind !== 'grant_required') return;
    const request = outcome.body.request as { to: `0x${string}`; data: `0x${string}` };
    const hash = await bob.clients.walletClient!.sendTransaction({
      to: request.to,
      data: request.data,
      chain: bob.clients.chain,
    });
    await bob.clients.publicClient.waitForTransactionReceipt({ hash });
    // The login page continues the interaction it started: no second signature.
    const cont = await browser.request(`${issuer}/interaction/${outcome.uid}/continue`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const done = await followAnswer(browser, issuer, (await cont.json()) as Record<string, unknown>);
    const g = f;
    const tokens = await oidc.authorizationCodeGrant(openConfig, callbackUrl(done), {
      pkceCodeVerifier: g.verifier,
      expectedState: g.state,
      expectedNonce: g.nonce,
    });
    assert.equal(tokens.claims()?.sub, `eip155:${bed.deployment.chainId}:${bob.address}`);
  });

  test('a forged SIWE signature is refused and spends the nonce', async () => {
    const mallory = await bed.party();
    const f = await authorization(config, client);
    const browser = new Browser();
    const page = await browser.follow(f.url, issuer);
    await page.response?.arrayBuffer();
    const uid = /\/interaction\/([^/?]+)$/.exec(new URL(page.url).pathname)![1]!;
    const res = await browser.request(`${issuer}/interaction/${uid}/siwe?address=${alice.address}`);
    const { message } = (await res.json()) as { message: string };
    // Mallory signs a message naming Alice.
    const forged = await postSignIn(browser, issuer, uid, message, await sign(mallory.account, message));
    assert.equal(forged.kind, 'refused');
    assert.equal(refusal(forged), 'BAD_SIGNATURE');
    // Alice's real signature on the same (now old) nonce is refused as well.
    const replay = await postSignIn(browser, issuer, uid, message, await sign(alice.account, message));
    assert.equal(replay.kind, 'refused');
    assert.equal(refusal(replay), 'BAD_NONCE');
    // Garbage is refused with a clear error, and the provider keeps serving.
    const garbage = await postSignIn(browser, issuer, uid, 'not a siwe message', '0x1234');
    assert.equal(garbage.kind, 'refused');
  });

  test('a SIWE message for another domain is refused', async () => {
    const f = await authorization(config, client);
    const outcome = await signIn(
      new Browser(),
      f.url,
      issuer,
      alice.address,
      (m) => sign(alice.account, m),
      (m) => m.replace(new URL(issuer).host, 'evil.example'),
    );
    assert.equal(outcome.kind, 'refused');
    assert.equal(refusal(outcome), 'WRONG_DOMAIN');
  });

  test('an old nonce from an earlier login is refused', async () => {
    const first = await authorization(config, client);
    const browser = new Browser();
    const page = await browser.follow(first.url, issuer);
    await page.response?.arrayBuffer();
    const uid = /\/interaction\/([^/?]+)$/.exec(new URL(page.url).pathname)![1]!;
    const { message } = (await (
      await browser.request(`${issuer}/interaction/${uid}/siwe?address=${alice.address}`)
    ).json()) as {
      message: string;
    };
    const signature = await sign(alice.account, message);
    const ok = await postSignIn(browser, issuer, uid, message, signature);
    assert.equal(ok.kind, 'callback');
    // The same signed message presented to a new login.
    const second = await authorization(config, client);
    const b2 = new Browser();
    const page2 = await b2.follow(second.url, issuer);
    await page2.response?.arrayBuffer();
    const uid2 = /\/interaction\/([^/?]+)$/.exec(new URL(page2.url).pathname)![1]!;
    const replay = await postSignIn(b2, issuer, uid2, message, signature);
    assert.equal(replay.kind, 'refused');
    assert.equal(refusal(replay), 'BAD_NONCE');
  });

  test('an ERC-1271 contract wallet signs in through its owner key', async () => {
    const controller = await bed.party();
    const wallet = await bed.contractWallet(controller);
    await bed.admitContractWallet(serviceId, wallet, controller);
    const f = await authorization(config, client);
    const outcome = await signIn(new Browser(), f.url, issuer, wallet, (m) => sign(controller.account, m));
    assert.equal(outcome.kind, 'callback', JSON.stringify(outcome));
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl(outcome), {
      pkceCodeVerifier: f.verifier,
      expectedState: f.state,
      expectedNonce: f.nonce,
    });
    assert.equal(tokens.claims()?.sub, `eip155:${bed.deployment.chainId}:${wallet}`);
    // Another key cannot sign for the contract wallet.
    const stranger = await bed.party();
    const g = await authorization(config, client);
    const refused = await signIn(new Browser(), g.url, issuer, wallet, (m) => sign(stranger.account, m));
    assert.equal(refused.kind, 'refused');
  });

  test('a revoked grant makes refresh and userinfo fail within the revocation bound', async () => {
    const carol = await bed.party();
    const grantId = await bed.admit(serviceId, carol);
    const { tokens } = await login(carol);
    const sub = tokens.claims()!.sub;
    await oidc.fetchUserInfo(config, tokens.access_token, sub);
    await bed.owner.registry.revokeGrant(grantId);
    // The provider's watcher polls every 100 ms; the bound is 2 s. Give it 20 bounds before failing.
    let refused = false;
    for (let i = 0; i < 400 && !refused; i++) {
      try {
        await oidc.fetchUserInfo(config, tokens.access_token, sub);
        await new Promise((r) => setTimeout(r, 100));
      } catch (err) {
        assert.match(String((err as Error).message) + JSON.stringify(err), /invalid_token|401/);
        refused = true;
      }
    }
    assert.ok(refused, 'userinfo fails after the revocation');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), oauth('invalid_grant'));
    // Signing in again needs a new grant: offered while the allowlist admits the wallet, refused after.
    const f = await authorization(config, client);
    const again = await signIn(new Browser(), f.url, issuer, carol.address, (m) => sign(carol.account, m));
    assert.equal(again.kind, 'grant_required');
    await bed.owner.registry.setAllowlist(serviceId, [carol.address], false);
    const g = await authorization(config, client);
    const denied = await signIn(new Browser(), g.url, issuer, carol.address, (m) => sign(carol.account, m));
    assert.equal(callbackUrl(denied).searchParams.get('error'), 'access_denied');
  });

  test("a user without a browser wallet signs in by their own node's approval", async () => {
    const dave = await bed.party();
    await bed.admit(serviceId, dave);
    const f = await authorization(config, client);
    const browser = new Browser();
    const page = await browser.follow(f.url, issuer);
    await page.response?.arrayBuffer();
    const uid = /\/interaction\/([^/?]+)$/.exec(new URL(page.url).pathname)![1]!;
    const waiting = (await (await browser.request(`${issuer}/interaction/${uid}/status`)).json()) as {
      status?: string;
    };
    assert.equal(waiting.status, 'waiting');
    // The node, outside the browser and without its cookies, approves with its own key.
    const result = await approveLogin({
      url: `${issuer}/interaction/${uid}`,
      address: dave.address,
      sign: (m) => sign(dave.account, m),
    });
    assert.deepEqual(result, { status: 'approved' });
    // The page, polling, continues to the application.
    const answer = (await (await browser.request(`${issuer}/interaction/${uid}/status`)).json()) as Record<
      string,
      unknown
    >;
    const done = await followAnswer(browser, issuer, answer);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl(done), {
      pkceCodeVerifier: f.verifier,
      expectedState: f.state,
      expectedNonce: f.nonce,
    });
    assert.equal(tokens.claims()?.sub, `eip155:${bed.deployment.chainId}:${dave.address}`);
    // A node without a grant is refused, and a made-up login id is an error.
    const erin = await bed.party();
    const g = await authorization(config, client);
    const b2 = new Browser();
    const p2 = await b2.follow(g.url, issuer);
    await p2.response?.arrayBuffer();
    const uid2 = /\/interaction\/([^/?]+)$/.exec(new URL(p2.url).pathname)![1]!;
    const refused = await approveLogin({
      url: `${issuer}/interaction/${uid2}`,
      address: erin.address,
      sign: (m) => sign(erin.account, m),
    });
    assert.equal(refused.status, 'refused');
    await assert.rejects(
      approveLogin({
        url: `${issuer}/interaction/not-a-login`,
        address: erin.address,
        sign: (m) => sign(erin.account, m),
      }),
      /refused/,
    );
  });
});
