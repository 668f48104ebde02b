/**
 * An unprivileged host gets a clear UNSUPPORTED error that points to the L4 proxy, from the support
 * check itself (run as an unprivileged user when this runs as root).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkVpnSupport, type VpnError } from '../src/index.ts';

const run = promisify(execFile);
const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('L3 VPN support check', () => {
  it('an unprivileged process is told to use `dibs proxy`', async () => {
    if (process.getuid?.() !== 0) {
      await assert.rejects(
        checkVpnSupport(),
        (e: VpnError) => e.code === 'UNSUPPORTED' && /dibs proxy/.test(e.hint ?? ''),
      );
      return;
    }
    // As root: the same check in a process that dropped to nobody.
    const script = `import(${JSON.stringify(INDEX)}).then((m) => m.checkVpnSupport()).then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })))`;
    const { stdout } = await run(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      { timeout: 30_000 },
    );
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      code?: string;
      message?: string;
      hint?: string;
    };
    assert.equal(out.code, 'UNSUPPORTED', stdout);
    assert.match(out.message ?? '', /needs root/);
    assert.match(out.hint ?? '', /dibs proxy --socks 127\.0\.0\.1:1080 --via <service>/);
  });

  it('as root with wireguard-go, ip and nft installed the check passes', {
    skip: process.getuid?.() !== 0,
  }, async () => {
    await checkVpnSupport();
    await assert.rejects(
      checkVpnSupport('no-such-wireguard-binary'),
      (e: VpnError) => e.code === 'UNSUPPORTED',
    );
  });
});
