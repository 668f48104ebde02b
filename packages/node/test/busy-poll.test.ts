/**
 * Adaptive busy polling (busy-poll.ts): a source whose last small read was followed quickly polls
 * after its next one, a source followed slowly (or never seen followed) does not, bulk reads never
 * poll, polling always stops by itself, windows that keep running out without a read back it off
 * (a contended CPU) while windows that reads come into keep it on, a relay's splice and a channel met
 * at a relay never start it, and a real socket's reads through the shared read buffer drive it.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import {
  busyPolling,
  busyPollScore,
  busyPollSuspended,
  busyPollWindow,
  currentBusyPollWindow,
  noteRead,
  readSource,
  setBusyPollWindow,
} from '../src/tunnel/busy-poll.ts';
import {
  BUSY_POLL_BACKOFF_MIN_MS,
  BUSY_POLL_MAX_READ_BYTES,
  BUSY_POLL_WINDOW_LIMIT_US,
  BUSY_POLL_WINDOW_US,
} from '../src/tunnel/constants.ts';
import { readInto } from '../src/tunnel/read-buffer.ts';
import { waitFor } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the current polling window to end, checking every turn of the loop (bounded). */
async function windowEnd(): Promise<void> {
  for (let i = 0; busyPolling() && i < 1_000_000; i++) await new Promise((r) => setImmediate(r));
  assert.equal(busyPolling(), false, 'the window ended');
}

/** Lets any poll end, then pauses longer than the default window (the next read starts afresh). */
async function settle(): Promise<void> {
  assert.ok(await waitFor(() => !busyPolling(), 2_000), 'polling stops once its window passed');
  await sleep(15);
}

