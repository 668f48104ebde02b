/**
 * The node's log on pino: the file is rotated by size with a bounded number of old files kept, every
 * line is JSON with time, level and message, secrets are blanked, and the terminal gets readable text
 * or JSON lines as asked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../node/src/daemon/log.ts';
import { createLogSink, parseLogFormat } from '../src/index.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'dibs-log-'));
  dirs.push(d);
  return d;
};
const settle = () => new Promise((r) => setTimeout(r, 200));

describe('the node log', () => {
  it('rotates the file by size and keeps only the newest files', async () => {
    const dir = tempDir();
    const sink = createLogSink({
      level: 'info',
      file: join(dir, 'node.log'),
      rotate: { size: '4k', keep: 2 },
    });
    await sink.ready;
    for (let i = 0; i < 400; i++) {
      sink.pino.info({ i, pad: 'x'.repeat(60) }, 'line');
      if (i % 50 === 49) await settle();
    }
    sink.flush();
    await settle();
    const files = readdirSync(dir).filter((f) => /^node\.\d+\.log$/.test(f));
    const numbers = files.map((f) => Number(f.split('.')[1])).sort((a, b) => a - b);
    assert.ok(numbers.at(-1)! >= 4, `rotated several times (${files.join(', ')})`);
    assert.ok(files.length <= 3, `at most the current file and 2 old ones (${files.join(', ')})`);
    assert.equal(readlinkSync(join(dir, 'current.log')), `node.${numbers.at(-1)}.log`);
    const lines = numbers
      .flatMap((n) => readFileSync(join(dir, `node.${n}.log`), 'utf8').split('\n'))
      .filter((l) => l !== '');
    assert.ok(lines.length > 0 && lines.length < 400, 'the oldest files were removed');
    let last = -1;
    for (const line of lines) {
      const rec = JSON.parse(line);
      assert.equal(rec.level, 'info');
      assert.equal(rec.msg, 'line');
      assert.match(rec.time, /^\d{4}-\d\d-\d\dT/);
      assert.ok(rec.i > last, 'lines keep their order across files');
      last = rec.i;
    }
    assert.equal(last, 399, 'the newest line is kept');
  });

  it('blanks secrets in the file and shows readable text on the terminal', async () => {
    const dir = tempDir();
    const term = new PassThrough();
    let shown = '';
    term.on('data', (c) => {
      shown += c.toString();
    });
    const log = createLogger({
      file: join(dir, 'node.log'),
      console: term,
      format: 'pretty',
      component: 'node',
    });
    log.child('api').info('grant issued', {
      grantId: '7',
      passphrase: 'hunter2',
      nested: { privateKey: '0xabc', token: 'tkn' },
    });
    log.flush?.();
    await settle();
    log.flush?.();
    const text = readFileSync(join(dir, 'current.log'), 'utf8');
    const rec = JSON.parse(text.trim().split('\n').at(-1)!);
    assert.equal(rec.msg, 'grant issued');
    assert.equal(rec.component, 'node/api');
    assert.equal(rec.grantId, '7');
    for (const secret of ['hunter2', '0xabc', 'tkn']) {
      assert.ok(!text.includes(secret), `${secret} never reaches the file`);
      assert.ok(!shown.includes(secret), `${secret} never reaches the terminal`);
    }
    assert.match(shown, /\[node\/api\] grant issued/);
    assert.doesNotMatch(shown, /^\{/, 'pretty is not JSON');
  });

  it('prints JSON lines on the terminal with --log-format json, and refuses unknown formats', async () => {
    const term = new PassThrough();
    let shown = '';
    term.on('data', (c) => {
      shown += c.toString();
    });
    const log = createLogger({ console: term, format: 'json', component: 'node' });
    log.warn('admission refused', { reason: 'REVOKED' });
    await settle();
    const rec = JSON.parse(shown.trim());
    assert.equal(rec.level, 'warn');
    assert.equal(rec.reason, 'REVOKED');
    assert.equal(parseLogFormat('json'), 'json');
    assert.throws(() => parseLogFormat('xml'), /unknown log format/);
  });
});
