/**
 * "Sign in with DIBS" in Chromium (Debian's, through playwright-core): the example application, the
 * DIBS login provider and a real anvil. An injected EIP-1193 test wallet signs in and the application
 * shows its claims and calls its DIBS-protected API; a second wallet, not on the service's allowlist,
 * is refused; after the owner revokes the first wallet's grant on chain, the application's next
 * refresh fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserServer, chromium, type Page } from 'playwright-core';
import type { Hex } from 'viem';
import { startExampleApp } from '../../../examples/login-app/app.ts';
import { CHROMIUM, CHROMIUM_ARGS, chromiumSkip } from '../../ui/test/browser.ts';
import { type LoginBed, type Party, startLoginBed } from '../../login/test/fixture.ts';

/** The injected wallet: window.ethereum forwards every request to the test's key for `who`. */
async function withWallet(browser: Browser, bed: LoginBed, who: Party): Promise<Page> {
  const context = await browser.newContext();
  await context.exposeFunction('__dibsTestWallet', async (method: string, params: unknown[]) => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [who.address];
      case 'eth_chainId':
        return `0x${bed.deployment.chainId.toString(16)}`;
      case 'personal_sign':
        return who.account.signMessage({ message: { raw: params[0] as Hex } });
      case 'eth_sendTransaction': {
        const tx = params[0] as { to: Hex; data: Hex };
        return who.clients.walletClient!.sendTransaction({
          to: tx.to,
          data: tx.data,
          chain: who.clients.chain,
        });
      }
      default:
        throw new Error(`the test wallet does not support ${method}`);
    }
  });
  await context.addInitScript(() => {
    const w = window as unknown as {
      ethereum: unknown;
      __dibsTestWallet: (m: string, p: unknown[]) => Promise<unknown>;
    };
    w.ethereum = {
      isDibsTestWallet: true,
      request: ({ method, params }: { method: string; params?: unknown[] }) =>
        w.__dibsTestWallet(method, params ?? []),
    };
  });
  return context.newPage();
}

describe('Sign in with DIBS in Chromium', { skip: chromiumSkip }, () => {
  let bed: LoginBed;
  let app: { url: string; close(): Promise<void> };
  let server: BrowserServer;
  let browser: Browser;
  let serviceId: bigint;
  let alice: Party;
  let aliceGrant: bigint;
  let alicePage: Page;

  before(async () => {
    bed = await startLoginBed({ revocationBoundMs: 2000, pollIntervalMs: 100 });
    serviceId = await bed.loginService('Example app');
    // The app's port must be known for its redirect URI: start it on a free port, then register.
    const probe = await startExampleApp({
      issuer: bed.server.issuer,
      clientId: 'probe',
      clientSecret: 'probe',
      port: 0,
    });
    const port = new URL(probe.url).port;
    await probe.close();
    const client = bed.client(serviceId, `http://127.0.0.1:${port}/callback`);
    app = await startExampleApp({
      issuer: bed.server.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      port: Number(port),
    });
    alice = await bed.party();
    aliceGrant = await bed.admit(serviceId, alice);
    const orgId = await bed.owner.registry.createOrganization({ name: 'acme', networkLabel: 'acme' });
    await bed.owner.registry.addMember(orgId, alice.address);
    // A browser server, so the test knows the browser's PID and can make sure it is gone at the end.
    server = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    browser = await chromium.connect(server.wsEndpoint());
  });

  after(async () => {
    await browser?.close().catch(() => {});
    const pid = server?.process().pid;
    await server?.close().catch(() => {});
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await app?.close();
    await bed?.stop();
  });

  test('a wallet holding a grant signs in; the app shows its claims and calls its API', async () => {
    alicePage = await withWallet(browser, bed, alice);
    await alicePage.goto(app.url);
    await alicePage.click('#signin');
    await alicePage.waitForURL(/\/interaction\//);
    assert.match((await alicePage.textContent('h1')) ?? '', /Sign in to/);
    await alicePage.click('#signin');
    await alicePage.waitForURL(`${app.url}/`);
    await alicePage.waitForSelector('#sub');
    assert.equal(await alicePage.textContent('#sub'), `eip155:${bed.deployment.chainId}:${alice.address}`);
    assert.equal(
      await alicePage.textContent('#did'),
      `did:pkh:eip155:${bed.deployment.chainId}:${alice.address}`,
    );
    assert.equal(await alicePage.textContent('#groups'), '["acme"]');
    assert.equal(await alicePage.textContent('#grant'), String(aliceGrant));
    await alicePage.click('#call-api');
    await alicePage.waitForFunction(() => (document.getElementById('api')?.textContent ?? '').length > 0);
    const api = JSON.parse((await alicePage.textContent('#api')) ?? '{}') as {
      sub: string;
      groups: string[];
    };
    assert.equal(api.sub, `eip155:${bed.deployment.chainId}:${alice.address}`);
    assert.deepEqual(api.groups, ['acme']);
    await alicePage.click('#refresh');
    await alicePage.waitForSelector('#notice');
    assert.equal(await alicePage.textContent('#notice'), 'Session refreshed.');
  });

  test('a second wallet, not on the allowlist, is refused', async () => {
    const bob = await bed.party();
    const page = await withWallet(browser, bed, bob);
    await page.goto(app.url);
    await page.click('#signin');
    await page.waitForURL(/\/interaction\//);
    await page.click('#signin');
    await page.waitForURL(`${app.url}/`);
    await page.waitForSelector('#notice');
    assert.match((await page.textContent('#notice')) ?? '', /Sign-in refused: access_denied/);
    assert.equal(await page.$('#sub'), null);
    await page.context().close();
  });

  test("after the owner revokes the first wallet's grant on chain, the app's next refresh fails", async () => {
    await bed.owner.registry.revokeGrant(aliceGrant);
    let notice = '';
    // Bounded: the provider's revocation bound is 2 s; allow 20 bounds.
    for (let i = 0; i < 40 && !notice.startsWith('Refresh failed'); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1000));
      await alicePage.click('#refresh');
      await alicePage.waitForSelector('#notice');
      notice = (await alicePage.textContent('#notice')) ?? '';
    }
    assert.match(notice, /^Refresh failed: invalid_grant/);
    assert.equal(await alicePage.$('#sub'), null, 'the app signed the wallet out');
    await alicePage.context().close();
  });
});
