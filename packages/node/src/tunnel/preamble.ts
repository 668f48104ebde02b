/**
 * The first bytes of a raw TCP connection to a tunnel port (a host's data port or a relay's
 * rendezvous): magic, protocol version, then what the port needs to bind the socket. Read with a
 * size and a time bound; anything else closes the socket with a logged reason.
 */
import type { Socket } from 'node:net';
import { DATA_PREAMBLE_BYTES, MAX_DATA_LABEL_BYTES, TUNNEL_VERSION } from './constants.ts';

/** How to read and judge one preamble. */
export interface PreambleOptions {
  /** Bytes to wait for before judging (magic, version and the rest). */
  bytes: number;
  magic: Uint8Array;
  timeoutMs: number;
  /** Refusal reason logged when the bytes do not arrive in time. */
  timeoutReason: string;
  /**
   * Judges the first `bytes` (and anything after them): a refusal reason, or what to do with the
   * socket once it is ours (called after the read ended, the socket's data listener removed).
   */
  inspect(all: Buffer): string | (() => void);
  /** Called once when the read ends, either way (frees the caller's pending slot). */
  onSettled(): void;
  /** Called with the reason before a refused socket is destroyed. */
  onRefused(reason: string): void;
}

/** Reads and judges the preamble of `socket`. */
export function readPreamble(socket: Socket, o: PreambleOptions): void {
  const chunks: Buffer[] = [];
  let have = 0;
  let settled = false;
  const settle = (reason?: string): boolean => {
    if (settled) return false;
    settled = true;
    o.onSettled();
    clearTimeout(timer);
    socket.off('data', onData);
    if (reason) {
      o.onRefused(reason);
      socket.destroy();
    }
    return true;
  };
  const timer = setTimeout(() => settle(o.timeoutReason), o.timeoutMs);
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    have += chunk.length;
    if (have < o.bytes) return;
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
    if (!all.subarray(0, o.magic.length).equals(o.magic) || all[o.magic.length] !== TUNNEL_VERSION) {
      settle('bad preamble');
      return;
    }
    const verdict = o.inspect(all);
    if (typeof verdict === 'string') {
      settle(verdict);
      return;
    }
    if (settle()) verdict();
  };
  socket.on('data', onData);
  socket.on('error', () => settle('socket error'));
}

/**
 * Checks the network label of a data-channel preamble (`all` holds at least DATA_PREAMBLE_BYTES +
 * `label.length` bytes): undefined when it is `label`, else the refusal reason naming the label it
 * carries (printable ASCII, bounded).
 */
export function dataLabelRefusal(all: Uint8Array, label: Uint8Array): string | undefined {
  const length = all[DATA_PREAMBLE_BYTES - 1]!;
  const theirs = all.subarray(
    DATA_PREAMBLE_BYTES,
    DATA_PREAMBLE_BYTES + Math.min(length, MAX_DATA_LABEL_BYTES),
  );
  if (length === label.length && Buffer.from(theirs).equals(label)) return undefined;
  const ours = label.length > 0 ? `"${printable(label)}"` : 'the public network';
  return `network label "${printable(theirs)}" is not this port's (${ours})`;
}

function printable(bytes: Uint8Array): string {
  return Buffer.from(bytes)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '?');
}
