/**
 * Control messages on the tunnel's libp2p stream: a 2-byte big-endian length, then the CBOR message.
 * The reader takes exactly one frame out of the stream and pushes any bytes behind it back, so the
 * same stream can carry raw tunnel bytes afterwards (the stream channel) without losing any.
 */
import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { CONTROL_LENGTH_BYTES, MAX_CONTROL_MESSAGE_BYTES } from './constants.ts';
import { TunnelError } from './errors.ts';
import { decodeTunnelMessage, encodeTunnelMessage, type TunnelMessage } from './messages.ts';

/** Reads one control message within `timeoutMs`; on any failure the error says why (the caller resets). */
export function readControl(stream: Stream, timeoutMs: number, what: string): Promise<TunnelMessage> {
  return new Promise<TunnelMessage>((resolve, reject) => {
    const buffer = new Uint8ArrayList();
    let done = false;
    const finish = (err: Error | undefined, msg?: TunnelMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('close', onClose);
      stream.removeEventListener('remoteCloseWrite', onClose);
      if (err) reject(err);
      else resolve(msg!);
    };
    const onMessage = (event: { data: Uint8Array | Uint8ArrayList }) => {
      buffer.append(event.data);
      if (buffer.byteLength < CONTROL_LENGTH_BYTES) return;
      const length = buffer.getUint16(0);
      if (length > MAX_CONTROL_MESSAGE_BYTES) {
        finish(
          new TunnelError(
            'TOO_LARGE',
            `the ${what} announces ${length} bytes, over ${MAX_CONTROL_MESSAGE_BYTES}`,
          ),
        );
        return;
      }
      if (buffer.byteLength < CONTROL_LENGTH_BYTES + length) return;
      const body = buffer.subarray(CONTROL_LENGTH_BYTES, CONTROL_LENGTH_BYTES + length);
      const rest = buffer.sublist(CONTROL_LENGTH_BYTES + length);
      let msg: TunnelMessage;
      try {
        msg = decodeTunnelMessage(body);
      } catch (err) {
        finish(err as Error);
        return;
      }
      finish(undefined, msg);
      // Bytes behind the frame belong to whoever reads next (the next message or the tunnel itself).
      if (rest.byteLength > 0) stream.unshift(rest);
    };
    const onClose = () => {
      // Data may still sit in our buffer; only a stream that can deliver no more ends the read.
      if (
        stream.readStatus === 'closed' ||
        stream.status !== 'open' ||
        stream.remoteWriteStatus === 'closed'
      ) {
        finish(
          new TunnelError('STREAM_ENDED', `the stream ended before the ${what}; the peer closed it early`),
        );
      }
    };
    const timer = setTimeout(
      () =>
        finish(
          new TunnelError(
            'TIMEOUT',
            `no complete ${what} within ${timeoutMs} ms; the peer is too slow or stalled`,
          ),
        ),
      timeoutMs,
    );
    stream.addEventListener('message', onMessage);
    stream.addEventListener('close', onClose);
    stream.addEventListener('remoteCloseWrite', onClose);
    if (stream.status !== 'open' || stream.remoteWriteStatus === 'closed') queueMicrotask(onClose);
  });
}

/** Sends one control message, waiting for the stream to drain when its buffer is full. */
export async function writeControl(stream: Stream, msg: TunnelMessage, timeoutMs: number): Promise<void> {
  const body = encodeTunnelMessage(msg);
  const frame = new Uint8Array(CONTROL_LENGTH_BYTES + body.length);
  new DataView(frame.buffer).setUint16(0, body.length);
  frame.set(body, CONTROL_LENGTH_BYTES);
  if (!stream.send(frame)) await stream.onDrain({ signal: AbortSignal.timeout(timeoutMs) });
}
