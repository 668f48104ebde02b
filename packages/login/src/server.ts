/**
 * The login provider's HTTP server, on its own listener: the OIDC endpoints of `oidc-provider`, and
 * the interaction routes where a wallet signs in with SIWE and the chain decides whether it may.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChainClients, Deployment } from '@dibs/chain';
import { accessGrantsAbi } from '@dibs/contracts';
import { SecretBox, type Wallet } from '@dibs/core';
import type { Store } from '@dibs/store';
import type Provider from 'oidc-provider';
import type { Interaction, InteractionResults } from 'oidc-provider';
import { encodeFunctionData, type PublicClient } from 'viem';
import { LoginAuthorizer } from './authorizer.ts';
import {
  BODY_TIMEOUT_MS,
  DEFAULT_LOGIN_HOST,
  DEFAULT_LOGIN_PORT,
  INTERACTION_TTL_S,
  MAX_INTERACTION_BODY_BYTES,
} from './constants.ts';
import { LoginError } from './errors.ts';
import { NonceBook } from './nonces.ts';
import { LOGIN_PAGE_CSP, LOGIN_SCRIPT, loginPage } from './page.ts';
import { createOidcProvider, serviceOfClient } from './provider.ts';
import { SiweVerifier } from './siwe.ts';
import { ClientRegistry, pruneArtifacts } from './storage.ts';

/** What a login server reports about itself and its requests. */
export interface LoginLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link LoginServer.start}. */
export interface LoginServerOptions {
  clients: Pick<ChainClients, 'publicClient'>;
  deployment: Deployment;
  store: Store;
  /** The node's wallet: seals the provider's keys and client secrets in the database. */
  wallet: Wallet;
  host?: string;
  /** 0 picks a free port. Default DEFAULT_LOGIN_PORT. */
  port?: number;
  /** Public issuer URL when the provider sits behind a proxy; default `http://<host>:<port>`. */
  issuer?: string;
  revocationBoundMs?: number;
  pollIntervalMs?: number;
  log?: LoginLogger;
}

interface Verified {
  address: `0x${string}`;
  expiresAt: number;
}

const SILENT: LoginLogger = { info() {}, warn() {} };

/** A running DIBS OpenID Connect provider. */
export class LoginServer {
  readonly issuer: string;
  readonly provider: Provider;
  readonly clients: ClientRegistry;
  readonly authorizer: LoginAuthorizer;
  readonly siwe: SiweVerifier;
  readonly #server: Server;
  readonly #log: LoginLogger;
  readonly #chainId: number;
  readonly #deployment: Deployment;
  /** Wallets that signed in on an interaction but still need a grant (they may request one). */
  readonly #verified = new Map<string, Verified>();
  readonly #providerCallback: (req: IncomingMessage, res: ServerResponse) => void;
  #pruneTimer: NodeJS.Timeout | undefined;