async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** 20 one-byte round trips on a socket read through readInto; whether polling was seen between them. */
async function pingPong(busyPoll: boolean | undefined): Promise<boolean> {
  const { server, port } = await echoServer();
  const client = await dial(port);
  try {
    let got = 0;
    let wake: (() => void) | undefined;
    readInto(
      client,
      (chunk) => {
        got += chunk.length;
        wake?.();
        return true;
      },
      busyPoll === undefined ? {} : { busyPoll },
    );
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
    return sawPolling;
  } finally {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

describe('busy polling', () => {
  afterEach(async () => {
    setBusyPollWindow(BUSY_POLL_WINDOW_US);
    await settle();
  });

  test('the default window is on, and out-of-range settings are refused', () => {
    assert.equal(busyPollWindow(), BUSY_POLL_WINDOW_US);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, BUSY_POLL_WINDOW_LIMIT_US + 1]) {
      assert.throws(() => setBusyPollWindow(bad), RangeError, String(bad));
    }
    assert.equal(busyPollWindow(), BUSY_POLL_WINDOW_US, 'a refused setting changes nothing');
  });

  test('a source followed quickly polls after its next read; polling then ends by itself', async () => {
    await settle();
    const a = readSource();
    const b = readSource();
    noteRead(1, a);
    assert.equal(currentBusyPollWindow(), 0, 'a source never seen followed does not poll');
    assert.equal(busyPolling(), false);
    noteRead(1, b); // follows a at once
    assert.equal(busyPolling(), false, 'b was never seen followed either');
    noteRead(1, a); // follows b at once
    assert.ok(a.followedAfterUs < BUSY_POLL_WINDOW_US && b.followedAfterUs < BUSY_POLL_WINDOW_US);
    assert.equal(currentBusyPollWindow(), BUSY_POLL_WINDOW_US, 'a was followed quickly: it polls');
    assert.equal(busyPolling(), true);
    assert.ok(await waitFor(() => !busyPolling(), 2_000), 'the poll loop stops after its window');
  });

  test('a source followed after a pause longer than the window does not poll', async () => {
    await settle();
    const slow = readSource();
    const next = readSource();
    noteRead(1, slow);
    await sleep(15);
    noteRead(1, next);
    assert.ok(slow.followedAfterUs > BUSY_POLL_WINDOW_US);
    noteRead(1, slow);
    assert.equal(currentBusyPollWindow(), 0);
    assert.equal(busyPolling(), false);
  });

  test('bulk reads neither poll nor count as a quick follow-up', async () => {
    await settle();
    const a = readSource();
    noteRead(1, a);
    for (let i = 0; i < 10; i++) noteRead(BUSY_POLL_MAX_READ_BYTES + 1, a);
    assert.equal(a.followedAfterUs, Number.POSITIVE_INFINITY, 'a bulk read is no follow-up');
    assert.equal(currentBusyPollWindow(), 0);
    assert.equal(busyPolling(), false);
  });

  test('a window of 0 turns polling off, also in the middle of a window', async () => {
    const a = readSource();
    noteRead(1, a);
    noteRead(1, a);
    assert.equal(busyPolling(), true);
    setBusyPollWindow(0);
    assert.equal(currentBusyPollWindow(), 0);
    assert.ok(await waitFor(() => !busyPolling(), 2_000));
    for (let i = 0; i < 10; i++) noteRead(1, a);
    assert.equal(currentBusyPollWindow(), 0);
    assert.equal(busyPolling(), false);
  });

  test('windows that keep running out without a read back polling off, then it tries again', async () => {
    await settle();
    // Two sources taking turns, each last seen followed at once (the answer is due right away), whose
    // answer never comes while the window polls: what a CPU taken by other processes looks like.
    const sources = [readSource(), readSource()];
    const before = busyPollScore();
    let windows = 0;
    let suspendedPolled: boolean | undefined;
    for (; windows < 20 && suspendedPolled === undefined; windows++) {
      const a = sources[windows % 2]!;
      a.followedAfterUs = 0;
      noteRead(1, a);
      assert.equal(busyPolling(), true, `window ${windows + 1} polls`);
      await windowEnd();
      if (busyPollSuspended()) {
        // Backing off: the next read, due as quickly, starts no window (checked in the same turn).
        const b = sources[(windows + 1) % 2]!;
        b.followedAfterUs = 0;
        noteRead(1, b);
        suspendedPolled = busyPolling() || currentBusyPollWindow() !== 0;
      }
    }
    assert.equal(suspendedPolled, false, 'polling backed off, and no read starts a window meanwhile');
    assert.ok(windows >= 3, `backed off only after several windows ran out in vain (${windows})`);
    const after = busyPollScore();
    assert.ok(after.backoffs > before.backoffs);
    assert.ok(after.expired - before.expired >= windows);
    // The back-off passes: polling tries again.
    assert.ok(await waitFor(() => !busyPollSuspended(), 20 * BUSY_POLL_BACKOFF_MIN_MS));
    const c = sources[(windows + 1) % 2]!;
    c.followedAfterUs = 0;
    noteRead(1, c);
    assert.equal(busyPolling(), true, 'polling tries again after the back-off');
  });

  test('windows that reads come into keep polling on', async () => {
    // A wide window, so a slow CI machine's gaps between the round trips still count as quick.
    setBusyPollWindow(BUSY_POLL_WINDOW_LIMIT_US);
    await settle();
    const before = busyPollScore();
    for (let i = 0; i < 5; i++) assert.equal(await pingPong(undefined), true, `exchange ${i + 1} polled`);
    const after = busyPollScore();
    assert.equal(after.backoffs, before.backoffs, 'no back-off');
    assert.equal(busyPollSuspended(), false);
    assert.ok(after.payoff >= 0.5, `payoff ${after.payoff}`);
  });

  test("a socket's small reads through the shared read buffer poll; a relay's splice does not", async () => {
    // A wide window, so a slow CI machine's gaps between the round trips still count as quick.
    setBusyPollWindow(BUSY_POLL_WINDOW_LIMIT_US);
    await settle();
    assert.equal(await pingPong(undefined), true, 'the round trips polled');
    await settle();
    assert.equal(await pingPong(false), false, 'busyPoll: false never polls');
  });
});
