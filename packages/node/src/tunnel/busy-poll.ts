/**
 * Adaptive busy polling for interactive tunnel traffic.
 *
 * On a virtual machine most of a small message's trip through a forwarder is not work but waking up:
 * a process that waits in the kernel lets its virtual CPU halt, and the next packet has to bring that
 * CPU back (an interrupt to the hypervisor, which reschedules it) before a single instruction runs.
 * Every hop of a tunnel pays that twice per round trip. The idea KVM applies below us (halt-polling)
 * applies here: after a small read, the event loop keeps polling without sleeping for a short window,
 * so an answer that comes within it is handled at once.
 *
 * Whether to poll after a read is predicted from the same source's last read: how long after it the
 * process's next small read came. A forwarder's reads alternate between its sockets (a request from
 * the application, then the answer from the far side, then the next request), and each socket has
 * its own rhythm: the answer behind a request may come quickly through one hop and slowly through a
 * relay, while the next request follows an answer at the application's pace. A source whose last
 * read was followed within the window polls for the whole window (delays on a shared machine vary
 * too much to cut it closer); one followed later, or never seen followed, does not. So a quick
 * exchange polls where it pays, a slow leg of it never burns the window, and a keystroke now and then, a bulk
 * transfer (its reads are large) or silence costs nothing. The cost is CPU while a quick exchange
 * runs (see docs/tunnel.md for the measured trade); `setBusyPollWindow(0)` turns it off.
 *
 * Polling only pays while the answer can come: on a machine whose cores are all busy, a spinning
 * process keeps the CPU from the very processes (the application, the service, the other forwarder)
 * whose answer it waits for, and each window runs out in vain — in bench/tunnel, with one of two cores
 * taken by another job, the round trip went from 51 µs without polling to 806 µs with it. So the
 * poller keeps score: a window that a read came into paid, one that ran out did not. When fewer than
 * BUSY_POLL_MIN_PAYOFF of the recent windows paid, polling stops for a back-off (doubling from
 * BUSY_POLL_BACKOFF_MIN_MS to BUSY_POLL_BACKOFF_MAX_MS while it keeps failing) and then tries again.
 */
import { performance } from 'node:perf_hooks';
import {
  BUSY_POLL_BACKOFF_MAX_MS,
  BUSY_POLL_BACKOFF_MIN_MS,
  BUSY_POLL_MAX_READ_BYTES,
  BUSY_POLL_MIN_PAYOFF,
  BUSY_POLL_PAYOFF_WEIGHT,
  BUSY_POLL_WINDOW_LIMIT_US,
  BUSY_POLL_WINDOW_US,
} from './constants.ts';

let maxWindowUs = BUSY_POLL_WINDOW_US;
/** The window the last small read started, µs (0 = none). */
let windowUs = 0;
/** The source of the last small read, and when it came (ms, performance.now()). */
let last: ReadSource | undefined;
let lastRead = 0;
/** Poll until then (ms). */
let until = 0;
let polling = false;
/** Whether a read came in while the current window was polling. */
let paid = false;
/** Share of recent windows a read came into (moving average, 1 = all). */
let payoff = 1;
/** No polling before then (ms, performance.now()): backing off after windows that ran out in vain. */
let suspendedUntil = 0;
let backoffMs = BUSY_POLL_BACKOFF_MIN_MS;
/** Windows started, those that ran out without a read, and back-offs started (for tests and diagnostics). */
const score = { windows: 0, expired: 0, backoffs: 0 };

/** What the poller remembers of one reading socket. */
export interface ReadSource {
  /** How long after this source's last small read the process's next one came, µs (∞: unknown). */
  followedAfterUs: number;
}

/** A new source (one per socket whose reads report here). */
export function readSource(): ReadSource {
  return { followedAfterUs: Number.POSITIVE_INFINITY };
}

/** Sets the longest polling window in µs; 0 turns polling off. Applies to the whole process. */
export function setBusyPollWindow(us: number): void {
  if (!Number.isInteger(us) || us < 0 || us > BUSY_POLL_WINDOW_LIMIT_US) {
    throw new RangeError(
      `the busy-poll window must be a whole number of µs from 0 to ${BUSY_POLL_WINDOW_LIMIT_US}, got ${us}`,
    );
  }
  maxWindowUs = us;
  if (us === 0) {
    until = 0;
    windowUs = 0;
    last = undefined;
  }
  // A new setting starts with a clean score.
  payoff = 1;
  suspendedUntil = 0;
  backoffMs = BUSY_POLL_BACKOFF_MIN_MS;
}

/** Windows started, windows that ran out without a read, and back-offs so far in this process. */
export function busyPollScore(): { windows: number; expired: number; backoffs: number; payoff: number } {
  return { ...score, payoff };
}

/** Whether polling is backing off now (recent windows ran out in vain: the CPU is contended). */
export function busyPollSuspended(): boolean {
  return performance.now() < suspendedUntil;
}

/** The longest polling window in µs (0 = off). */
export function busyPollWindow(): number {
  return maxWindowUs;
}

/** The window the last small read started, in µs; 0 when it started none (for tests and status). */
export function currentBusyPollWindow(): number {
  return windowUs;
}

/** Whether the event loop is polling right now. */
export function busyPolling(): boolean {
  return polling;
}

/** Tells the poller that a data-path socket (`source`) read `bytes`. */
export function noteRead(bytes: number, source: ReadSource): void {
  if (maxWindowUs === 0) return;
  // Any read while a window polls means the window paid.
  if (polling) paid = true;
  if (bytes > BUSY_POLL_MAX_READ_BYTES) {
    // Bulk data: no exchange to predict; the next small read starts afresh.
    last = undefined;
    return;
  }
  const now = performance.now();
  if (last !== undefined) last.followedAfterUs = (now - lastRead) * 1000;
  last = source;
  lastRead = now;
  const expected = source.followedAfterUs;
  windowUs = expected <= maxWindowUs && now >= suspendedUntil ? maxWindowUs : 0;
  if (windowUs === 0) return;
  until = Math.max(until, now + windowUs / 1000);
  if (!polling) {
    polling = true;
    paid = false;
    score.windows++;
    setImmediate(poll);
  }
}

/** A window ended: it paid if a read came in while it polled; too many that did not start a back-off. */
function windowEnded(now: number): void {
  payoff += BUSY_POLL_PAYOFF_WEIGHT * ((paid ? 1 : 0) - payoff);
  if (paid) {
    backoffMs = BUSY_POLL_BACKOFF_MIN_MS;
    return;
  }
  score.expired++;
  if (payoff >= BUSY_POLL_MIN_PAYOFF) return;
  score.backoffs++;
  suspendedUntil = now + backoffMs;
  backoffMs = Math.min(2 * backoffMs, BUSY_POLL_BACKOFF_MAX_MS);
  // After the back-off, a few windows of grace; if they run out in vain too, it backs off again, longer.
  payoff = (1 + BUSY_POLL_MIN_PAYOFF) / 2;
}

/** One turn of the loop without sleeping: libuv polls with a zero timeout while an immediate waits. */
function poll(): void {
  const now = performance.now();
  if (now < until) {
    setImmediate(poll);
    return;
  }
  polling = false;
  windowEnded(now);
}