  private constructor(server: Server, issuer: string, o: LoginServerOptions, authorizer: LoginAuthorizer) {
    this.#server = server;
    this.issuer = issuer;
    this.#log = o.log ?? SILENT;
    this.#chainId = o.deployment.chainId;
    this.#deployment = o.deployment;
    this.authorizer = authorizer;
    const box = new SecretBox(o.wallet);
    this.clients = new ClientRegistry(o.store, box);
    this.provider = createOidcProvider({
      issuer,
      chainId: o.deployment.chainId,
      store: o.store,
      box,
      clients: this.clients,
      authorizer,
      onError: (err) => this.#log.warn('login: chain read failed; refusing', { error: err.message }),
    });
    this.provider.on('server_error', (_ctx, err) =>
      this.#log.warn('login: server error', { error: err.message }),
    );
    this.siwe = new SiweVerifier({
      issuer,
      chainId: o.deployment.chainId,
      publicClient: o.clients.publicClient as PublicClient,
      nonces: new NonceBook(),
    });
    this.#providerCallback = this.provider.callback();
    this.#pruneTimer = setInterval(() => {
      try {
        pruneArtifacts(o.store);
      } catch (err) {
        this.#log.warn('login: pruning expired artifacts failed', { error: (err as Error).message });
      }
    }, 60_000);
    this.#pruneTimer.unref();
  }

  /** Starts the provider: follows the chain, then listens. */
  static async start(o: LoginServerOptions): Promise<LoginServer> {
    const authorizer = new LoginAuthorizer({
      clients: o.clients,
      deployment: o.deployment,
      store: o.store,
      ...(o.revocationBoundMs !== undefined ? { revocationBoundMs: o.revocationBoundMs } : {}),
      ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
      onError: (err) => o.log?.warn('login: chain watcher poll failed', { error: err.message }),
    });
    await authorizer.start();
    const server = createServer();
    const host = o.host ?? DEFAULT_LOGIN_HOST;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.port ?? DEFAULT_LOGIN_PORT, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await authorizer.stop();
      throw err;
    }
    const { port } = server.address() as AddressInfo;
    const issuer = (o.issuer ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(
      /\/$/,
      '',
    );
    const login = new LoginServer(server, issuer, o, authorizer);
    server.on('request', (req, res) => login.#handle(req, res));
    server.headersTimeout = BODY_TIMEOUT_MS;
    server.requestTimeout = BODY_TIMEOUT_MS * 3;
    login.#log.info('login provider listening', { issuer });
    return login;
  }

  /** The port the server listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.authorizer.stop();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.issuer);
    if (url.pathname === '/interaction-assets/login.js' && req.method === 'GET') {
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      });
      res.end(LOGIN_SCRIPT);
      return;
    }
    const m = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(siwe|continue|abort|node|status))?$/.exec(
      url.pathname,
    );
    if (!m) {
      this.#providerCallback(req, res);
      return;
    }
    this.#interaction(req, res, m[1]!, m[2], url).catch((err: unknown) => this.#fail(res, err));
  }

  async #interaction(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    action: string | undefined,
    url: URL,
  ): Promise<void> {
    let details: Interaction;
    try {
      // The user's own node approves from outside the browser: it knows the login by its id only.
      const found =
        action === 'node'
          ? await this.provider.Interaction.find(uid)
          : await this.provider.interactionDetails(req, res);
      if (!found) throw new Error('not found');
      details = found as Interaction;
    } catch {
      throw new LoginError(
        'BAD_REQUEST',
        'this login has expired or belongs to another browser',
        'go back to the application and sign in again',
      );
    }
    if (details.uid !== uid)
      throw new LoginError('BAD_REQUEST', 'this login belongs to another page', 'sign in again');
    const client = await this.provider.Client.find(String(details.params.client_id));
    const serviceId = serviceOfClient(client);
    if (!client || serviceId === undefined) {
      throw new LoginError(
        'UNKNOWN_CLIENT',
        'the application is not registered here',
        'ask its owner to register it',
      );
    }
    const clientName = String(client.clientName ?? client.clientId);
    if (action === undefined && req.method === 'GET') {
      if (details.prompt.name === 'consent' && details.session?.accountId) {
        // The grant on chain is the user's consent: a signed-in wallet is not asked again.
        const redirectTo = await this.#finish(details, details.session.accountId, false);
        res.writeHead(303, { location: redirectTo });
        res.end();
        return;
      }
      const service = await this.authorizer.service(serviceId);
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': LOGIN_PAGE_CSP,
        'cache-control': 'no-store',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      });
      res.end(
        loginPage({
          uid,
          clientName,
          serviceName: service.name || `service ${serviceId}`,
          serviceId: String(serviceId),
          chainId: this.#chainId,
          approveUrl: `${this.issuer}/interaction/${uid}`,
        }),
      );
      return;
    }
    if (action === 'status' && req.method === 'GET') {
      json(res, 200, details.result ? { redirectTo: details.returnTo } : { status: 'waiting' });
      return;
    }
    if ((action === 'siwe' || action === 'node') && req.method === 'GET') {
      const message = this.siwe.message({
        address: url.searchParams.get('address') ?? '',
        interaction: uid,
        statement: `Sign in to ${clientName} with DIBS.`,
        resources: [`urn:dibs:service:${serviceId}`],
      });
      json(res, 200, { message, serviceId: String(serviceId) });
      return;
    }
    if (req.method !== 'POST') {
      throw new LoginError('BAD_REQUEST', `${req.method} is not allowed here`, 'use the login page');
    }
    const body = await readJson(req);
    if (action === 'abort') {
      json(res, 200, { redirectTo: await this.#deny(details, 'the user cancelled the sign-in') });
      return;
    }
    let address: `0x${string}`;
    let contractWallet = false;
    if (action === 'siwe' || action === 'node') {
      const verified = await this.siwe.verify({
        message: String(body.message ?? ''),
        signature: String(body.signature ?? ''),
        interaction: uid,
      });
      address = verified.address;
      contractWallet = verified.contractWallet;
    } else {
      const v = this.#verified.get(uid);
      if (!v || v.expiresAt < Date.now()) {
        throw new LoginError(
          'BAD_NONCE',
          'no wallet has signed in on this login yet',
          'sign in with your wallet first',
        );
      }
      address = v.address;
    }
    const authorization = await this.authorizer.authorize(serviceId, address);
    if (authorization) {
      this.#verified.delete(uid);
      const { sub } = this.authorizer.subject(address);
      const redirectTo = await this.#finish(details, sub, contractWallet);
      this.#log.info('login: signed in', {
        client: client.clientId,
        serviceId: String(serviceId),
        via: action,
      });
      // The browser follows redirectTo; after a node's approval the login page polls `status`.
      json(res, 200, action === 'node' ? { status: 'approved' } : { redirectTo });
      return;
    }
    const service = await this.authorizer.service(serviceId);
    const mayRequest =
      service.active && service.price === 0n && (await this.authorizer.meetsPolicy(serviceId, address));
    if (mayRequest) {
      this.#remember(uid, address);
      json(res, 200, {
        status: action === 'continue' ? 'pending' : 'grant_required',
        serviceId: String(serviceId),
        message: `${address} holds no grant on service ${serviceId} yet; its policy admits you, so you may request one now.`,
        request: {
          to: this.#deployment.accessGrants,
          data: encodeFunctionData({ abi: accessGrantsAbi, functionName: 'request', args: [serviceId] }),
          chainId: this.#chainId,
        },
      });
      return;
    }
    this.#verified.delete(uid);
    const redirectTo = await this.#deny(details, `${address} holds no grant on login service ${serviceId}`);
    this.#log.info('login: refused, no grant', { client: client.clientId, serviceId: String(serviceId) });
    json(res, 200, action === 'node' ? { status: 'refused', error: 'access_denied' } : { redirectTo });
  }

  /** Records the login and the consent (a grant for the requested scopes); returns where to go. */
  async #finish(interaction: Interaction, accountId: string, contractWallet: boolean): Promise<string> {
    const clientId = String(interaction.params.client_id);
    let grant = interaction.grantId ? await this.provider.Grant.find(interaction.grantId) : undefined;
    if (!grant || grant.accountId !== accountId) grant = new this.provider.Grant({ accountId, clientId });
    grant.addOIDCScope(String(interaction.params.scope ?? 'openid'));
    const grantId = await grant.save();
    const result: InteractionResults = {
      login: contractWallet ? { accountId } : { accountId, amr: ['swk'] },
      consent: { grantId },
    };
    interaction.result = result;
    await interaction.persist();
    return interaction.returnTo;
  }

  /** Ends the interaction with access_denied; returns where to go (the application, with the error). */
  async #deny(interaction: Interaction, description: string): Promise<string> {
    interaction.result = { error: 'access_denied', error_description: description };
    await interaction.persist();
    return interaction.returnTo;
  }

  #remember(uid: string, address: `0x${string}`): void {
    const now = Date.now();
    for (const [k, v] of this.#verified) if (v.expiresAt < now) this.#verified.delete(k);
    if (this.#verified.size > 10_000) this.#verified.delete(this.#verified.keys().next().value as string);
    this.#verified.set(uid, { address, expiresAt: now + INTERACTION_TTL_S * 1000 });
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof LoginError) {
      const status = err.code === 'CHAIN_UNAVAILABLE' ? 503 : 400;
      json(res, status, {
        error: 'invalid_request',
        code: err.code,
        error_description: err.message,
        hint: err.hint,
      });
      return;
    }
    this.#log.warn('login: interaction failed', { error: (err as Error).message });
    json(res, 500, {
      error: 'server_error',
      error_description: 'the login failed inside the provider; see its log',
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Reads a JSON object body, bounded in size and time. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    throw new LoginError('BAD_REQUEST', 'send the body as application/json', 'use the login page');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new LoginError('BAD_REQUEST', 'the request body took too long', 'retry'));
      req.destroy();
    }, BODY_TIMEOUT_MS);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_INTERACTION_BODY_BYTES) {
        clearTimeout(timer);
        reject(
          new LoginError(
            'BAD_REQUEST',
            `the request body is over ${MAX_INTERACTION_BODY_BYTES} bytes`,
            'send less',
          ),
        );
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new LoginError('BAD_REQUEST', 'the request body is not JSON', 'use the login page');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new LoginError('BAD_REQUEST', 'the request body must be a JSON object', 'use the login page');
  }
  return parsed as Record<string, unknown>;
}
