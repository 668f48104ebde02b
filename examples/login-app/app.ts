/**
 * Example: an application with "Sign in with DIBS".
 *
 * An Express server that is an OpenID Connect relying party (openid-client, code flow with PKCE) of
 * a DIBS login provider, shows the signed-in wallet's claims, refreshes its tokens on demand, and
 * serves a DIBS-protected API (`@dibs/sdk/server`) that its page calls from the browser with the ID
 * token (`@dibs/sdk/browser`, bundled at start).
 *
 * Run: register the app as a `login` service and a client (`dibs login client add <service>
 * --redirect-uri http://127.0.0.1:3000/callback`), then
 *   DIBS_ISSUER=http://127.0.0.1:7780 DIBS_CLIENT_ID=… DIBS_CLIENT_SECRET=… node examples/login-app/app.ts
 * (the secret from the environment, never from the command line).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DibsAuth, type DibsRequest, dibsExpress, IdTokenVerifier } from '@dibs/sdk/server';
import express from 'express';
import * as oidc from 'openid-client';
import { build } from 'rolldown';

/** What the example needs to know. */
export interface ExampleAppOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  port?: number;
  host?: string;
}

interface Session {
  pending?: { verifier: string; state: string; nonce: string };
  tokens?: {
    idToken: string;
    accessToken: string;
    refreshToken: string | undefined;
    claims: Record<string, unknown>;
  };
  notice?: string;
}

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** Bundles the browser SDK and this page's script for the browser. */
async function bundleBrowserScript(): Promise<string> {
  const out = await build({
    input: fileURLToPath(new URL('./page.ts', import.meta.url)),
    platform: 'browser',
    write: false,
    output: { format: 'iife' },
    logLevel: 'silent',
  });
  return out.output[0].code;
}

/** Starts the example app; resolves once it listens. */
export async function startExampleApp(
  o: ExampleAppOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const host = o.host ?? '127.0.0.1';
  const app = express();
  const sessions = new Map<string, Session>();
  const script = await bundleBrowserScript();
  let config: oidc.Configuration | undefined;
  let base = '';
  const rp = async () => {
    config ??= await oidc.discovery(new URL(o.issuer), o.clientId, o.clientSecret, undefined, {
      execute: o.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
    });
    return config;
  };
  const verifier = await IdTokenVerifier.create({ issuer: o.issuer, audience: o.clientId });

  const session = (req: express.Request, res: express.Response): Session => {
    const sid = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (sid && sessions.has(sid)) return sessions.get(sid)!;
    const fresh = randomBytes(18).toString('base64url');
    const s: Session = {};
    sessions.set(fresh, s);
    res.setHeader('set-cookie', `sid=${fresh}; Path=/; HttpOnly; SameSite=Lax`);
    return s;
  };

  app.get('/', (req, res) => {
    const s = session(req, res);
    const notice = s.notice ? `<p id="notice">${esc(s.notice)}</p>` : '';
    s.notice = undefined;
    res.setHeader('content-type', 'text/html; charset=utf-8');
    if (!s.tokens) {
      res.end(`<!doctype html><html><head><title>Example app</title></head><body>
<h1>Example app</h1>${notice}<p>You are not signed in.</p>
<button id="signin" type="button">Sign in with DIBS</button>
<script src="/app.js"></script></body></html>`);
      return;
    }
    const c = s.tokens.claims;
    res.end(`<!doctype html><html><head><title>Example app</title></head><body data-id-token="${esc(s.tokens.idToken)}">
<h1>Example app</h1>${notice}
<dl id="claims"><dt>sub</dt><dd id="sub">${esc(c.sub)}</dd><dt>did</dt><dd id="did">${esc(c.did)}</dd>
<dt>groups</dt><dd id="groups">${esc(JSON.stringify(c.groups ?? []))}</dd><dt>grant</dt><dd id="grant">${esc(c.grant_id)}</dd></dl>
<form method="post" action="/refresh"><button id="refresh" type="submit">Refresh session</button></form>
<button id="call-api" type="button">Call the DIBS-protected API</button><pre id="api"></pre>
<form method="post" action="/logout"><button id="logout" type="submit">Sign out</button></form>
<script src="/app.js"></script></body></html>`);
  });

  app.get('/app.js', (_req, res) => {
    res.setHeader('content-type', 'text/javascript; charset=utf-8');
    res.end(script);
  });

  app.get('/login', async (req, res, next) => {
    try {
      const s = session(req, res);
      const c = await rp();
      const pending = {
        verifier: oidc.randomPKCECodeVerifier(),
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
      };
      s.pending = pending;
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: `${base}/callback`,
        scope: 'openid groups offline_access',
        prompt: 'consent',
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      });
      res.redirect(url.href);
    } catch (err) {
      next(err);
    }
  });

  app.get('/callback', async (req, res) => {
    const s = session(req, res);
    const pending = s.pending;
    s.pending = undefined;
    const current = new URL(req.originalUrl, base);
    if (current.searchParams.get('error')) {
      s.notice = `Sign-in refused: ${current.searchParams.get('error')} — ${current.searchParams.get('error_description') ?? ''}`;
      res.redirect('/');
      return;
    }
    try {
      if (!pending) throw new Error('no sign-in was started here');
      const tokens = await oidc.authorizationCodeGrant(await rp(), current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      s.tokens = {
        idToken: tokens.id_token!,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        claims: tokens.claims() as Record<string, unknown>,
      };
      s.notice = 'Signed in.';
    } catch (err) {
      s.notice = `Sign-in failed: ${(err as Error).message}`;
    }
    res.redirect('/');
  });

  app.post('/refresh', async (req, res) => {
    const s = session(req, res);
    if (!s.tokens?.refreshToken) {
      s.notice = 'Not signed in.';
      res.redirect('/');
      return;
    }
    try {
      const tokens = await oidc.refreshTokenGrant(await rp(), s.tokens.refreshToken);
      s.tokens = {
        idToken: tokens.id_token ?? s.tokens.idToken,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? s.tokens.refreshToken,
        claims: (tokens.claims() as Record<string, unknown>) ?? s.tokens.claims,
      };
      s.notice = 'Session refreshed.';
    } catch (err) {
      s.tokens = undefined;
      s.notice = `Refresh failed: ${(err as { error?: string }).error ?? (err as Error).message} — signed out.`;
    }
    res.redirect('/');
  });

  app.post('/logout', (req, res) => {
    const s = session(req, res);
    s.tokens = undefined;
    s.notice = 'Signed out.';
    res.redirect('/');
  });

  // The DIBS-protected API: any request with a valid DIBS ID token for this application.
  app.get('/api/me', dibsExpress(new DibsAuth({ idTokens: verifier })), (req, res) => {
    const id = (req as unknown as DibsRequest).dibs!;
    res.json({ sub: id.sub, did: id.did, groups: id.groups, grantId: String(id.grantId) });
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(o.port ?? 3000, host, () => resolve(s));
  });
  base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const need = (name: string) => {
    const v = process.env[name];
    if (!v) {
      console.error(`set ${name} (see the comment at the top of examples/login-app/app.ts)`);
      process.exit(2);
    }
    return v;
  };
  const app = await startExampleApp({
    issuer: need('DIBS_ISSUER'),
    clientId: need('DIBS_CLIENT_ID'),
    clientSecret: need('DIBS_CLIENT_SECRET'),
    port: Number(process.env.PORT ?? 3000),
  });
  console.log(`example app on ${app.url}`);
}
