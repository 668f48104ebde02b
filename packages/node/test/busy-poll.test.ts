/**
 * Adaptive busy polling (busy-poll.ts): quick small reads open a polling window, long pauses close it,
 * bulk reads never touch it, polling always stops by itself, and a real socket's reads through the
 * shared read buffer drive it.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import {
  busyPolling,
  busyPollWindow,
  currentBusyPollWindow,
  noteRead,
  setBusyPollWindow,
} from '../src/tunnel/busy-poll.ts';
import {
  BUSY_POLL_MAX_READ_BYTES,
  BUSY_POLL_START_US,
  BUSY_POLL_WINDOW_LIMIT_US,
  BUSY_POLL_WINDOW_US,
} from '../src/tunnel/constants.ts';
import { readInto } from '../src/tunnel/read-buffer.ts';
import { waitFor } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Closes the window: small reads after pauses longer than any window, until it is gone. */
async function closeWindow(): Promise<void> {
  for (let i = 0; i < 40 && currentBusyPollWindow() > 0; i++) {
    await sleep(15);
    noteRead(1);
  }
  assert.equal(currentBusyPollWindow(), 0);
  assert.ok(await waitFor(() => !busyPolling(), 2_000), 'polling stops once its window passed');
  // The next read comes after a pause longer than the default window.
  await sleep(15);
}

describe('busy polling', () => {
  afterEach(async () => {
    setBusyPollWindow(BUSY_POLL_WINDOW_US);
    await closeWindow();
  });

  test('the default window is on, and out-of-range settings are refused', () => {
    assert.equal(busyPollWindow(), BUSY_POLL_WINDOW_US);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, BUSY_POLL_WINDOW_LIMIT_US + 1]) {
      assert.throws(() => setBusyPollWindow(bad), RangeError, String(bad));
    }
    assert.equal(busyPollWindow(), BUSY_POLL_WINDOW_US, 'a refused setting changes nothing');
  });

  test('two quick small reads open a window; polling then ends by itself', async () => {
    await closeWindow();
    noteRead(1);
    assert.equal(currentBusyPollWindow(), 0, 'one read after a pause does not poll');
    assert.equal(busyPolling(), false);
    noteRead(1);
    assert.ok(currentBusyPollWindow() >= BUSY_POLL_START_US);
    assert.ok(currentBusyPollWindow() <= BUSY_POLL_WINDOW_US);
    assert.equal(busyPolling(), true);
    assert.ok(await waitFor(() => !busyPolling(), 2_000), 'the poll loop stops after its window');
  });

  test('pauses longer than the window halve it down to nothing', async () => {
    setBusyPollWindow(1_000);
    noteRead(1);
    noteRead(1);
    const open = currentBusyPollWindow();
    assert.ok(open > 0);
    await sleep(20);
    noteRead(1);
    assert.equal(currentBusyPollWindow(), open / 2);
    await closeWindow();
  });

  test('bulk reads neither open nor extend a window', async () => {
    await closeWindow();
    for (let i = 0; i < 10; i++) noteRead(BUSY_POLL_MAX_READ_BYTES + 1);
    assert.equal(currentBusyPollWindow(), 0);
    assert.equal(busyPolling(), false);
  });

  test('a window of 0 turns polling off, also in the middle of a window', async () => {
    noteRead(1);
    noteRead(1);
    assert.equal(busyPolling(), true);
    setBusyPollWindow(0);
    assert.equal(currentBusyPollWindow(), 0);
    assert.ok(await waitFor(() => !busyPolling(), 2_000));
    for (let i = 0; i < 10; i++) noteRead(1);
    assert.equal(currentBusyPollWindow(), 0);
    assert.equal(busyPolling(), false);
  });

  test("a socket's small reads through the shared read buffer open a window", async () => {
    await closeWindow();
    // A wide window, so a slow CI machine's gaps between the round trips still count as quick.
    setBusyPollWindow(BUSY_POLL_WINDOW_LIMIT_US);
    const server = createServer((s) => s.on('data', (d) => s.write(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const client = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(s));
      s.once('error', reject);
    });
    try {
      let got = 0;
      let wake: (() => void) | undefined;
      readInto(client, (chunk) => {
        got += chunk.length;
        wake?.();
        return true;
      });
      let sawPolling = false;
      for (let i = 1; i <= 20; i++) {
        const echoed = new Promise<void>((r) => {
          wake = r;
        });
        client.write(Buffer.of(i));
        await echoed;
        sawPolling ||= busyPolling();
      }
      assert.equal(got, 20);
      assert.ok(currentBusyPollWindow() > 0, 'the round trips opened a window');
      assert.ok(sawPolling, 'the event loop polled between round trips');
    } finally {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
