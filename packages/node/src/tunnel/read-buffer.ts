/**
 * Socket reads into one reusable buffer instead of a fresh allocation per read.
 *
 * By default every read of a socket allocates a new buffer of up to 64 KiB outside the JS heap; on
 * the data path that allocation, its page faults and its garbage collection cost as much as the
 * cipher. Node's public `onread` option reads into a caller's buffer, but only for sockets it
 * creates (`new Socket`, `connect`), not for accepted ones, which are half of a tunnel's sockets.
 * `readInto` gives both kinds the same mode: it sets the two fields `onread` sets (found by their
 * symbol names) and points the handle at the shared buffer (`useUserBuffer`, the call `onread`
 * makes). Where this Node lacks them, reads fall back to 'data' events; `userBufferReads` tells
 * which mode is on, and a test keeps the pinned runtime on the fast one.
 *
 * One buffer serves every socket of the process: JS runs one callback at a time and each callback
 * consumes its bytes before it returns (ciphers copy them into new buffers), so no read can
 * overwrite bytes someone still holds. A callback must never keep the view it gets.
 */
import type { Socket } from 'node:net';
import { noteRead, readSource } from './busy-poll.ts';
import { READ_BUFFER_BYTES } from './constants.ts';

/** Receives each read; returns false to stop reading until `socket.resume()`. */
export type ReadHandler = (chunk: Buffer) => boolean;

interface UserBufferHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

let shared: Buffer | undefined;
let symbols: { buffer: symbol; callback: symbol } | null | undefined;

function findSymbols(socket: Socket): { buffer: symbol; callback: symbol } | null {
  if (symbols !== undefined) return symbols;
  const own = Object.getOwnPropertySymbols(socket);
  const buffer = own.find((s) => s.description === 'kBuffer');
  const callback = own.find((s) => s.description === 'kBufferCb');
  symbols = buffer && callback ? { buffer, callback } : null;
  return symbols;
}

/** Whether this runtime can read sockets into the shared buffer (else reads allocate). */
export function userBufferReads(socket: Socket): boolean {
  const handle = (socket as unknown as { _handle?: UserBufferHandle })._handle;
  return findSymbols(socket) !== null && typeof handle?.useUserBuffer === 'function';
}

/** Options of {@link readInto}. */
export interface ReadIntoOptions {
  /**
   * Whether small reads may start busy polling (busy-poll.ts); default true. A relay's splice says
   * false: it serves many tunnels, and its polling would compete for the CPU with the ends'.
   */
  busyPoll?: boolean;
}

/**
 * Delivers every byte `socket` receives from now on to `onRead`, in order, starting with what its
 * stream already buffered. Returns whether the shared buffer is in use.
 */
export function readInto(socket: Socket, onRead: ReadHandler, options: ReadIntoOptions = {}): boolean {
  const handle = (socket as unknown as { _handle?: UserBufferHandle })._handle;
  const names = findSymbols(socket);
  if (!names || typeof handle?.useUserBuffer !== 'function' || socket.destroyed) {
    socket.on('data', (chunk: Buffer) => {
      if (!onRead(chunk)) socket.pause();
    });
    if (socket.isPaused()) socket.resume();
    return false;
  }
  // Bytes the stream read before the switch come first.
  socket.pause();
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
    onRead(chunk);
  }
  shared ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const slots = socket as unknown as Record<symbol, unknown>;
  slots[names.buffer] = shared;
  const source = options.busyPoll === false ? undefined : readSource();
  slots[names.callback] = (n: number, buffer: Buffer) => {
    if (source !== undefined) noteRead(n, source);
    const more = onRead(buffer.subarray(0, n));
    // Paused like the fallback (the runtime stops reading on false; `resume()` restarts it).
    if (!more && !socket.destroyed) socket.pause();
    return more;
  };
  handle.useUserBuffer(shared);
  socket.resume();
  return true;
}

/**
 * For a reader stopped by a full `target` (its read handler returned false): returns `wait()`, which
 * resumes `source` when `target` next drains; calls before that drain add no second listener.
 */
export function resumeOnDrain(source: Socket, target: Socket): () => void {
  let waiting = false;
  const onDrain = () => {
    waiting = false;
    if (!source.destroyed) source.resume();
  };
  return () => {
    if (waiting) return;
    waiting = true;
    target.once('drain', onDrain);
  };
}
