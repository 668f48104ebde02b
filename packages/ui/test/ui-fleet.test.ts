/**
 * The fleet controller in Chromium on a 3-node devnet (real anvil, real nodes over real sockets):
 * node-1 hosts a service on an allowlist of node-2 and node-3; node-2 holds a live tunnel through it.
 * From node-1's UI the operator removes node-2 from the allowlist → node-2's live tunnel ends; node-1's
 * audit page shows the grant, the session and the refusal; its fleet page lists all three nodes online;
 * the policy editor sets a token-holders policy with a threshold in the token's units.
 * Screenshots land in test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Daemon } from '@dibs/node';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi, chromiumSkip, closeBrowser, launchBrowser, SHOTS } from './browser.ts';
import { startTarget, startUiNode } from './nodes.ts';

const WAIT = { timeout: 30_000 };
/** Chunks the streaming route sends at most (bounded even if nobody stops it). */
const STREAM_CHUNKS = 1200;

/** A call to a node's API with its token (taken from the UI address's fragment). */
async function api<T>(d: Daemon, method: string, path: string, body?: unknown): Promise<T> {
  const token = /#token=([^&]+)/.exec(d.info.api!.uiUrl)![1]!;
  const res = await fetch(`${d.info.api!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

describe('fleet controller on a 3-node devnet', { skip: chromiumSkip }, () => {
  let work: string;
  let profile: string;
  let context: BrowserContext | undefined;
  let target: Awaited<ReturnType<typeof startTarget>> | undefined;
  const daemons: Daemon[] = [];
  let n1: Daemon;
  let n2: Daemon;
  let n3: Daemon;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dibs-ui-fleet-'));
    const dist = join(work, 'dist');
    profile = join(work, 'profile');
    await mkdir(SHOTS, { recursive: true });
    const built = buildUi(dist);
    target = await startTarget('hello\n', { chunks: STREAM_CHUNKS, chunkBytes: 8 * 1024, everyMs: 50 });
    const start = async (name: string, chain: Parameters<typeof startUiNode>[2]) => {
      const d = await startUiNode(work, name, chain, dist);
      daemons.push(d);
      return d;
    };
    n1 = await start('node-1', { mode: 'embedded', chainId: 31337 });
    const contracts = { ...n1.info.chain.contracts, networkServiceId: n1.info.chain.networkServiceId };
    const rpc = { mode: 'rpc' as const, rpcUrl: n1.info.chain.rpcUrl, chainId: 31337, contracts };
    [n2, n3] = await Promise.all([start('node-2', rpc), start('node-3', rpc)]);
    await built;
    context = await launchBrowser(profile);
  });

  after(async () => {
    await closeBrowser(context, profile);
    for (const d of daemons.reverse()) await d.stop().catch(() => {});
    await target?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const go = async (page: Page, label: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
    await page.getByRole('heading', { level: 1, name: label }).waitFor(WAIT);
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `fleet-${name}.png`) });
  const fits = (page: Page) =>
    page
      .locator('.table-card')
      .first()
      .evaluate((el) => el.scrollWidth <= el.clientWidth + 1);

  it("removing node-2 from the allowlist in node-1's UI ends its live tunnel and the audit shows why", async () => {
    // node-1 hosts "web" for node-2 and node-3 only; node-2 takes a grant and opens a tunnel.
    const web = await api<{ id: string }>(n1, 'POST', '/api/v1/services', {
      name: 'web',
      type: 'http',
      target: `127.0.0.1:${target!.port}`,
      policy: 'allowlist',
      allowlist: [n2.info.address, n3.info.address],
    });
    await api(n1, 'PUT', `/api/v1/fleet/${n2.info.address}/label`, { label: 'laptop-2' });
    await api(n1, 'PUT', `/api/v1/fleet/${n3.info.address}/label`, { label: 'server-3' });
    await api(n2, 'POST', '/api/v1/grants', { serviceId: web.id });
    const conn = await api<{ localAddress: string }>(n2, 'POST', '/api/v1/connections', {
      serviceId: web.id,
    });
    const res = await fetch(`http://${conn.localAddress}/stream`, { signal: AbortSignal.timeout(120_000) });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let received = 0;
    const first = await reader.read();
    received += first.value?.length ?? 0;
    assert.ok(received > 0, 'the download started through the tunnel');
    // Read on in the background until the tunnel ends (or the bounded download would finish).
    const ended = (async () => {
      for (let i = 0; i < STREAM_CHUNKS * 8; i++) {
        const { done, value } = await reader.read();
        if (done) return 'ended';
        received += value.length;
      }
      return 'still open';
    })().catch(() => 'ended');

    const page = await context!.newPage();
    await page.goto(n1.info.api!.uiUrl);
    await page.getByRole('navigation', { name: 'Main' }).waitFor(WAIT);

    // The fleet: all three registered nodes, online, by name.
    await go(page, 'Fleet');
    const rows = page.getByTestId('fleet-table').locator('tbody tr');
    for (const d of [n1, n2, n3]) {
      const row = rows.and(
        page.locator(`[data-address="${d.info.address.toLowerCase()}"][data-online="true"]`),
      );
      await row.waitFor(WAIT);
      // The other nodes' signed DHT records were found, and are fresh.
      if (d !== n1) await row.filter({ hasText: 'DHT record' }).waitFor(WAIT);
    }
    assert.equal(await rows.count(), 3);
    await page.getByText('laptop-2').waitFor(WAIT);
    await page.getByText('server-3').waitFor(WAIT);
    assert.ok(await fits(page), 'the fleet table fits 1280 px');
    await shot(page, 'n1-fleet');

    // The peers table fits too (RTT, Roles and Since visible), and shows names.
    await go(page, 'Peers');
    await page.getByText('laptop-2').first().waitFor(WAIT);
    assert.ok(await fits(page), 'the peers table fits 1280 px');
    await shot(page, 'n1-peers');

    // The grant on node-1's service, by service name and node name rather than raw ids.
    await go(page, 'Grants');
    await page.getByRole('cell', { name: 'laptop-2' }).first().waitFor(WAIT);
    await shot(page, 'n1-grants');

    // Services → policy of "web" → remove node-2 from the allowlist.
    await go(page, 'Services');
    await page.getByRole('button', { name: 'Policy of web' }).click();
    const allowlist = page.getByRole('list', { name: 'Allowlist of web' });
    await allowlist.getByText('laptop-2').waitFor(WAIT);
    await allowlist.getByText('server-3').waitFor(WAIT);
    await shot(page, 'n1-policy');
    await page.getByRole('button', { name: `Remove ${n2.info.address} from web` }).click();
    await page
      .getByText('Removed laptop-2 from the allowlist', { exact: false })
      .waitFor({ timeout: 60_000 });
    assert.equal(await allowlist.getByText('laptop-2').count(), 0, 'node-2 is off the allowlist');
    await allowlist.getByText('server-3').waitFor(WAIT);
    await shot(page, 'n1-policy-removed');

    // node-2's live tunnel ends: the host closed it on the policy change.
    const outcome = await Promise.race([
      ended,
      new Promise<string>((r) => setTimeout(() => r('timed out'), 45_000).unref()),
    ]);
    assert.equal(outcome, 'ended', `node-2's tunnel ended after ${received} bytes`);

    // A change the chain refuses is shown as the chain said it (organization 999 does not exist).
    await page.getByRole('combobox', { name: 'Policy' }).selectOption('organization');
    await page.getByLabel('Organization id').fill('999');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('The change did not go through').waitFor({ timeout: 60_000 });
    await page.getByText('InvalidPolicyRef', { exact: false }).first().waitFor(WAIT);
    await shot(page, 'n1-policy-error');

    // Token holders of the network token above 2.5 tokens: typed in the token's units, held by the chain.
    await page.getByRole('combobox', { name: 'Policy' }).selectOption('token-holders');
    await page.getByLabel('Token holders must hold').fill(n1.chain.deployment.token);
    await page.getByLabel('At least', { exact: false }).fill('2.5');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('now 2.5 = 2500000000000000000 base units').waitFor({ timeout: 60_000 });
    const gated = await n1.chain.registry.getService(BigInt(web.id));
    assert.equal(gated?.tokenThreshold, 25n * 10n ** 17n, 'the chain holds the threshold in base units');
    await shot(page, 'n1-policy-threshold');

    // The audit page: the grant, node-2's session (ended) and the refusal that ended it.
    await go(page, 'Audit');
    const audit = page.getByTestId('audit-table');
    await audit.locator('[data-kind="grant-issued"]').filter({ hasText: 'web' }).first().waitFor(WAIT);
    await audit
      .locator('[data-kind="session"]')
      .filter({ hasText: 'web' })
      .filter({ hasText: 'ended' })
      .first()
      .waitFor(WAIT);
    await audit.locator('[data-kind="refusal"]').filter({ hasText: 'laptop-2' }).first().waitFor(WAIT);
    await shot(page, 'n1-audit');
    await page.close();
  });
});
