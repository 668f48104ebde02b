/**
 * Networks that span machines and survive a relay's death, across network namespaces (netns/sites.sh):
 * an operator and two relays on a public segment, three NATed sites. Every node is a real `dibs`
 * process; all but the operator are set up from its join bundle alone. The service node (site 1) is
 * told only that it cannot be reached directly, takes two relays from the chain's relay list and
 * publishes an HTTP target; the other sites reach it through `dibs connect`. The relay in use is
 * SIGKILLed during a 256 MiB transfer: what arrived is an exact prefix of what was sent, and a new
 * connection from the same listener goes through the other relay. The dead relay restarts with a
 * plain `dibs node start` and is taken back. Needs root; skipped without it, except under CI.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PAGE, PAYLOAD_BYTES, payloadSha256 } from './netns/payload.ts';
import { type NodeInfo, type Site, SitesBed, sitesUnavailable, until } from './netns/sites.ts';

const UNAVAILABLE = sitesUnavailable();
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
/** Bytes received before the relay is killed: well into the transfer, far from its end. */
const KILL_AFTER_BYTES = 48 * 1024 * 1024;

describe('three NATed sites, two relays: join bundle, relay redundancy, failover', {
  skip: UNAVAILABLE && !IN_CI ? UNAVAILABLE : false,
}, () => {
  const bed = new SitesBed();
  const listeners = new Map<Site, string>();
  let service: NodeInfo;
  let relays: Record<'r1' | 'r2', NodeInfo>;

  before(async () => {
    if (UNAVAILABLE) throw new Error(`${UNAVAILABLE}; CI is set, so this test may not be skipped`);
    await bed.up();
    await bed.startOperator();
    const [r1, r2] = await Promise.all([bed.startRelay('r1'), bed.startRelay('r2')]);
    relays = { r1: r1.info!, r2: r2.info! };
    service = (await bed.startSite('s1', ['--reachability', 'private'])).info!;
    const held = await until(async () => {
      const s = await bed.status('s1');
      return s.network.relays.held.length === 2 && s;
    }, 60_000);
    assert.ok(held, `the service node holds two relay reservations\n${bed.nodes.get('s1')?.tail()}`);
    const port = await bed.payloadServer('s1');
    const published = await bed.dibsJson<{ id: string }>('s1', [
      'service',
      'publish',
      'web',
      '--type',
      'http',
      '--target',
      `127.0.0.1:${port}`,
      '--public',
    ]);
    for (const site of ['s2', 's3'] as const) {
      await bed.startSite(site);
      const c = await bed.dibsJson<{ localAddress: string }>(site, ['connect', published.id, '--detach']);
      listeners.set(site, c.localAddress);
    }
  });
  after(async () => {
    await bed.down();
  });

  it('every node beside the operator was set up from the join bundle alone, on the same network', () => {
    const op = bed.nodes.get('op')!.info!;
    for (const site of ['r1', 'r2', 's1', 's2', 's3'] as const) {
      const info = bed.nodes.get(site)!.info!;
      assert.equal(info.chain.networkServiceId, op.chain.networkServiceId, site);
      assert.equal(info.chain.rpcUrl, op.chain.rpcUrl, `${site} uses the operator's chain`);
    }
    assert.equal(relays.r1.network.roles & 2, 2, 'r1 is a relay');
    assert.equal(op.network.roles & 2, 0, 'the operator is not a relay');
  });

  it("the service node holds reservations on both relays, from the chain's relay list", async () => {
    const s = await bed.status('s1');
    assert.equal(s.network.relays.target, 2);
    assert.deepEqual(
      s.network.relays.held.map((r) => r.peerId).sort(),
      [relays.r1.peerId, relays.r2.peerId].sort(),
    );
  });

  it('curl in two other NATed sites gets the page through their connect listeners', async () => {
    for (const site of ['s2', 's3'] as const) {
      const r = await bed.curl(site, ['--max-time', '60', `http://${listeners.get(site)}/`]);
      assert.equal(r.stdout, PAGE, `${site}: ${r.stderr}\n${bed.nodes.get(site)?.tail()}`);
      // The runtime file the status comes from is rewritten every 2 s.
      const via = await until(() => bed.relayInUse(site, service.peerId), 15_000);
      assert.ok(via, `${site} reaches the service through a relay`);
    }
  });

  let victim: 'r1' | 'r2';
  it('the relay in use dies mid-transfer: an exact prefix arrived, and a new connection takes the other relay', async () => {
    const file = join(bed.dir, 'big.body');
    const url = `http://${listeners.get('s2')}/big`;
    const transfer = bed.curl('s2', ['--max-time', '300', '--limit-rate', '24M', '-o', file, url], 330_000);
    const started = await until(
      async () => statSync(file, { throwIfNoEntry: false })!.size >= KILL_AFTER_BYTES,
      120_000,
    );
    assert.ok(started, 'the transfer got going');
    // The relay whose sockets carry the transfer (the tunnel's data channel meets at a relay).
    const busiest = await bed.busiestRelay();
    assert.ok(
      busiest && busiest.bytes >= KILL_AFTER_BYTES / 2,
      `a relay carries the transfer: ${JSON.stringify(busiest)}`,
    );
    victim = busiest.site;
    await bed.kill(victim);
    const r = await transfer;
    assert.notEqual(r.code, 0, 'curl saw the transfer cut short');
    const length = statSync(file).size;
    assert.ok(length >= KILL_AFTER_BYTES && length < PAYLOAD_BYTES, `a cut transfer: ${length} bytes`);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    unlinkSync(file);
    assert.equal(hash.digest('hex'), payloadSha256(length), 'the bytes received are an exact prefix');

    const page = await bed.curl('s2', ['--max-time', '30', `http://${listeners.get('s2')}/`]);
    assert.equal(
      page.stdout,
      PAGE,
      `a new connection from the same listener: ${page.stderr}\n${bed.nodes.get('s2')?.tail()}`,
    );
    const other = victim === 'r1' ? 'r2' : 'r1';
    const now = await until(async () => {
      const via = await bed.relayInUse('s2', service.peerId);
      return via === relays[other].peerId && via;
    }, 15_000);
    assert.equal(now, relays[other].peerId, 'through the other relay');
  });

  it('the dead relay restarts with a plain node start, rejoins, and the service node takes it back', async () => {
    const back = await bed.restart(victim);
    assert.equal(back.info!.peerId, relays[victim].peerId, 'the same relay identity');
    assert.ok(back.info!.network.admitted >= 1, 'admitted by the network again');
    const retaken = await until(async () => {
      const s = await bed.status('s1');
      return s.network.relays.held.some((r) => r.peerId === relays[victim].peerId) && s;
    }, 60_000);
    assert.ok(retaken, `the service node holds a reservation on ${victim} again`);
    const page = await bed.curl('s3', ['--max-time', '30', `http://${listeners.get('s3')}/`]);
    assert.equal(page.stdout, PAGE);
  });
});
