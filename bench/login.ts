/**
 * Login benchmark.
 *
 * 1. The whole OpenID Connect code flow without the human, on loopback against a real anvil:
 *    authorize → login page → SIWE message → wallet signature → SIWE verify → grant check →
 *    authorization code → token (openid-client checks the ID token) → userinfo (grant checked again).
 *    `flow` = a signed-in wallet whose authorization the provider has cached (invalidated by chain
 *    events; the common case); `flow_cold` = each flow a wallet the provider has not seen (grant,
 *    policy and organizations read from the chain). Baseline: the same library (`oidc-provider`) and
 *    the same flow with a login step that signs in a fixed account — no SIWE, no chain, in memory.
 * 2. ID token verifications per second in the server SDK (`IdTokenVerifier`: RS256, issuer, audience,
 *    expiry, subject parse, grant-revocation check against the chain view) beside jose's bare
 *    `jwtVerify` on the same token and key, the bare RSA check under both and, for the choice of
 *    algorithm, the bare ES256 and EdDSA checks of the same signing input; interleaved rounds, after
 *    the provider and anvil stopped. Per second of wall-clock time (the goal) and per second of the
 *    main thread's CPU time (one core's capacity, whatever else the machine runs; jose's WebCrypto
 *    work runs on other threads, so it has no such figure).
 */
