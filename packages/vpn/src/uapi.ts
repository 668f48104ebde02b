/**
 * wireguard-go's configuration protocol: plain text over `/var/run/wireguard/<if>.sock` — `set=1` with
 * key=value lines, or `get=1`, each ended by an empty line; the answer ends with `errno=N` and an
 * empty line (https://www.wireguard.com/xplatform/).
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { MAX_UAPI_RESPONSE_BYTES, UAPI_DIR, UAPI_TIMEOUT_MS } from './constants.ts';
import { VpnError } from './errors.ts';

/** One peer as `get=1` reports it. */
export interface UapiPeer {
  /** Hex. */
  publicKey: string;
  endpoint: string | undefined;
  rxBytes: number;
  txBytes: number;
  /** Unix seconds of the last handshake; 0 = none yet. */
  lastHandshakeSec: number;
  allowedIps: string[];
}

/** The device as `get=1` reports it. */
export interface UapiDevice {
  listenPort: number;
  peers: UapiPeer[];
}

/** The UAPI socket path of interface `name`. */
export function uapiPath(name: string, dir = UAPI_DIR): string {
  return join(dir, `${name}.sock`);
}

/** Sends one request and returns the answer's key=value lines (errno stripped); UAPI_FAILED otherwise. */
export function uapiRequest(path: string, request: string, timeoutMs = UAPI_TIMEOUT_MS): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    const fail = (err: VpnError) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new VpnError('UAPI_FAILED', `wireguard-go at ${path} did not answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.once('error', (err) =>
      fail(new VpnError('UAPI_FAILED', `cannot talk to wireguard-go at ${path}: ${err.message}`)),
    );
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_UAPI_RESPONSE_BYTES) {
        fail(
          new VpnError(
            'UAPI_FAILED',
            `wireguard-go at ${path} answered more than ${MAX_UAPI_RESPONSE_BYTES} bytes`,
          ),
        );
        return;
      }
      if (!text.endsWith('\n\n')) return;
      clearTimeout(timer);
      socket.end();
      const lines = text.split('\n').filter((l) => l !== '');
      const errnoLine = lines.pop() ?? '';
      const m = /^errno=(-?\d+)$/.exec(errnoLine);
      if (!m) {
        reject(
          new VpnError('UAPI_FAILED', `wireguard-go at ${path} gave no errno: ${errnoLine.slice(0, 80)}`),
        );
      } else if (m[1] !== '0') {
        reject(new VpnError('UAPI_FAILED', `wireguard-go at ${path} refused the request (errno ${m[1]})`));
      } else resolve(lines);
    });
    socket.write(request);
  });
}

/** Applies `set=1` lines (no newlines inside values). */
export async function uapiSet(path: string, lines: readonly string[]): Promise<void> {
  for (const l of lines) {
    if (!/^[a-z_]+=[^\n]*$/.test(l)) throw new VpnError('UAPI_FAILED', `bad UAPI line "${l.split('=')[0]}"`);
  }
  await uapiRequest(path, `set=1\n${lines.join('\n')}\n\n`);
}

/** Reads the device: listen port and every peer with counters. */
export async function uapiGet(path: string): Promise<UapiDevice> {
  return parseUapiGet(await uapiRequest(path, 'get=1\n\n'));
}

/** Parses the key=value lines of a `get=1` answer. */
export function parseUapiGet(lines: readonly string[]): UapiDevice {
  const device: UapiDevice = { listenPort: 0, peers: [] };
  let peer: UapiPeer | undefined;
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peer = {
        publicKey: value,
        endpoint: undefined,
        rxBytes: 0,
        txBytes: 0,
        lastHandshakeSec: 0,
        allowedIps: [],
      };
      device.peers.push(peer);
    } else if (!peer) {
      if (key === 'listen_port') device.listenPort = Number(value);
    } else if (key === 'endpoint') peer.endpoint = value;
    else if (key === 'rx_bytes') peer.rxBytes = Number(value);
    else if (key === 'tx_bytes') peer.txBytes = Number(value);
    else if (key === 'last_handshake_time_sec') peer.lastHandshakeSec = Number(value);
    else if (key === 'allowed_ip') peer.allowedIps.push(value);
  }
  return device;
}
