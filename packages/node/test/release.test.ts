/**
 * Record buffers freed once written (release.ts): a buffer that owns its whole ArrayBuffer is detached
 * after the socket's write succeeded — the bytes arrive intact and its memory is gone at once — while
 * views, pool slices, small buffers and failed writes are never touched.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RELEASE_MIN_BYTES } from '../src/tunnel/constants.ts';
import { releasable, releasedBytes, setReleaseAfterWrite, writeOwned } from '../src/tunnel/release.ts';
import { readAll, waitFor } from './helpers.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** Whether `b`'s memory was released (its ArrayBuffer detached). */
const detached = (b: Buffer) => (b.buffer as ArrayBuffer).detached;

/** A loopback connection: `writer` writes, `received` resolves with all `reader` got at the end. */
async function pair(server: Server): Promise<{ writer: Socket; received: Promise<Buffer> }> {
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const port = (server.address() as { port: number }).port;
  const writer = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  return { writer, received: accepted.then((s) => readAll(s)) };
}

/** Like a bulk record's ciphertext: node:crypto output, its own ArrayBuffer. */
function cipherOutput(n: number): Buffer {
  const c = createCipheriv('aes-128-gcm', randomBytes(16), randomBytes(12));
  const out = c.update(randomBytes(n));
  c.final();
  return out;
}

describe('record buffers released once written', () => {
  const server = createServer();
  before(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)));
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('cipher output is released after its write; the peer gets every byte', async () => {
    const { writer, received } = await pair(server);
    const buffers = [cipherOutput(256 * 1024), cipherOutput(64 * 1024), cipherOutput(RELEASE_MIN_BYTES)];
    const expected = sha(Buffer.concat(buffers));
    const before = releasedBytes();
    for (const b of buffers) {
      assert.equal(releasable(b), true);
      writeOwned(writer, b);
    }
    writer.end();
    assert.equal(sha(await received), expected);
    assert.ok(await waitFor(() => buffers.every(detached)), 'every buffer was detached');
    assert.equal(releasedBytes() - before, (256 + 64) * 1024 + RELEASE_MIN_BYTES);
    for (const b of buffers) assert.equal(b.length, 0, 'a released buffer holds nothing any more');
  });

  test('views, pool slices and small buffers are written but never released', async () => {
    const { writer, received } = await pair(server);
    const big = cipherOutput(128 * 1024);
    const view = big.subarray(16, 64 * 1024);
    const pooled = Buffer.from('a pool slice');
    const small = cipherOutput(RELEASE_MIN_BYTES - 1);
    const inputs = [view, pooled, small];
    for (const b of inputs) assert.equal(releasable(b), false);
    const expected = sha(Buffer.concat(inputs));
    const before = releasedBytes();
    for (const b of inputs) writeOwned(writer, b);
    writer.end();
    assert.equal(sha(await received), expected);
    assert.equal(releasedBytes(), before);
    assert.equal(detached(big), false);
    assert.equal(detached(pooled), false);
    assert.equal(detached(small), false);
  });

  test('a write that fails keeps its buffer (only a write the kernel took frees one)', async () => {
    const { writer } = await pair(server);
    writer.on('error', () => {});
    writer.destroy();
    const b = cipherOutput(64 * 1024);
    const copy = Buffer.from(b);
    const before = releasedBytes();
    writeOwned(writer, b);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(detached(b), false);
    assert.deepEqual(b, copy);
    assert.equal(releasedBytes(), before);
  });

  test('turned off, nothing is released', async () => {
    setReleaseAfterWrite(false);
    try {
      const { writer, received } = await pair(server);
      const b = cipherOutput(64 * 1024);
      const expected = sha(b);
      writeOwned(writer, b);
      writer.end();
      assert.equal(sha(await received), expected);
      assert.equal(detached(b), false);
    } finally {
      setReleaseAfterWrite(true);
    }
  });
});
