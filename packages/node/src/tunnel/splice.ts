/** Joins two byte streams both ways with backpressure and half-close; any error tears both down. */
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readInto, resumeOnDrain } from './read-buffer.ts';
import { SecureChannel } from './secure-channel.ts';

/**
 * `from.pipe(to)`, except between a data channel and a TCP socket: the socket's reads are sealed
 * straight into records (SecureChannel.pumpFrom) and opened records are written straight to the socket
 * (SecureChannel.pumpTo): no buffer per read, no stream hop per record. Between two TCP sockets (a
 * relay's rendezvous) see {@link pumpSockets}.
 */
export function pipeInto(from: Duplex, to: Duplex): void {
  if (to instanceof SecureChannel && from instanceof Socket) to.pumpFrom(from);
  else if (from instanceof SecureChannel && to instanceof Socket) from.pumpTo(to);
  else if (from instanceof Socket && to instanceof Socket) pumpSockets(from, to);
  else from.pipe(to);
}

/**
 * `from.pipe(to)` for two TCP sockets without a buffer per read: `from` is read into the process's
 * shared read buffer and each read is written to `to`'s descriptor at once, as far as the kernel takes
 * it. Only what the kernel does not take right away is copied, and written through the stream in
 * order (then `from` waits for `to` to drain); while anything is queued on `to`, every read takes that
 * path. Where `to` has no descriptor, plain `pipe`.
 */
export function pumpSockets(from: Socket, to: Socket): void {
  const fd = (to as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    from.pipe(to);
    return;
  }
  const waitForDrain = resumeOnDrain(from, to);
  readInto(
    from,
    (chunk) => {
      if (to.destroyed || to.writableEnded) return false;
      let written = 0;
      if (to.writableLength === 0 && !to.writableCorked && !to.connecting) {
        try {
          written = writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
            to.destroy(err as Error);
            return false;
          }
        }
      }
      if (written === chunk.length) return true;
      // The chunk is a view of the shared read buffer: what waits must be a copy.
      const ok = to.write(Buffer.from(chunk.subarray(written)));
      if (!ok) waitForDrain();
      return ok;
    },
    { busyPoll: false },
  );
  from.once('end', () => to.end());
}

/** Ends `s` abruptly: a TCP socket gets a reset, so its peer cannot mistake a cut for a clean end. */
function abort(s: Duplex): void {
  if (s instanceof Socket && !s.destroyed && s.readyState !== 'closed') s.resetAndDestroy();
  else s.destroy();
}

/** Pipes `a` ⇄ `b`; `onDone` fires once, after both are closed, with the first error if any. */
export function splice(a: Duplex, b: Duplex, onDone: (error?: Error) => void): void {
  let firstError: Error | undefined;
  let closed = 0;
  const fail = (err: Error) => {
    firstError ??= err;
    abort(a);
    abort(b);
  };
  const onClose = () => {
    closed++;
    if (closed === 2) onDone(firstError);
    // One side gone for good: the other cannot complete its half either.
    else if (!(a.destroyed && b.destroyed)) {
      const other = a.destroyed ? b : a;
      const gone = a.destroyed ? a : b;
      if (!(gone.readableEnded && gone.writableFinished)) abort(other);
    }
  };
  a.on('error', fail);
  b.on('error', fail);
  a.on('close', onClose);
  b.on('close', onClose);
  pipeInto(a, b);
  pipeInto(b, a);
}
