/**
 * Browser tests of the management UI: Debian's Chromium driven by playwright-core against the real
 * API framework and v1 routes (fixture-node.ts). Screenshots of every page land in
 * test-artifacts/screenshots/ for people to look at.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi, chromiumSkip, closeBrowser, launchBrowser, SHOTS } from './browser.ts';
import { type FixtureNode, startFixtureNode } from './fixture-node.ts';

const WAIT = { timeout: 15_000 };

describe('management UI in Chromium', { skip: chromiumSkip }, () => {
  let work: string;
  let dist: string;
  let profile: string;
  let context: BrowserContext;
  const nodes: FixtureNode[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dibs-ui-test-'));
    dist = join(work, 'dist');
    profile = join(work, 'profile');
    await mkdir(SHOTS, { recursive: true });
    await buildUi(dist);
    context = await launchBrowser(profile);
  });

  after(async () => {
    await closeBrowser(context, profile);
    for (const n of nodes) await n.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const start = async (mode: 'data' | 'empty' | 'failing') => {
    const n = await startFixtureNode(dist, mode);
    nodes.push(n);
    return n;
  };
  const open = async (node: FixtureNode): Promise<Page> => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
        problems.push(`console: ${m.text()}`);
    });
    (page as Page & { problems?: string[] }).problems = problems;
    await page.goto(node.uiUrl);
    await page.getByRole('navigation', { name: 'Main' }).waitFor(WAIT);
    return page;
  };
  const go = async (page: Page, label: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
    await page.getByRole('heading', { level: 1, name: label }).waitFor(WAIT);
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `ui-${name}.png`) });
  const noProblems = (page: Page) => assert.deepEqual((page as Page & { problems?: string[] }).problems, []);

  it('asks for a token when opened without one, and says when one is refused', async () => {
    const node = await start('data');
    const page = await context.newPage();
    await page.goto(node.url);
    await page.getByRole('heading', { name: 'Connect to this node' }).waitFor(WAIT);
    await shot(page, 'token-gate');
    await page.getByLabel('API token').fill('not-the-right-token-at-all-000000');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByText('The node refused the token').waitFor(WAIT);
    assert.match((await page.getByRole('alert').textContent()) ?? '', /wrong API token/);
    await shot(page, 'token-refused');
    await page.getByLabel('API token').fill(node.token);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor(WAIT);
    await page.close();
  });

  it('dashboard shows identity, chain and network; the token leaves the address bar', async () => {
    const node = await start('data');
    const page = await open(node);
    assert.equal(new URL(page.url()).hash, '', 'the token is removed from the URL');
    await page.getByText('did:pkh:eip155:31337:', { exact: false }).first().waitFor(WAIT);
    const text = (await page.locator('main').textContent()) ?? '';
    assert.match(text, /Chain id31337/);
    assert.match(text, /#1,284/);
    assert.match(text, /AccessGrants/);
    assert.match(text, /Network size5/);
    assert.match(text, /4 connected · 1 relayed/);
    await page.locator('.pill', { hasText: 'Live' }).waitFor(WAIT);
    await shot(page, 'dashboard');
    noProblems(page);
    await page.close();
  });

  it('peers list RTT and path; the network map draws every node', async () => {
    const node = await start('data');
    const page = await open(node);
    await go(page, 'Peers');
    await page.getByText('relayed via', { exact: false }).waitFor(WAIT);
    assert.equal(await page.locator('tbody tr').count(), 5);
    assert.ok(await page.getByText('0.8 ms').isVisible());
    await shot(page, 'peers');
    await go(page, 'Network map');
    await page.getByTestId('network-graph').waitFor(WAIT);
    assert.equal(await page.locator('[data-testid=network-graph] g.node').count(), 6);
    assert.equal(await page.locator('[data-testid=network-graph] .link-relayed').count(), 1);
    await shot(page, 'network');
    noProblems(page);
    await page.close();
  });

  it('publishing adds a row; a refused publish shows the node’s message in a banner', async () => {
    const node = await start('data');
    const page = await open(node);
    await go(page, 'Services');
    await page.getByRole('button', { name: '+ Publish a service' }).click();
    const form = page.getByRole('form', { name: 'Publish a service' });
    await form.getByLabel('Name').fill('team-wiki');
    await form.getByLabel('Target (host:port)').fill('127.0.0.1:3000');
    await form.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('cell', { name: /^team-wiki #/ }).waitFor(WAIT);
    assert.ok(node.state.services.some((s) => s.name === 'team-wiki' && s.target === '127.0.0.1:3000'));
    await page.getByText('Published “team-wiki”').waitFor(WAIT);
    await shot(page, 'services-published');
    // Same name again: the handler's 409 message reaches the person.
    await form.getByLabel('Name').fill('team-wiki');
    await form.getByRole('button', { name: 'Publish' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor(WAIT);
    assert.match((await alert.textContent()) ?? '', /already published by this node/);
    // A target the schema refuses: the framework's 400 message is shown as is.
    await form.getByLabel('Name').fill('other');
    await form.getByLabel('Target (host:port)').fill('not a target');
    await form.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('body.target must be host:port', { exact: false }).waitFor(WAIT);
    await shot(page, 'services-error');
    noProblems(page);
    await page.close();
  });

  it('retire, request access, connect and disconnect change state on the node', async () => {
    const node = await start('data');
    const page = await open(node);
    await go(page, 'Services');
    await page.getByRole('button', { name: 'Retire build-cache' }).click();
    await page.getByText('retired', { exact: true }).waitFor(WAIT);
    assert.equal(node.state.services.find((s) => s.name === 'build-cache')?.active, false);
    await page.getByRole('button', { name: 'Request access to office-ssh' }).click();
    await page.getByRole('button', { name: 'Connect office-ssh' }).waitFor(WAIT);
    assert.ok(node.state.grants.some((g) => g.serviceName === 'office-ssh' && g.role === 'holder'));
    await page.getByRole('button', { name: 'Connect office-ssh' }).click();
    await page.getByRole('button', { name: 'Disconnect office-ssh' }).waitFor(WAIT);
    assert.ok(node.state.sessions.some((s) => s.serviceName === 'office-ssh'));
    await page.getByText('connected · 127.0.0.1:', { exact: false }).waitFor(WAIT);
    await shot(page, 'services-connected');
    await page.getByRole('button', { name: 'Disconnect office-ssh' }).click();
    await page.getByRole('button', { name: 'Connect office-ssh' }).waitFor(WAIT);
    assert.equal(
      node.state.sessions.some((s) => s.serviceName === 'office-ssh'),
      false,
    );
    noProblems(page);
    await page.close();
  });

  it('grants count down live and the owner can revoke', async () => {
    const node = await start('data');
    const page = await open(node);
    await go(page, 'Grants');
    const countdown = page.getByTestId('countdown').nth(1);
    await countdown.waitFor(WAIT);
    const first = await countdown.textContent();
    assert.match(first ?? '', /^\dm \d\ds left$/);
    await page.waitForFunction(
      (before) => document.querySelectorAll('[data-testid=countdown]')[1]?.textContent !== before,
      first,
      WAIT,
    );
    await shot(page, 'grants');
    const target = node.state.grants.find((g) => g.role === 'owner')!;
    await page.getByRole('button', { name: `Revoke grant ${target.id}` }).click();
    await page.getByText('revoked', { exact: true }).waitFor(WAIT);
    assert.equal(target.revoked, true);
    noProblems(page);
    await page.close();
  });

  it('sessions chart live counters from the event stream', async () => {
    const node = await start('data');
    const page = await open(node);
    await go(page, 'Sessions');
    await page.getByTestId('chart-waiting').waitFor(WAIT);
    const timer = setInterval(() => node.tick(), 150);
    try {
      await page.getByTestId('traffic-chart').waitFor(WAIT);
      const before = await page.getByTestId('bytes-out').textContent();
      await page.waitForFunction(
        (b) => document.querySelector('[data-testid=bytes-out]')?.textContent !== b,
        before,
        WAIT,
      );
      // Enough samples for a readable curve before the screenshot.
      await page.waitForFunction(
        () =>
          (
            document.querySelector('[data-testid=traffic-chart] .line-in')?.getAttribute('points') ?? ''
          ).split(' ').length >= 30,
        undefined,
        { timeout: 30_000 },
      );
    } finally {
      clearInterval(timer);
    }
    await shot(page, 'sessions');
    noProblems(page);
    await page.close();
  });

  it('logs show recent lines and follow new ones live', async () => {
    const node = await start('data');
    const page = await open(node);
    await go(page, 'Logs');
    await page.getByText('ticket rejected').waitFor(WAIT);
    assert.equal(await page.getByText('dht refresh').count(), 0, 'debug lines hidden at the default level');
    node.log('warn', 'peer went quiet', { peer: 'abc' });
    await page.getByText('peer went quiet').waitFor(WAIT);
    await page.getByLabel('Minimum level').selectOption('debug');
    await page.getByText('dht refresh').waitFor(WAIT);
    await shot(page, 'logs');
    noProblems(page);
    await page.close();
  });

  it('every page has a designed empty state', async () => {
    const node = await start('empty');
    const page = await open(node);
    await page.getByText('Network size').waitFor(WAIT);
    await shot(page, 'empty-dashboard');
    const expected: [string, string][] = [
      ['Peers', 'No peers yet'],
      ['Services', 'No services yet — publish one'],
      ['Grants', 'No access held yet'],
      ['Sessions', 'No open sessions'],
      ['Network map', 'Only this node so far'],
      ['Logs', 'No log lines yet'],
    ];
    for (const [label, text] of expected) {
      await go(page, label);
      await page.getByRole('heading', { name: text }).waitFor(WAIT);
      await shot(page, `empty-${label.toLowerCase().replace(/\s+/g, '-')}`);
    }
    const body = (await page.locator('main').textContent()) ?? '';
    assert.doesNotMatch(body, /[{}]"/, 'no raw JSON');
    noProblems(page);
    await page.close();
  });

  it('shows API errors in a banner, and says so when the node is unreachable', async () => {
    const node = await start('failing');
    const page = await open(node);
    await go(page, 'Services');
    const alert = page.getByRole('alert').first();
    await alert.waitFor(WAIT);
    const text = (await alert.textContent()) ?? '';
    assert.match(text, /Could not load services/);
    assert.match(text, /chain RPC .* is not answering/);
    assert.doesNotMatch(text, /[{}]/, 'a sentence, not a JSON dump');
    await shot(page, 'error-services');
    await node.close();
    await go(page, 'Peers');
    await page.getByText('Cannot reach the node').waitFor(WAIT);
    await page.getByText('Node unreachable').waitFor(WAIT);
    await shot(page, 'error-unreachable');
    await page.close();
  });
});
