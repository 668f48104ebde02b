/**
 * The Organizations page in Chromium on a REAL node (embedded anvil): two organizations the node
 * administers, with members, its own node, a members-only service and a grant. The switcher moves
 * between them and each shows its own members, nodes, services and grants by name; the admin adds
 * and removes a member from the page and the chain agrees. Tables fit the 1280 px window.
 * Screenshots land in test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Policy } from '@dibs/contracts';
import { Wallet } from '@dibs/core';
import { createLogger, type Daemon, startDaemon } from '@dibs/node';
import type { BrowserContext, Page } from 'playwright-core';
import { buildUi, chromiumSkip, closeBrowser, launchBrowser, SHOTS } from './browser.ts';

const WAIT = { timeout: 30_000 };

/** The page's short form of an address: 0x1234…abcd. */
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

describe('Organizations page on a real node', { skip: chromiumSkip }, () => {
  let work: string;
  let profile: string;
  let context: BrowserContext;
  let node: Daemon;
  let token: string;
  const acmeMembers = [Wallet.generate().address, Wallet.generate().address];
  const globexMember = Wallet.generate().address;
  const newcomer = Wallet.generate().address;
  let acme: string;
  let globex: string;

  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the node's API
  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${node.api!.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    const out = await res.json();
    assert.ok(res.ok, `${method} ${path}: ${JSON.stringify(out)}`);
    return out;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dibs-ui-orgs-'));
    const dist = join(work, 'dist');
    profile = join(work, 'profile');
    await mkdir(SHOTS, { recursive: true });
    const dir = join(work, 'node');
    await mkdir(dir, { recursive: true });
    await buildUi(dist);
    node = await startDaemon({
      dataDir: dir,
      databasePath: join(dir, 'dibs.db'),
      runtimePath: join(dir, 'run', 'node.json'),
      chain: { mode: 'embedded', chainId: 31337 },
      wallet: Wallet.generate(),
      log: createLogger({ console: null, component: 'orgs' }),
      p2p: false,
      api: { port: 0, staticDir: dist },
    });
    token = (await readFile(join(dir, 'api-token'), 'utf8')).trim();

    // Two organizations through the node's API: members, this node as their node.
    acme = (await api('POST', '/api/v1/orgs', { name: 'Acme Labs' })).id;
    globex = (await api('POST', '/api/v1/orgs', { name: 'Globex Research' })).id;
    for (const m of acmeMembers) await api('POST', `/api/v1/orgs/${acme}/members`, { address: m });
    await api('POST', `/api/v1/orgs/${globex}/members`, { address: globexMember });
    for (const org of [acme, globex])
      await api('POST', `/api/v1/orgs/${org}/nodes`, { address: node.info.address });
    await api('PUT', `/api/v1/orgs/${globex}/env/relays`, { value: '/dns/relay.globex.example/tcp/4001' });
    // Globex gets a members-only service; this node takes a grant on Acme's network service.
    await node.chain.registry.publishService({
      serviceType: 'http',
      name: 'globex-wiki',
      grantDuration: 3600n,
      host: node.info.address as `0x${string}`,
      policy: Policy.OrgMembers,
      policyRef: BigInt(globex),
    });
    const acmeNetwork = (await api('GET', `/api/v1/orgs/${acme}`)).networkServiceId;
    await api('POST', '/api/v1/grants', { serviceId: acmeNetwork });

    context = await launchBrowser(profile);
  });

  after(async () => {
    await closeBrowser(context, profile);
    await node?.stop().catch(() => {});
    if (work) await rm(work, { recursive: true, force: true });
  });

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SHOTS, `orgs-${name}.png`), fullPage: true });
  const fits = (page: Page) =>
    page
      .locator('[data-testid=organization] .table-card')
      .evaluateAll((els) => els.every((el) => el.scrollWidth <= el.clientWidth + 1));

  it('switches organization and shows each one’s members, nodes, services and grants; the admin edits members', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(node.info.api!.uiUrl);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Organizations' }).click();
    await page.getByRole('heading', { level: 1, name: 'Organizations' }).waitFor(WAIT);
    const switcher = page.getByRole('combobox', { name: 'Organization' });
    await switcher.waitFor(WAIT);

    // Acme: two members, this node as its node, its network service, and this node's grant on it.
    await switcher.selectOption({ label: 'Acme Labs · admin' });
    const view = page.locator(`[data-testid=organization][data-org="${acme}"]`);
    await view.waitFor(WAIT);
    const members = view.getByTestId('org-members');
    for (const m of acmeMembers) await members.getByText(short(m)).waitFor(WAIT);
    await view.getByTestId('org-nodes').getByText(short(node.info.address)).waitFor(WAIT);
    await view.getByTestId('org-nodes').getByText('you', { exact: true }).waitFor(WAIT);
    await view.getByTestId('org-services').getByText('org:Acme Labs').waitFor(WAIT);
    const grants = view.getByTestId('org-grants');
    await grants.getByText('org:Acme Labs').waitFor(WAIT);
    await grants.getByText('you', { exact: true }).waitFor(WAIT);
    assert.match((await grants.textContent()) ?? '', /left/);
    assert.ok(await fits(page), 'Acme’s tables fit 1280 px');
    await shot(page, 'acme');

    // Switch: Globex shows its own member, service and configuration, none of Acme's.
    await switcher.selectOption({ label: 'Globex Research · admin' });
    const gview = page.locator(`[data-testid=organization][data-org="${globex}"]`);
    await gview.waitFor(WAIT);
    await gview.getByTestId('org-members').getByText(short(globexMember)).waitFor(WAIT);
    await gview.getByTestId('org-services').getByText('globex-wiki').waitFor(WAIT);
    await gview.getByText('members', { exact: true }).first().waitFor(WAIT);
    await gview.getByText('No grants on its services yet').waitFor(WAIT);
    await gview.getByText('/dns/relay.globex.example/tcp/4001').waitFor(WAIT);
    const text = (await gview.textContent()) ?? '';
    for (const m of acmeMembers) assert.ok(!text.includes(short(m)), 'no Acme member in Globex');
    assert.ok(!text.includes('org:Acme Labs'), 'no Acme service in Globex');
    assert.ok(await fits(page), 'Globex’s tables fit 1280 px');
    await shot(page, 'globex');

    // The admin adds a member and removes another from the page; the chain agrees.
    const add = gview.getByRole('form', { name: 'Add a member' });
    await add.getByLabel('member address').fill(newcomer);
    await add.getByRole('button', { name: 'Add member' }).click();
    await gview.getByTestId('org-members').getByText(short(newcomer)).waitFor({ timeout: 60_000 });
    await gview.getByRole('button', { name: `Remove member ${globexMember}` }).click();
    await gview
      .getByTestId('org-members')
      .getByText(short(globexMember))
      .waitFor({ state: 'detached', timeout: 60_000 });
    const shown = await api('GET', `/api/v1/orgs/${globex}`);
    assert.deepEqual(shown.members, [newcomer]);
    await shot(page, 'globex-edited');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
