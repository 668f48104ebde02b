/** Joins two byte streams both ways with backpressure and half-close; any error tears both down. */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SecureChannel } from './secure-channel.ts';

/**
 * `from.pipe(to)`, except between a data channel and a TCP socket: the socket's reads are sealed
 * straight into records (SecureChannel.pumpFrom) and opened records are written straight to the socket
 * (SecureChannel.pumpTo): no buffer per read, no stream hop per record.
 */
export function pipeInto(from: Duplex, to: Duplex): void {
  if (to instanceof SecureChannel && from instanceof Socket) to.pumpFrom(from);
  else if (from instanceof SecureChannel && to instanceof Socket) from.pumpTo(to);
  else from.pipe(to);
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
