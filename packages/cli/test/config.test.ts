/**
 * The config file and its overrides (flags > environment > file), for the busy-polling window: what
 * each source sets, and that a bad value from any of them is a clear error naming where it came from.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { applyNodeFlags, loadConfig, MAX_BUSY_POLL_US, p2pSettings, parseRoles } from '../src/config.ts';
import { CliError } from '../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'dibs-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function configFile(node: Record<string, unknown>): string {
  const path = join(dir, `config-${files++}.json`);
  writeFileSync(path, JSON.stringify({ version: 1, chain: { mode: 'embedded', chainId: 31337 }, node }));
  return path;
}

describe('config: busy-polling window', () => {
  test('unset everywhere: the node keeps its built-in default', () => {
    const config = loadConfig(join(dir, 'missing.json'), {}, {});
    assert.equal(config.node.busyPollUs, undefined);
    assert.equal('busyPollUs' in p2pSettings(config), false);
  });

  test('file, then environment, then flag: the highest wins', () => {
    const path = configFile({ busyPollUs: 50 });
    assert.equal(loadConfig(path, {}, {}).node.busyPollUs, 50);
    assert.equal(loadConfig(path, {}, { DIBS_BUSY_POLL_US: '0' }).node.busyPollUs, 0);
    assert.equal(loadConfig(path, { busyPollUs: '300' }, { DIBS_BUSY_POLL_US: '0' }).node.busyPollUs, 300);
    assert.deepEqual(p2pSettings(loadConfig(path, {}, {})), {
      listen: loadConfig(path, {}, {}).node.listen,
      bootstrap: [],
      busyPollUs: 50,
    });
  });

  test('a bad value in the file names the file and the field', () => {
    for (const bad of [-1, 1.5, MAX_BUSY_POLL_US + 1, '200', null, true]) {
      const path = configFile({ busyPollUs: bad });
      assert.throws(
        () => loadConfig(path, {}, {}),
        (err: unknown) =>
          err instanceof CliError &&
          err.code === 'CORRUPT_CONFIG' &&
          err.message.includes(path) &&
          err.message.includes('node.busyPollUs'),
        JSON.stringify(bad),
      );
    }
  });

  test('a bad flag or environment value is refused with what to pass instead', () => {
    const path = join(dir, 'missing.json');
    for (const bad of ['-5', 'fast', '1e3', '', ' ', '0x10', String(MAX_BUSY_POLL_US + 1)]) {
      for (const [overrides, env] of [
        [{ busyPollUs: bad }, {}],
        [{}, { DIBS_BUSY_POLL_US: bad }],
      ] as const) {
        assert.throws(
          () => loadConfig(path, overrides, env),
          (err: unknown) =>
            err instanceof CliError && err.code === 'BAD_CONFIG' && /--busy-poll-us/.test(err.hint ?? ''),
          JSON.stringify(bad),
        );
      }
    }
  });

  test('random strings never slip through as a window outside 0 … the limit', () => {
    const alphabet = '0123456789 -+.eEx_a';
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const n = Math.floor(Math.random() * 7);
      for (let j = 0; j < n; j++) text += alphabet[Math.floor(Math.random() * alphabet.length)];
      try {
        const us = loadConfig(join(dir, 'missing.json'), { busyPollUs: text }, {}).node.busyPollUs;
        assert.ok(
          Number.isInteger(us) && us! >= 0 && us! <= MAX_BUSY_POLL_US,
          `${JSON.stringify(text)} → ${us}`,
        );
        assert.match(text.trim(), /^\d+$/);
      } catch (err) {
        assert.ok(err instanceof CliError && err.code === 'BAD_CONFIG', `${JSON.stringify(text)}: ${err}`);
      }
    }
  });
});

describe('config: roles, addresses, relays, chain host, and every field --json prints', () => {
  function file(content: Record<string, unknown>): string {
    const path = join(dir, `config-${files++}.json`);
    writeFileSync(path, JSON.stringify({ version: 1, ...content }));
    return path;
  }

  test('chain.contracts takes networkServiceId as `dibs up --json` prints it (string or number)', () => {
    const contracts = {
      token: `0x${'1'.repeat(40)}`,
      registry: `0x${'2'.repeat(40)}`,
      networkServiceId: '7',
    };
    const path = file({ chain: { mode: 'rpc', rpcUrl: 'http://10.0.0.1:8545', chainId: 31337, contracts } });
    assert.deepEqual(loadConfig(path, {}, {}).chain.contracts, contracts);
    const numeric = file({ chain: { mode: 'embedded', chainId: 1, contracts: { networkServiceId: 7 } } });
    assert.equal(loadConfig(numeric, {}, {}).chain.contracts?.networkServiceId, '7');
    const bad = file({ chain: { mode: 'embedded', chainId: 1, contracts: { networkServiceId: 'x' } } });
    assert.throws(() => loadConfig(bad, {}, {}), /chain\.contracts\.networkServiceId/);
  });

  test('node roles, announce, relays, relay count, reachability and chain host: file < env < flag', () => {
    const path = file({
      chain: { mode: 'embedded', chainId: 31337, host: '0.0.0.0', port: 8545, rpcUrls: ['http://a:1'] },
      node: { roles: ['relay'], announce: ['/ip4/203.0.113.7/tcp/4001'], relays: [], relayCount: 3 },
    });
    const config = loadConfig(path, {}, {});
    assert.deepEqual(config.node.roles, ['relay']);
    assert.equal(config.chain.host, '0.0.0.0');
    assert.equal(config.chain.port, 8545);
    assert.deepEqual(p2pSettings(config), {
      listen: config.node.listen,
      bootstrap: [],
      roles: 2,
      announce: ['/ip4/203.0.113.7/tcp/4001'],
      relayCount: 3,
    });
    const env = loadConfig(path, {}, { DIBS_ROLES: 'bootstrap,relay', DIBS_CHAIN_HOST: '10.0.0.5' });
    assert.equal(p2pSettings(env).roles, 3);
    assert.equal(env.chain.host, '10.0.0.5');
    const flags = applyNodeFlags(env, {
      roles: 'none',
      relay: ['/ip4/10.0.0.9/tcp/1/p2p/16Uiu2HAmRbYddp4boNSEhKQgHN6QZs43nWaut5Ezmd5MUQt2FuKH'],
      reachability: 'private',
      relayCount: '2',
      listen: ['/ip4/0.0.0.0/tcp/4001'],
    });
    assert.equal(p2pSettings(flags).roles, 0);
    assert.equal(p2pSettings(flags).reachability, 'private');
    assert.deepEqual(flags.node.listen, ['/ip4/0.0.0.0/tcp/4001']);
    assert.equal(flags.node.relays?.length, 1);
  });

  test('bad roles, counts, modes and addresses are clear errors naming their source', () => {
    assert.throws(() => parseRoles('bootstrap,boss'), /--roles: unknown role "boss"/);
    assert.throws(() => loadConfig(join(dir, 'none.json'), {}, { DIBS_ROLES: 'x' }), /DIBS_ROLES/);
    const base = loadConfig(join(dir, 'none.json'), {}, {});
    assert.throws(() => applyNodeFlags(base, { relayCount: '99' }), /--relay-count/);
    assert.throws(() => applyNodeFlags(base, { reachability: 'maybe' }), /--reachability/);
    assert.throws(() => applyNodeFlags(base, { announce: ['not an address'] }), /--announce/);
    assert.throws(() => applyNodeFlags(base, { chainHost: 'a b' }), /--chain-host/);
    const badRoles = file({ node: { roles: ['root'] } });
    assert.throws(
      () => loadConfig(badRoles, {}, {}),
      (e: unknown) => e instanceof CliError && /node\.roles/.test((e as Error).message),
    );
  });
});

describe('config: chain view bounds', () => {
  test('node.chainView reaches the node settings; bad fields name the file and the field', () => {
    const path = configFile({ chainView: { refuseAfterMs: 5000, closeAfterBlocks: 10 } });
    assert.deepEqual(p2pSettings(loadConfig(path, {}, {})).chainView, {
      refuseAfterMs: 5000,
      closeAfterBlocks: 10,
    });
    assert.equal('chainView' in p2pSettings(loadConfig(join(dir, 'missing.json'), {}, {})), false);
    for (const [bad, field] of [
      [{ refuseAfterMs: 0 }, 'node.chainView.refuseAfterMs'],
      [{ closeAfterMs: '60000' }, 'node.chainView.closeAfterMs'],
      [{ refuseAfterBlock: 2 }, 'node.chainView.refuseAfterBlock'],
      [[], 'node.chainView'],
    ] as const) {
      const file = configFile({ chainView: bad });
      assert.throws(
        () => loadConfig(file, {}, {}),
        (err: unknown) =>
          err instanceof CliError && err.code === 'CORRUPT_CONFIG' && err.message.includes(field),
        JSON.stringify(bad),
      );
    }
  });
});

describe('config: light mode', () => {
  const checkpoint = {
    chainId: 31337,
    number: '12',
    blockHash: `0x${'ab'.repeat(32)}`,
    stateRoot: `0x${'cd'.repeat(32)}`,
  };
  const signer = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

  test('node.light from the file reaches the node settings; DIBS_LIGHT and --light turn it on or off', () => {
    const path = configFile({
      light: {
        enabled: false,
        checkpoint,
        signers: [signer],
        threshold: 0.6,
        rpcUrls: ['http://127.0.0.1:1'],
      },
    });
    const fromFile = p2pSettings(loadConfig(path, {}, {}));
    assert.equal(fromFile.light?.enabled, false);
    assert.equal(fromFile.light?.checkpoint?.number, 12n);
    assert.deepEqual(fromFile.light?.signers, [signer]);
    assert.equal(fromFile.light?.threshold, 0.6);
    assert.equal(p2pSettings(loadConfig(path, {}, { DIBS_LIGHT: '1' })).light?.enabled, true);
    assert.equal(
      p2pSettings(loadConfig(path, { light: false }, { DIBS_LIGHT: 'true' })).light?.enabled,
      false,
    );
    assert.equal(loadConfig(join(dir, 'missing.json'), {}, {}).node.light, undefined);
  });

  test('a malformed light section is an error naming the field', () => {
    for (const [light, field] of [
      [{ enabled: 'yes' }, 'node.light.enabled'],
      [{ enabled: true, checkpoint: { ...checkpoint, blockHash: '0x12' } }, 'node.light.checkpoint'],
      [{ enabled: true, signers: ['nobody'] }, 'node.light.signers'],
      [{ enabled: true, threshold: 1.5 }, 'node.light.threshold'],
      [{ enabled: true, rpcUrls: ['ftp://x'] }, 'node.light.rpcUrls'],
    ] as const) {
      assert.throws(
        () => loadConfig(configFile({ light }), {}, {}),
        (err: unknown) => err instanceof CliError && err.message.includes(field),
      );
    }
  });
});

describe('config: organization networks', () => {
  test('node.orgs < DIBS_ORGS < --org, each an organization id, without duplicates', () => {
    const path = configFile({ listen: [], bootstrap: [], orgs: ['3', 4] });
    const config = loadConfig(path, {}, {});
    assert.deepEqual(config.node.orgs, ['3', '4']);
    assert.deepEqual(p2pSettings(config).orgs, [3n, 4n]);
    const env = loadConfig(path, {}, { DIBS_ORGS: '5, 6,5' });
    assert.deepEqual(env.node.orgs, ['5', '6']);
    const flags = applyNodeFlags(env, { org: ['7', '7', '8'] });
    assert.deepEqual(p2pSettings(flags).orgs, [7n, 8n]);
    assert.equal(p2pSettings(loadConfig(join(dir, 'none.json'), {}, {})).orgs, undefined);
  });

  test('bad organization ids are clear errors naming their source', () => {
    const base = loadConfig(join(dir, 'none.json'), {}, {});
    assert.throws(() => applyNodeFlags(base, { org: ['0'] }), /--org: "0" is not an organization id/);
    assert.throws(() => applyNodeFlags(base, { org: ['acme'] }), /--org/);
    assert.throws(() => loadConfig(join(dir, 'none.json'), {}, { DIBS_ORGS: '1,x' }), /DIBS_ORGS/);
    assert.throws(() => loadConfig(configFile({ orgs: 'one' }), {}, {}), /node\.orgs/);
    assert.throws(() => loadConfig(configFile({ orgs: ['-2'] }), {}, {}), /node\.orgs/);
  });
});
