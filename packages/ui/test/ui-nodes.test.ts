/**
 * The management UI on two REAL nodes in Chromium: node A (embedded anvil, p2p) publishes a local
 * HTTP server from its Services page; node B (joined over RPC) requests access and connects from its
 * own UI, a fetch through the local address B shows reaches the server, and B's Sessions page shows
 * the tunnel's bytes growing live; A's Audit page lists the grant and the session, and after A revokes
 * the grant from its Grants page, the revocation and the session's end. Screenshots land in
 * test-artifacts/screenshots/.
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
const STREAM_CHUNKS = 600;

/** "1.5 MiB" → bytes (what the session card shows). */
function parseBytes(text: string): number {
  const m = /([\d.]+)\s*(B|KiB|MiB|GiB)/.exec(text);
  if (!m) return -1;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] as 'B'];
  return Number(m[1]) * unit;
}

describe('management UI on two real nodes', { skip: chromiumSkip }, () => {
  let work: string;
  let profile: string;
  let context: BrowserContext;
  let target: Awaited<ReturnType<typeof startTarget>> | undefined;
  let targetPort: number;
  const daemons: Daemon[] = [];
  let a: Daemon;
  let b: Daemon;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dibs-ui-nodes-'));
    const dist = join(work, 'dist');
    profile = join(work, 'profile');
    await mkdir(SHOTS, { recursive: true });
    await buildUi(dist);
    target = await startTarget('hello through DIBS\n', {
      chunks: STREAM_CHUNKS,
      chunkBytes: 16 * 1024,
      everyMs: 100,
    });
    targetPort = target.port;

    const start = async (name: string, chain: Parameters<typeof startUiNode>[2]) => {
      const d = await startUiNode(work, name, chain, dist);
      daemons.push(d);
      return d;
    };
    a = await start('a', { mode: 'embedded', chainId: 31337 });
    const contracts = { ...a.info.chain.contracts, networkServiceId: a.info.chain.networkServiceId };
    b = await start('b', { mode: 'rpc', rpcUrl: a.info.chain.rpcUrl, chainId: 31337, contracts });

    context = await launchBrowser(profile);
  });

  after(async () => {
    await closeBrowser(context, profile);
    for (const d of daemons.reverse()) await d.stop().catch(() => {});
    await target?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const open = async (d: Daemon): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(d.info.api!.uiUrl);
    await page.getByRole('navigation', { name: 'Main' }).waitFor(WAIT);
    return page;
  };
  const go = async (page: Page, label: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
    await page.getByRole('heading', { level: 1, name: label }).waitFor(WAIT);
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `nodes-${name}.png`) });

  it('A publishes, B connects from its UI, a fetch goes through, and the session bytes grow live', async () => {
    // Node A: dashboard with the real identity and balance, then publish the local server.
    const pa = await open(a);
    await pa.getByText(a.info.address).first().waitFor(WAIT);
    await pa.getByTestId('balance').waitFor(WAIT);
    assert.match((await pa.getByTestId('balance').textContent()) ?? '', /ETH · .*\S/);
    await shot(pa, 'a-dashboard');
    await go(pa, 'Services');
    await pa.getByRole('button', { name: '+ Publish a service' }).click();
    const form = pa.getByRole('form', { name: 'Publish a service' });
    await form.getByLabel('Name').fill('web');
    await form.getByLabel('Type').selectOption('http');
    await form.getByLabel('Target (host:port)').fill(`127.0.0.1:${targetPort}`);
    await form.getByRole('button', { name: 'Publish' }).click();
    await pa.getByText('Published “web”', { exact: false }).waitFor({ timeout: 60_000 });
    await pa.getByRole('button', { name: 'Retire web' }).waitFor(WAIT);
    await shot(pa, 'a-published');

    // Node B: the service shows up; request access, then connect.
    const pb = await open(b);
    await go(pb, 'Peers');
    await pb.getByText('direct', { exact: true }).first().waitFor(WAIT);
    await shot(pb, 'b-peers');
    const fits = await pb
      .locator('.table-card')
      .first()
      .evaluate((el) => el.scrollWidth <= el.clientWidth + 1);
    assert.ok(fits, 'the Peers table fits the 1280 px window (RTT, Roles and Since visible)');
    await go(pb, 'Services');
    const request = pb.getByRole('button', { name: 'Request access to web' });
    await request.waitFor(WAIT);
    await request.click();
    const connect = pb.getByRole('button', { name: 'Connect web' });
    await connect.waitFor(WAIT);
    await connect.click();
    const badge = pb.getByText('connected · 127.0.0.1:', { exact: false });
    await badge.waitFor(WAIT);
    const local = /127\.0\.0\.1:\d+/.exec((await badge.textContent()) ?? '')?.[0];
    assert.ok(local, 'the UI shows the local address');
    await shot(pb, 'b-connected');

    // B's grant counts down; the map draws both nodes; the log page has the node's own lines.
    await go(pb, 'Grants');
    await pb.getByRole('cell', { name: /web/ }).first().waitFor(WAIT);
    assert.match((await pb.getByTestId('countdown').first().textContent()) ?? '', /left/);
    await shot(pb, 'b-grants');
    await go(pb, 'Network map');
    await pb.getByTestId('network-graph').waitFor(WAIT);
    assert.ok((await pb.locator('[data-testid=network-graph] g.node').count()) >= 2);
    await shot(pb, 'b-network');
    await go(pb, 'Logs');
    await pb.getByText('API listening').first().waitFor(WAIT);
    await shot(pb, 'b-logs');

    // Through the address the UI showed.
    const hello = await fetch(`http://${local}/`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(await hello.text(), 'hello through DIBS\n');

    // A slow download keeps a session open; its card on B's Sessions page counts up.
    const abort = new AbortController();
    const download = fetch(`http://${local}/stream`, { signal: abort.signal }).then(async (res) => {
      const reader = res.body!.getReader();
      let total = 0;
      for (let i = 0; i < STREAM_CHUNKS * 4; i++) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
      }
      return total;
    });
    download.catch(() => {});
    try {
      await go(pb, 'Sessions');
      // Earlier requests may keep their own (idle, keep-alive) sessions: watch the total.
      const cards = pb.locator('[data-testid^="session-"]').filter({ hasText: 'web' });
      await cards.first().waitFor(WAIT);
      const total = async () => {
        let sum = 0;
        for (const t of await cards.getByTestId('bytes-in').allTextContents()) sum += parseBytes(t);
        return sum;
      };
      const first = await total();
      let grown = -1;
      for (let i = 0; i < 60; i++) {
        await pb.waitForTimeout(500);
        grown = await total();
        if (grown > first) break;
      }
      assert.ok(grown > first, `bytes in grew from ${first} to ${grown}`);
      await cards.getByTestId('traffic-chart').first().waitFor(WAIT);
      await shot(pb, 'b-session-live');

      // A, the host, sees the same tunnel as an inbound session.
      await go(pa, 'Sessions');
      await pa.getByText('inbound', { exact: true }).first().waitFor(WAIT);
      await shot(pa, 'a-session-inbound');
    } finally {
      abort.abort();
    }

    // A's audit page: the grant A's service issued to B and B's session, by the service's name.
    await go(pa, 'Audit');
    const audit = pa.getByTestId('audit-table');
    await audit.locator('[data-kind="grant-issued"]').filter({ hasText: 'web' }).first().waitFor(WAIT);
    await audit.locator('[data-kind="session"]').filter({ hasText: 'web' }).first().waitFor(WAIT);
    await shot(pa, 'a-audit');

    // A revokes B's grant from its Grants page: the audit shows the revocation and the session's end.
    await go(pa, 'Grants');
    await pa
      .getByRole('button', { name: /^Revoke grant / })
      .first()
      .click();
    await pa.getByText('Revoked', { exact: false }).first().waitFor({ timeout: 60_000 });
    await go(pa, 'Audit');
    await audit
      .locator('[data-kind="grant-revoked"]')
      .filter({ hasText: 'web' })
      .first()
      .waitFor({ timeout: 60_000 });
    await audit
      .locator('[data-kind="session"]')
      .filter({ hasText: 'ended' })
      .first()
      .waitFor({ timeout: 60_000 });
    await shot(pa, 'a-audit-revoked');
    await pa.close();
    await pb.close();
  });
});
