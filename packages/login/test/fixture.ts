/**
 * Test and bench support for the login provider: a real anvil with the DIBS contracts, funded
 * parties, a `login` service with a registered client, the provider on a loopback port, and a small
 * browser stand-in (a cookie jar following redirects) that signs in with SIWE like the login page does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AnvilSupervisor,
  type ChainClients,
  createChainClients,
  type Deployment,
  ensureDeployment,
  RegistryWriter,
} from '@dibs/chain';
import { accessGrantsAbi, ownerWalletAbi, ownerWalletBytecode, Policy } from '@dibs/contracts';
import { Wallet } from '@dibs/core';
import { openStore, type Store } from '@dibs/store';
import { type Address, encodeFunctionData, getAddress, type Hex, type LocalAccount, toHex } from 'viem';
import * as oidc from 'openid-client';
import { privateKeyToAccount } from 'viem/accounts';
import { LOGIN_SERVICE_TYPE, LoginServer, type LoginServerOptions } from '../src/index.ts';

/** A wallet with gas and its chain writer. */
export interface Party {
  wallet: Wallet;
  account: LocalAccount;
  address: Address;
  clients: ChainClients;
  registry: RegistryWriter;
}

/** A registered OIDC client. */
export interface BedClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  serviceId: bigint;
}

export interface LoginBed {
  dir: string;
  anvil: AnvilSupervisor;
  deployment: Deployment;
  /** Deployer; also owns the login services. */
  owner: Party;
  /** The provider's node wallet and database. */
  store: Store;
  server: LoginServer;
  party(): Promise<Party>;
  /** Publishes a free `login` service owned by `owner` (allowlist unless another policy is given). */
  loginService(name: string, policy?: number, policyRef?: bigint, grantDuration?: bigint): Promise<bigint>;
  /** Registers a client for `serviceId` redirecting to `redirectUri`. */
  client(serviceId: bigint, redirectUri: string): BedClient;
  /** Allowlists `who` and has it request a grant; returns the grant id. */
  admit(serviceId: bigint, who: Party): Promise<bigint>;
  /** Deploys an ERC-1271 contract wallet controlled by `owner`'s key. */
  contractWallet(controller: Party): Promise<Address>;
  /** Has `wallet` (a contract wallet of `controller`) request a grant on `serviceId`. */
  admitContractWallet(serviceId: bigint, wallet: Address, controller: Party): Promise<void>;
  stop(): Promise<void>;
}

const FUNDS = '0x3635C9ADC5DEA00000';

