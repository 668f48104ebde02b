/**
 * Adaptive busy polling for interactive tunnel traffic.
 *
 * On a virtual machine most of a small message's trip through a forwarder is not work but waking up:
 * a process that waits in the kernel lets its virtual CPU halt, and the next packet has to bring that
 * CPU back (an interrupt to the hypervisor, which reschedules it) before a single instruction runs.
 * Every hop of a tunnel pays that twice per round trip. The same idea KVM applies below us
 * (halt-polling) applies here: after a small read, the event loop keeps polling without sleeping for
 * a short window, so an answer that comes within it is handled at once.
 *
 * The window adapts, as KVM's does. A small read that came soon after the previous one (within the
 * longest window) shows that polling would have caught it: the window grows to cover that gap. A read
 * after a longer pause shrinks it (halves it, down to nothing), so traffic that is not an exchange of
 * quick messages (a keystroke now and then, a bulk transfer, silence) costs no polling at all. Bulk
 * reads never start it. The cost is CPU: at most the window after each small read while an exchange
 * runs (see docs/tunnel.md for the measured trade); `setBusyPollWindow(0)` turns it off.
 */
import { performance } from 'node:perf_hooks';
import {
  BUSY_POLL_MAX_READ_BYTES,
  BUSY_POLL_START_US,
  BUSY_POLL_WINDOW_LIMIT_US,
  BUSY_POLL_WINDOW_US,
} from './constants.ts';

let maxWindowUs = BUSY_POLL_WINDOW_US;
/** The current window (µs); 0 = this process does not poll now. */
let windowUs = 0;
/** When the last small read came (ms, performance.now()). */
let lastRead = Number.NEGATIVE_INFINITY;
/** Poll until then (ms). */
let until = 0;
let polling = false;

/** Sets the longest polling window in µs; 0 turns polling off. Applies to the whole process. */
export function setBusyPollWindow(us: number): void {
  if (!Number.isInteger(us) || us < 0 || us > BUSY_POLL_WINDOW_LIMIT_US) {
    throw new RangeError(
      `the busy-poll window must be a whole number of µs from 0 to ${BUSY_POLL_WINDOW_LIMIT_US}, got ${us}`,
    );
  }
  maxWindowUs = us;
  windowUs = Math.min(windowUs, us);
  if (us === 0) until = 0;
}

/** The longest polling window in µs (0 = off). */
export function busyPollWindow(): number {
  return maxWindowUs;
}

/** The window the next small read would poll for now, in µs (for tests and status). */
export function currentBusyPollWindow(): number {
  return windowUs;
}

/** Whether the event loop is polling right now. */
export function busyPolling(): boolean {
  return polling;
}

/** Tells the poller a data-path socket read `bytes`. */
export function noteRead(bytes: number): void {
  if (maxWindowUs === 0 || bytes > BUSY_POLL_MAX_READ_BYTES) return;
  const now = performance.now();
  const gapUs = (now - lastRead) * 1000;
  lastRead = now;
  if (gapUs <= maxWindowUs) {
    // Polling for this gap would have caught this read: cover it (with room), up to the longest window.
    windowUs = Math.min(maxWindowUs, Math.max(windowUs, gapUs * 1.5, BUSY_POLL_START_US));
  } else {
    windowUs = windowUs < 2 ? 0 : windowUs / 2;
  }
  if (windowUs === 0) return;
  until = now + windowUs / 1000;
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
