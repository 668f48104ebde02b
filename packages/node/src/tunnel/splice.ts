/** Joins two byte streams both ways with backpressure and half-close; any error tears both down. */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

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
  a.pipe(b);
  b.pipe(a);
}
