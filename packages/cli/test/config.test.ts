/**
 * The config file and its overrides (flags > environment > file), for the busy-polling window: what
 * each source sets, and that a bad value from any of them is a clear error naming where it came from.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, MAX_BUSY_POLL_US, p2pSettings } from '../src/config.ts';
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