import { createPublicKey, generateKeyPairSync, sign as signBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { GrantCache } from '@dibs/core';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import Provider from 'oidc-provider';
import * as oidc from 'openid-client';
import {
  authorizationRequest,
  Browser,
  type LoginBed,
  type Party,
  sign,
  signIn,
  startLoginBed,
} from '../packages/login/test/fixture.ts';
import { IdTokenVerifier } from '../packages/sdk/src/server/index.ts';

const FLOWS = Number(process.env.BENCH_LOGIN_FLOWS ?? 300);
const COLD_FLOWS = Number(process.env.BENCH_LOGIN_COLD_FLOWS ?? 30);
const WARMUP = 20;
const VERIFY_ROUNDS = 7;
const VERIFY_ROUND_MS = 700;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const median = (values: number[]) => percentile(values, 50);
const round2 = (n: number) => Math.round(n * 100) / 100;

interface Rp {
  config: oidc.Configuration;
  redirectUri: string;
}

/** One code flow through `signInStep`, ending with userinfo; returns ms. */
async function flow(rp: Rp, signInStep: (url: string, browser: Browser) => Promise<URL>): Promise<number> {
  const t0 = performance.now();
  const { url, state, nonce, verifier } = await authorizationRequest(rp.config, rp.redirectUri);
  const callback = await signInStep(url, new Browser());
  const tokens = await oidc.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const sub = tokens.claims()!.sub;
  await oidc.fetchUserInfo(rp.config, tokens.access_token, sub);
  return performance.now() - t0;
}

function dibsStep(issuer: string, who: Party) {
  return async (url: string, browser: Browser) => {
    const outcome = await signIn(browser, url, issuer, who.address, (m) => sign(who.account, m));
    if (outcome.kind !== 'callback') throw new Error(`sign-in failed: ${JSON.stringify(outcome)}`);
    return new URL(outcome.url);
  };
}

/** The baseline provider: same library and flow, a login step that signs in a fixed account. */
async function startBaseline(redirectUri: string) {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'baseline',
        client_secret: 'baseline-secret-baseline-secret-0123',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
      },
    ],
    scopes: ['openid', 'groups', 'offline_access'],
    claims: { openid: ['sub'], groups: ['groups'] },
    pkce: { required: () => true },
    // The same key type and lifetimes as the DIBS provider, so the two sign and store alike.
    jwks: {
      keys: [
        {
          ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
          kid: 'b',
          alg: 'RS256',
          use: 'sig',
        },
      ],
    },
    ttl: {
      AccessToken: 600,
      IdToken: 600,
      RefreshToken: 14 * 24 * 3600,
      Session: 24 * 3600,
      Interaction: 600,
      Grant: 14 * 24 * 3600,
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, i) => `/interaction/${i.uid}` },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, groups: ['acme'] }) };
    },
  });
  const callback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    (async () => {
      const details = await provider.interactionDetails(req, res);
      const grant = new provider.Grant({
        accountId: 'fixed-account',
        clientId: String(details.params.client_id),
      });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, {
        login: { accountId: 'fixed-account' },
        consent: { grantId },
      });
    })().catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  const config = await oidc.discovery(
    new URL(issuer),
    'baseline',
    'baseline-secret-baseline-secret-0123',
    undefined,
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  const step = async (url: string, browser: Browser) => {
    const done = await browser.follow(url, issuer);
    if (done.response) throw new Error(`baseline flow stopped at ${done.url}: ${done.response.status}`);
    return new URL(done.url);
  };
  return { issuer, config, step, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

interface Rates {
  /** Verifications per second of wall-clock time (what a server sees, including its share of the CPU). */
  wall: number;
  /** Verifications per second of this thread's CPU time (what one core does; load on the machine aside). */
  cpu: number;
}

/**
 * Rates of several verifiers, measured in interleaved rounds (each round runs every verifier once for
 * VERIFY_ROUND_MS) so they see the same machine load; medians over the rounds.
 */
async function rates<K extends string>(
  fns: Record<K, () => Promise<unknown> | unknown>,
): Promise<Record<K, Rates>> {
  const samples = {} as Record<K, { wall: number[]; cpu: number[] }>;
  for (let r = 0; r < VERIFY_ROUNDS; r++) {
    for (const [name, fn] of Object.entries(fns) as [K, () => Promise<unknown> | unknown][]) {
      let n = 0;
      const c0 = process.threadCpuUsage();
      const t0 = performance.now();
      while (performance.now() - t0 < VERIFY_ROUND_MS) {
        for (let i = 0; i < 100; i++) await fn();
        n += 100;
      }
      const wallMs = performance.now() - t0;
      const cpu = process.threadCpuUsage(c0);
      samples[name] ??= { wall: [], cpu: [] };
      const s = samples[name];
      s.wall.push((n * 1000) / wallMs);
      s.cpu.push((n * 1e6) / (cpu.user + cpu.system));
    }
  }
  const out = {} as Record<K, Rates>;
  for (const [name, s] of Object.entries(samples) as [K, { wall: number[]; cpu: number[] }][]) {
    out[name] = { wall: Math.round(median(s.wall)), cpu: Math.round(median(s.cpu)) };
  }
  return out;
}

const bed: LoginBed = await startLoginBed();
let bedStopped = false;
const stopBed = async () => {
  if (bedStopped) return;
  bedStopped = true;
  await bed.stop();
};
const callbackServer = createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', r));
const redirectUri = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/callback`;
try {
  const issuer = bed.server.issuer;
  const serviceId = await bed.loginService('bench app');
  const client = bed.client(serviceId, redirectUri);
  const config = await oidc.discovery(new URL(issuer), client.clientId, client.clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  const rp: Rp = { config, redirectUri };
  const alice = await bed.party();
  await bed.admit(serviceId, alice);
  const orgId = await bed.owner.registry.createOrganization({ name: 'acme', networkLabel: 'acme' });
  await bed.owner.registry.addMember(orgId, alice.address);
  console.log(`preparing ${COLD_FLOWS} wallets with grants for the cold flows…`);
  const coldParties: Party[] = [];
  for (let i = 0; i < COLD_FLOWS; i++) {
    const p = await bed.party();
    await bed.admit(serviceId, p);
    coldParties.push(p);
  }
  const baseline = await startBaseline(redirectUri);

  const dibs = dibsStep(issuer, alice);
  for (let i = 0; i < WARMUP; i++) {
    await flow(rp, dibs);
    await flow({ config: baseline.config, redirectUri }, baseline.step);
  }
  const ours: number[] = [];
  const base: number[] = [];
  console.log(`timing ${FLOWS} code flows each, DIBS and baseline interleaved…`);
  for (let i = 0; i < FLOWS; i++) {
    ours.push(await flow(rp, dibs));
    base.push(await flow({ config: baseline.config, redirectUri }, baseline.step));
  }
  const cold: number[] = [];
  for (const p of coldParties) cold.push(await flow(rp, dibsStep(issuer, p)));
  await baseline.stop();

  // ID token verification: a real token from the provider, its real JWKS.
  const sample = await (async () => {
    const req = await authorizationRequest(config, redirectUri);
    const cb = await dibs(req.url, new Browser());
    return oidc.authorizationCodeGrant(config, cb, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    });
  })();
  const idToken = sample.id_token!;
  const jwks = (await (await fetch(config.serverMetadata().jwks_uri!)).json()) as JSONWebKeySet;
  const grants = new GrantCache();
  const grantId = BigInt(String(sample.claims()!.grant_id));
  grants.applyGrant({
    grantId,
    serviceId,
    grantee: alice.address,
    issuedAt: 0n,
    expiresAt: BigInt(Math.floor(Date.now() / 1000) + 3600),
    revoked: false,
  });
  const sdk = await IdTokenVerifier.create({ issuer, audience: client.clientId, jwks, grants });
  // The verifier needs neither the provider nor the chain from here on: both stop, so the rates below
  // are not shared with this bench's own provider, watcher and anvil.
  callbackServer.close();
  await stopBed();
  const keys = createLocalJWKSet(jwks);
  // The floor under both: the RSA signature check alone (node:crypto, same key), on this machine now.
  const dot = idToken.lastIndexOf('.');
  const signingInput = Buffer.from(idToken.slice(0, dot));
  const signature = Buffer.from(idToken.slice(dot + 1), 'base64url');
  const publicKey = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' });
  // The other JWS algorithms a provider could sign with, on the same signing input: their bare checks.
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecSignature = signBytes('sha256', signingInput, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  const ed = generateKeyPairSync('ed25519');
  const edSignature = signBytes(null, signingInput, ed.privateKey);
  const measured = await rates({
    sdk: () => sdk.verify(idToken),
    jose: () => jwtVerify(idToken, keys, { issuer, audience: client.clientId, algorithms: ['RS256'] }),
    rsa: () => verify('sha256', signingInput, publicKey, signature),
    es256: () =>
      verify('sha256', signingInput, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSignature),
    eddsa: () => verify(null, signingInput, ed.publicKey, edSignature),
  });
  const sdkRate = measured.sdk.wall;
  const joseRate = measured.jose.wall;
  const rsaRate = measured.rsa.wall;

  const figures = {
    flow_p50_ms: round2(median(ours)),
    flow_p99_ms: round2(percentile(ours, 99)),
    flow_cold_p50_ms: round2(median(cold)),
    flow_cold_p99_ms: round2(percentile(cold, 99)),
    baseline_flow_p50_ms: round2(median(base)),
    baseline_flow_p99_ms: round2(percentile(base, 99)),
    flow_p50_ratio_to_baseline: round2(median(ours) / median(base)),
    id_token_verify_per_sec: sdkRate,
    jose_jwtverify_per_sec: joseRate,
    id_token_verify_ratio_to_jose: round2(sdkRate / joseRate),
    rsa_verify_only_per_sec: rsaRate,
    id_token_verify_ratio_to_rsa_only: round2(sdkRate / rsaRate),
    id_token_verify_per_cpu_sec: measured.sdk.cpu,
    rsa_verify_only_per_cpu_sec: measured.rsa.cpu,
    es256_verify_only_per_cpu_sec: measured.es256.cpu,
    eddsa_verify_only_per_cpu_sec: measured.eddsa.cpu,
    load_average_1m: round2(loadavg()[0]!),
    flows: FLOWS,
    cold_flows: COLD_FLOWS,
  };
  console.log(
    `code flow, DIBS (SIWE + grant check), cached authorization: p50 ${figures.flow_p50_ms} ms, p99 ${figures.flow_p99_ms} ms`,
  );
  console.log(
    `code flow, DIBS, wallet new to the provider (chain reads):    p50 ${figures.flow_cold_p50_ms} ms, p99 ${figures.flow_cold_p99_ms} ms`,
  );
  console.log(
    `code flow, baseline (oidc-provider, fixed account):          p50 ${figures.baseline_flow_p50_ms} ms, p99 ${figures.baseline_flow_p99_ms} ms`,
  );
  console.log(`  DIBS / baseline p50: ${figures.flow_p50_ratio_to_baseline}`);
  console.log(
    `ID token verify, @dibs/sdk/server IdTokenVerifier: ${sdkRate}/s  (${measured.sdk.cpu} per CPU-second)`,
  );
  console.log(
    `ID token verify, jose jwtVerify (baseline):         ${joseRate}/s   ratio ${figures.id_token_verify_ratio_to_jose}`,
  );
  console.log(
    `RSA signature check alone (node:crypto):           ${rsaRate}/s  (${measured.rsa.cpu} per CPU-second)   IdTokenVerifier / RSA alone ${figures.id_token_verify_ratio_to_rsa_only}`,
  );
  console.log(
    `  for comparison, per CPU-second: ES256 check alone ${measured.es256.cpu}, EdDSA (Ed25519) check alone ${measured.eddsa.cpu}`,
  );
  console.log(
    JSON.stringify({
      bench: 'login',
      figures,
      goals: {
        flow_p50_ms: { value: figures.flow_p50_ms, goal: 150, met: figures.flow_p50_ms <= 150 },
        id_token_verify_per_sec: { value: sdkRate, goal: 10000, met: sdkRate >= 10000 },
      },
    }),
  );
} finally {
  callbackServer.close();
  await stopBed();
}
