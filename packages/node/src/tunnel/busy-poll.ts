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
 */
import { performance } from 'node:perf_hooks';
import { BUSY_POLL_MAX_READ_BYTES, BUSY_POLL_WINDOW_LIMIT_US, BUSY_POLL_WINDOW_US } from './constants.ts';

let maxWindowUs = BUSY_POLL_WINDOW_US;
/** The window the last small read started, µs (0 = none). */
let windowUs = 0;
/** The source of the last small read, and when it came (ms, performance.now()). */
let last: ReadSource | undefined;
let lastRead = 0;
/** Poll until then (ms). */
let until = 0;
let polling = false;

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
  windowUs = expected <= maxWindowUs ? maxWindowUs : 0;
  if (windowUs === 0) return;
  until = Math.max(until, now + windowUs / 1000);
  if (!polling) {
    polling = true;
    setImmediate(poll);
  }
}

/** One turn of the loop without sleeping: libuv polls with a zero timeout while an immediate waits. */
function poll(): void {
  if (performance.now() < until) setImmediate(poll);
  else polling = false;
}
