/** The shipped systemd unit passes `systemd-analyze verify` (with ExecStart pointed at this checkout's CLI). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const UNIT = fileURLToPath(new URL('../../../packaging/systemd/dibs.service', import.meta.url));
const CLI = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Where systemd-analyze is, if anywhere on PATH (CI installs systemd; see .ci/run). */
function systemdAnalyze(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'systemd-analyze'))) return join(dir, 'systemd-analyze');
  }
  return undefined;
}
const ANALYZE = systemdAnalyze();

describe('systemd unit', () => {
  it('verifies with systemd-analyze', {
    skip: ANALYZE ? false : 'systemd-analyze is not installed (apt-get install systemd)',
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'dibs-unit-'));
    try {
      const text = readFileSync(UNIT, 'utf8');
      assert.match(text, /^ExecStart=\/usr\/local\/bin\/dibs up$/m);
      assert.match(
        text,
        /^Environment=DIBS_PASSPHRASE_FILE=/m,
        'the passphrase comes from a file, never argv',
      );
      const unit = join(dir, 'dibs.service');
      writeFileSync(unit, text.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${CLI} up`));
      let out = '';
      try {
        out = execFileSync(ANALYZE!, ['verify', '--man=no', unit], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string };
        assert.fail(`systemd-analyze verify failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
      assert.doesNotMatch(out, /dibs\.service:/, out);
      // A broken unit fails the same check: the test can fail.
      writeFileSync(unit, text.replace('[Service]', '[Service]\nExecStart=relative/path up'));
      assert.throws(() =>
        execFileSync(ANALYZE!, ['verify', '--man=no', unit], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
