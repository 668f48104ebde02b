/**
 * Record buffers freed while they are young.
 *
 * node:crypto has no `update` into a caller's buffer, so every bulk record allocates its ciphertext
 * (sealing) or plaintext (opening) outside the JS heap; the buffer is dead as soon as the socket took
 * it. V8 frees such memory when it collects the small JS object that owns it. A young object goes in
 * a scavenge, which is cheap (it only visits what survives), but scavenges run when the young
 * generation fills, and the data path allocates almost nothing else on the heap (reads land in one
 * shared buffer, records go straight from socket to socket). So the dead buffers pile up until V8's
 * external-memory limit starts a mark-compact of the whole heap — in a node process, 15–35 ms each,
 * 2–3 per 500 ms of a transfer (`--trace-gc`, docs/tunnel.md).
 *
 * When enabled, the data path counts the bytes its ciphers allocate and asks V8 for a scavenge after
 * every YOUNG_GC_EVERY_BYTES: the dead buffers die young, and the mark-compacts are gone. The
 * collector function is V8's `gc` (the `--expose-gc` extension), taken from a fresh context so the
 * process's global object does not get one.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { YOUNG_GC_EVERY_BYTES } from './constants.ts';

type GcFunction = (options: { type: 'minor' | 'major' }) => void;

let collect: GcFunction | undefined;
let since = 0;
let collections = 0;
let scheduled = false;

/**
 * Turns on young collection for this process; returns whether the runtime allows it (idempotent).
 * A DIBS node (startNetwork) turns it on.
 */
export function enableYoungCollection(): boolean {
  if (collect) return true;
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') {
    collect = own as GcFunction;
    return true;
  }
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') collect = gc as GcFunction;
  } catch {
    // This runtime has no gc extension: buffers are freed by V8's own schedule.
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collect !== undefined;
}

/** Turns young collection off again (V8's own schedule only). */
export function disableYoungCollection(): void {
  collect = undefined;
  since = 0;
}

/** Scavenges requested so far by the data path (for tests and diagnostics). */
export function youngCollections(): number {
  return collections;
}

/** The data path allocated `bytes` of record buffers that die once written. */
export function noteRecordBytes(bytes: number): void {
  if (collect === undefined) return;
  since += bytes;
  if (since < YOUNG_GC_EVERY_BYTES || scheduled) return;
  since = 0;
  // Not right here: in the middle of a read's records their buffers are still alive and would
  // survive (and be promoted). After this turn of I/O they have been handed to the kernel.
  scheduled = true;
  setImmediate(scavenge);
}

function scavenge(): void {
  scheduled = false;
  if (collect === undefined) return;
  collections++;
  collect({ type: 'minor' });
}
