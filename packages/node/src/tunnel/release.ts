/**
 * Record buffers freed the moment the kernel took them.
 *
 * node:crypto has no `update` into a caller's buffer, so every bulk record allocates its ciphertext
 * (sealing) or plaintext (opening) outside the JS heap, and that memory is dead as soon as the socket
 * wrote it. Left to the garbage collector it is freed only when V8 collects the small JS object that
 * owns it, and the data path allocates almost nothing else on the heap (reads land in one shared
 * buffer, records go straight from socket to socket): scavenges are rare, the dead buffers pile up
 * (or are promoted while a write is in flight) and V8's external-memory limit starts a mark-compact
 * of the node's whole heap — with concurrent marking and sweeping, a fifth of a `connect` process's
 * CPU in bench/tunnel. Asking V8 for extra scavenges did not help: one asked for while incremental
 * marking runs is turned into that mark-compact.
 *
 * So the data path frees a buffer it owns itself, once the socket's write callback says the kernel
 * has it: the buffer's ArrayBuffer is detached (`transfer(0)`), which releases the backing store at
 * once and takes it off V8's external-memory count. Only buffers that are the whole of their own
 * ArrayBuffer (cipher output; never a view into a pool or the shared read buffer) and big enough
 * to matter are released, and only after a write that succeeded: a failed or cancelled write keeps
 * its buffer for the collector.
 */
import type { Socket } from 'node:net';
import { RELEASE_MIN_BYTES } from './constants.ts';

let released = 0;
let enabled = true;

/** Turns releasing on or off for this process (on by default; bench/tunnel measures both). */
export function setReleaseAfterWrite(on: boolean): void {
  enabled = on;
}

/** Bytes released so far by this process's data path (for tests and diagnostics). */
export function releasedBytes(): number {
  return released;
}

/** Whether `buffer` owns its whole ArrayBuffer and is worth releasing after its write. */
export function releasable(buffer: Buffer): boolean {
  return (
    buffer.length >= RELEASE_MIN_BYTES &&
    buffer.byteOffset === 0 &&
    buffer.byteLength === buffer.buffer.byteLength &&
    buffer.buffer instanceof ArrayBuffer &&
    !buffer.buffer.detached
  );
}

/**
 * `socket.write(buffer)` for a buffer nobody else holds (a record's cipher output): once written, its
 * memory is freed without waiting for a garbage collection. The caller must not touch `buffer` after.
 */
export function writeOwned(socket: Socket, buffer: Buffer): boolean {
  if (!enabled || !releasable(buffer)) return socket.write(buffer);
  return socket.write(buffer, (err) => {
    if (err) return;
    const bytes = buffer.byteLength;
    try {
      (buffer.buffer as ArrayBuffer).transfer(0);
      released += bytes;
    } catch {
      // Not detachable after all (a runtime's own buffer): the collector frees it.
    }
  });
}
