/**
 * One line to join: `dibs up` prints a join bundle; `dibs join <bundle>` sets a fresh data dir up
 * from it alone and starts; a plain `dibs node start` restarts it; the embedded chain keeps its port
 * across restarts; a dead RPC URL falls back to the next one the config knows. Node flags (roles,
 * listen, chain host, API port) work on every command that runs a node.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lastJson, runCli, startCli, stopChild, tempHome } from './cli-helpers.ts';

interface UpJson {
  status: string;
  peerId: string;
  joinBundle: string;
  chain: { rpcUrl: string; contracts: Record<string, string>; networkServiceId: string };
  network: { roles: number; admitted: number; multiaddrs: string[] };
  api?: { url: string };
}

const running = (stdout: string) => stdout.includes('"status":"running"');

describe('dibs join: a second data dir joins from the bundle alone and restarts without it', () => {
  const first = tempHome();
  const second = tempHome();
  let a: Awaited<ReturnType<typeof startCli>>;
  let upA: UpJson;

  before(async () => {
    a = await startCli(
      [
        'up',
        '--json',
        '--chain-host',
        '127.0.0.1',
        '--roles',
        'bootstrap,relay',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api-port',
        '0',
      ],
      first.env,
      running,
      180_000,
    );
    upA = lastJson<UpJson>(a.output().stdout);
  });
  after(async () => {
    await stopChild(a.child);
    first.cleanup();
    second.cleanup();
  });

  test('dibs up --json prints the contracts with networkServiceId, and a join bundle', () => {
    assert.equal(upA.chain.contracts.networkServiceId, upA.chain.networkServiceId);
    assert.match(upA.joinBundle, /^[A-Za-z0-9_-]+$/);
    assert.equal(upA.network.roles & 3, 3);
    assert.deepEqual(
      upA.network.multiaddrs.map((m) => m.split('/').slice(0, 4).join('/')),
      [`/ip4/127.0.0.1/tcp`],
      'only the --listen address',
    );
  });

  test('join with the bundle alone, then a plain node start, reach the same network', async () => {
    const joined = await runCli(
      ['join', upA.joinBundle, '--json', '--exit-after-start', '--api-port', '0', '--relay-count', '3'],
      second.env,
      180_000,
    );
    assert.equal(joined.code, 0, joined.stderr);
    const j = lastJson<UpJson>(joined.stdout);
    assert.equal(j.chain.networkServiceId, upA.chain.networkServiceId);
    assert.ok(j.network.admitted >= 1, 'admitted by the bootstrap node from the bundle');
    assert.ok(j.api?.url, 'the API ran on the port asked for');
    const config = JSON.parse(readFileSync(join(second.home, 'config.json'), 'utf8'));
    assert.equal(config.chain.contracts.networkServiceId, upA.chain.networkServiceId, 'kept in the config');
    assert.equal(config.node.relayCount, 3, 'the node flags given with the bundle are kept too');

    const again = await runCli(
      ['node', 'start', '--json', '--exit-after-start', '--no-api'],
      second.env,
      180_000,
    );
    assert.equal(again.code, 0, again.stderr);
    const r = lastJson<UpJson>(again.stdout);
    assert.equal(r.chain.contracts.registry, upA.chain.contracts.registry);
    assert.ok(r.network.admitted >= 1);
  });

  test('a dead first RPC URL falls back to the next one the config lists', async () => {
    const path = join(second.home, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.chain.rpcUrl = 'http://127.0.0.1:9';
    config.chain.rpcUrls = [upA.chain.rpcUrl];
    writeFileSync(path, JSON.stringify(config));
    const r = await runCli(
      ['node', 'start', '--json', '--exit-after-start', '--no-api'],
      second.env,
      180_000,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson<UpJson>(r.stdout).chain.rpcUrl, upA.chain.rpcUrl);
  });

  test('a bad bundle is refused with what is wrong, and the config is untouched', async () => {
    const path = join(second.home, 'config.json');
    const before = readFileSync(path, 'utf8');
    const r = await runCli(['join', 'eyJ2IjoyfQ', '--exit-after-start'], second.env, 60_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /version 2/);
    assert.equal(readFileSync(path, 'utf8'), before);
  });

  test('the embedded chain keeps its port across a restart', async () => {
    await stopChild(a.child);
    const r = await runCli(['up', '--json', '--exit-after-start', '--no-api'], first.env, 180_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson<UpJson>(r.stdout).chain.rpcUrl, upA.chain.rpcUrl);
  });
});