export async function startLoginBed(options: Partial<LoginServerOptions> = {}): Promise<LoginBed> {
  const dir = mkdtempSync(join(tmpdir(), 'dibs-login-'));
  const anvil = new AnvilSupervisor({ dataDir: dir, silent: true });
  await anvil.start();
  const stores: Store[] = [];
  let server: LoginServer | undefined;
  try {
    const make = async (wallet = Wallet.generate()): Promise<Party> => {
      const key = wallet.exportPrivateKeyHex();
      const clients = await createChainClients({ rpcUrl: anvil.rpcUrl, account: key });
      await clients.publicClient.request({
        method: 'anvil_setBalance',
        params: [wallet.address, FUNDS],
      } as never);
      return {
        wallet,
        account: privateKeyToAccount(key),
        address: wallet.address as Address,
        clients,
        registry: undefined as unknown as RegistryWriter,
      };
    };
    const owner = await make();
    const deployStore = openStore(join(dir, 'deploy.db'));
    stores.push(deployStore);
    const deployment = await ensureDeployment({ store: deployStore, clients: owner.clients });
    owner.registry = new RegistryWriter(owner.clients, deployment);
    const store = openStore(join(dir, 'login.db'));
    stores.push(store);
    const providerWallet = Wallet.generate();
    server = await LoginServer.start({
      clients: owner.clients,
      deployment,
      store,
      wallet: providerWallet,
      port: 0,
      ...options,
    });
    const srv = server;
    const bed: LoginBed = {
      dir,
      anvil,
      deployment,
      owner,
      store,
      server: srv,
      async party() {
        const p = await make();
        p.registry = new RegistryWriter(p.clients, deployment);
        return p;
      },
      loginService: (name, policy: number = Policy.Allowlist, policyRef = 0n, grantDuration = 3600n) =>
        owner.registry.publishService({
          serviceType: LOGIN_SERVICE_TYPE,
          name,
          grantDuration,
          policy,
          policyRef,
        }),
      client(serviceId, redirectUri) {
        const c = srv.clients.add({ serviceId, name: `app ${serviceId}`, redirectUris: [redirectUri] });
        return { clientId: c.clientId, clientSecret: c.clientSecret, redirectUri, serviceId };
      },
      async admit(serviceId, who) {
        await owner.registry.setAllowlist(serviceId, [who.address], true);
        return (await who.registry.requestAccess(serviceId)).grantId;
      },
      async contractWallet(controller) {
        const hash = await controller.clients.walletClient!.deployContract({
          abi: ownerWalletAbi,
          bytecode: ownerWalletBytecode,
          args: [controller.address],
        });
        const receipt = await controller.clients.publicClient.waitForTransactionReceipt({ hash });
        return getAddress(receipt.contractAddress as Address);
      },
      async admitContractWallet(serviceId, wallet, controller) {
        await owner.registry.setAllowlist(serviceId, [wallet], true);
        const hash = await controller.clients.walletClient!.writeContract({
          address: wallet,
          abi: ownerWalletAbi,
          functionName: 'execute',
          args: [
            deployment.accessGrants,
            0n,
            encodeFunctionData({ abi: accessGrantsAbi, functionName: 'request', args: [serviceId] }),
          ],
        });
        const receipt = await controller.clients.publicClient.waitForTransactionReceipt({ hash });
        if (receipt.status !== 'success') throw new Error('the contract wallet could not request a grant');
      },
      async stop() {
        await srv.stop().catch(() => {});
        for (const s of stores) s.close();
        await anvil.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return bed;
  } catch (err) {
    await server?.stop().catch(() => {});
    for (const s of stores) s.close();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A user agent with a cookie jar: follows redirects by hand so each hop can be inspected. */
export class Browser {
  readonly #cookies = new Map<string, string>();

  #store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  #header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('cookie', this.#header());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.#store(res);
    return res;
  }

  /**
   * Follows redirects from `url` until a response that is not a redirect, or a redirect leaving the
   * provider's origin (the application's callback), whose URL is returned.
   */
  async follow(url: string, origin: string): Promise<{ url: string; response: Response | undefined }> {
    let current = url;
    for (let hop = 0; hop < 10; hop++) {
      if (!current.startsWith(origin)) return { url: current, response: undefined };
      const res = await this.request(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { url: current, response: res };
      await res.arrayBuffer();
      current = new URL(location, current).href;
    }
    throw new Error('too many redirects');
  }
}

/** What a login attempt through the interaction ended in. */
export type SignInOutcome =
  | { kind: 'callback'; url: string }
  | { kind: 'refused'; status: number; body: Record<string, unknown> }
  | { kind: 'grant_required'; uid: string; body: Record<string, unknown> };

/** The error code of a refused sign-in (undefined otherwise). */
export function refusal(outcome: SignInOutcome): string | undefined {
  return outcome.kind === 'refused' ? String(outcome.body.code) : undefined;
}

/** The application callback URL a sign-in ended at (throws otherwise). */
export function callbackUrl(outcome: SignInOutcome): URL {
  if (outcome.kind !== 'callback') throw new Error(`expected a callback, got ${JSON.stringify(outcome)}`);
  return new URL(outcome.url);
}

/** Signs `message` as the login page's wallet would (EIP-191 personal_sign). */
export function sign(account: LocalAccount, message: string): Promise<Hex> {
  return account.signMessage({ message });
}

/**
 * Runs the login page's steps: opens the authorization URL, asks the provider for a SIWE message
 * for `address`, lets `signer` sign it (optionally altering the message first), posts it and
 * follows the answer back to the application.
 */
export async function signIn(
  browser: Browser,
  authorizationUrl: string,
  issuer: string,
  address: Address,
  signer: (message: string) => Promise<Hex>,
  alter?: (message: string) => string,
): Promise<SignInOutcome> {
  const start = await browser.follow(authorizationUrl, issuer);
  if (!start.response) return { kind: 'callback', url: start.url };
  const page = new URL(start.url);
  const uid = /^\/interaction\/([^/]+)$/.exec(page.pathname)?.[1];
  if (!uid) throw new Error(`expected the login page, got ${start.url} (${start.response.status})`);
  await start.response.arrayBuffer();
  const messageRes = await browser.request(`${issuer}/interaction/${uid}/siwe?address=${address}`);
  const { message } = (await messageRes.json()) as { message: string };
  const signed = alter ? alter(message) : message;
  const signature = await signer(signed);
  return postSignIn(browser, issuer, uid, signed, signature);
}

/** Posts a signed SIWE message to interaction `uid` and follows a redirect answer. */
export async function postSignIn(
  browser: Browser,
  issuer: string,
  uid: string,
  message: string,
  signature: string,
): Promise<SignInOutcome> {
  const res = await browser.request(`${issuer}/interaction/${uid}/siwe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message, signature }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) return { kind: 'refused', status: res.status, body };
  if (body.status === 'grant_required') return { kind: 'grant_required', uid, body };
  return followAnswer(browser, issuer, body);
}

/** Follows an interaction answer's `redirectTo` back to the application. */
export async function followAnswer(
  browser: Browser,
  issuer: string,
  body: Record<string, unknown>,
): Promise<SignInOutcome> {
  const done = await browser.follow(new URL(String(body.redirectTo), issuer).href, issuer);
  if (done.response) throw new Error(`expected a redirect to the application, got ${done.response.status}`);
  return { kind: 'callback', url: done.url };
}

/** Hex of a UTF-8 string (what EIP-1193 personal_sign takes). */
export const utf8Hex = (s: string): Hex => toHex(s);

/** An authorization request as a relying party makes it: the URL, and what the callback is checked against. */
export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
}

/** The scopes the tests and the bench ask for. */
export const TEST_SCOPE = 'openid groups offline_access';

/** Builds a code-flow request with PKCE S256, state and nonce (offline_access needs prompt=consent). */
export async function authorizationRequest(
  config: oidc.Configuration,
  redirectUri: string,
  extra: Record<string, string> = {},
): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: TEST_SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
    ...extra,
  });
  return { url: url.href, state, nonce, verifier };
}
