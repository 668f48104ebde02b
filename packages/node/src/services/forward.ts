/**
 * A local TCP listener forwarding each accepted connection through its own tunnel to one service
 * (`dibs connect`). A failed tunnel closes only that local connection and is remembered as lastError.
 */
import { randomUUID } from 'node:crypto';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { P2pLogger } from '../p2p/log.ts';
import { relay } from '../socks/server.ts';
import { CHANNEL_HIGH_WATER_MARK } from '../tunnel/constants.ts';
import type { Tunnel } from '../tunnel/index.ts';
import { DEFAULT_LISTEN_HOST, MAX_LOCAL_CONNECTIONS } from './constants.ts';
import { ServiceError } from './errors.ts';
import type { ConnectionView } from './types.ts';

/** Parses a listen address (`host:port`, `:port` or `port`, host an IP or localhost); port 0 lets the OS pick. */
export function parseListen(text: string | undefined, fallbackPort = 0): { host: string; port: number } {
  if (text === undefined || text === '') return { host: DEFAULT_LISTEN_HOST, port: fallbackPort };
  const t = /^\d+$/.test(text) ? `:${text}` : text;
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(t) ?? /^([^:[\]]*):(\d{1,5})$/.exec(t);
  const host = m?.[1] === '' ? DEFAULT_LISTEN_HOST : m?.[1];
  const port = Number(m?.[2]);
  if (!m || !host || port > 65535 || (!isIP(host) && host !== 'localhost')) {
    throw new ServiceError(
      'BAD_LISTEN',
      `listen address "${text.slice(0, 80)}" is not ip:port`,
      'give e.g. 127.0.0.1:8080 (port 0 picks a free one)',
    );
  }
  return { host, port };
}

/** Starts listening on `addr`; resolves with the bound server. */
export async function listen(server: Server, addr: { host: string; port: number }): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new ServiceError(
          'LISTEN_FAILED',
          `cannot listen on ${addr.host}:${addr.port}: ${err.code ?? err.message}`,
          'pick another port (or 0 for any free one)',
          { cause: err },
        ),
      );
    server.once('error', onError);
    server.listen(addr.port, addr.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const a = server.address();
  if (!a || typeof a === 'string') throw new ServiceError('LISTEN_FAILED', 'listener has no address');
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** One `connect` listener. */
export class LocalForward {
  readonly id = randomUUID();
  readonly openedAt = Date.now();
  readonly serviceId: bigint;
  readonly serviceName: string;
  readonly #open: (signal: AbortSignal) => Promise<Tunnel>;
  readonly #log: P2pLogger;
  readonly #server: Server;
  readonly #tunnels = new Set<Tunnel>();
  readonly #sockets = new Set<Socket>();
  #closedIn = 0;
  #closedOut = 0;
  #lastError: string | undefined;
  #localAddress = '';
  #closed = false;

  constructor(opts: {
    serviceId: bigint;
    serviceName: string;
    open: (signal: AbortSignal) => Promise<Tunnel>;
    log: P2pLogger;
  }) {
    this.serviceId = opts.serviceId;
    this.serviceName = opts.serviceName;
    this.#open = opts.open;
    this.#log = opts.log;
    // Local connections get the data path's socket settings: no Nagle delay, and a high-water mark
    // big enough for a few records in flight toward the application.
    this.#server = createServer(
      { allowHalfOpen: true, noDelay: true, highWaterMark: CHANNEL_HIGH_WATER_MARK },
      (s) => this.#accept(s),
    );
    this.#server.maxConnections = MAX_LOCAL_CONNECTIONS;
  }

  /** Binds the listener. */
  async start(addr: { host: string; port: number }): Promise<void> {
    this.#localAddress = await listen(this.#server, addr);
  }

  /** The view the API and CLI show. */
  view(): ConnectionView {
    let bytesIn = this.#closedIn;
    let bytesOut = this.#closedOut;
    for (const t of this.#tunnels) {
      bytesIn += t.bytesIn();
      bytesOut += t.bytesOut();
    }
    return {
      id: this.id,
      serviceId: this.serviceId,
      serviceName: this.serviceName,
      localAddress: this.#localAddress,
      openedAt: this.openedAt,
      tunnels: this.#tunnels.size,
      bytesIn,
      bytesOut,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  /** Local connections open now (accepted and not yet closed). */
  sockets(): number {
    return this.#sockets.size;
  }

  /** Stops listening and closes every tunnel and local connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#tunnels) t.close();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    socket.pause();
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    const ac = new AbortController();
    socket.once('close', () => {
      this.#sockets.delete(socket);
      ac.abort(new ServiceError('CLIENT_GONE', 'the local client went away'));
    });
    socket.on('error', () => socket.destroy());
    void this.#open(ac.signal).then(
      (tunnel) => {
        if (this.#closed || socket.destroyed) {
          tunnel.close();
          return;
        }
        this.#tunnels.add(tunnel);
        tunnel.socket.once('close', () => {
          if (!this.#tunnels.delete(tunnel)) return;
          this.#closedIn += tunnel.bytesIn();
          this.#closedOut += tunnel.bytesOut();
          tunnel.close();
        });
        relay(socket, tunnel.socket);
        socket.resume();
      },
      (err: Error) => {
        if (!ac.signal.aborted) {
          this.#lastError = err.message;
          this.#log.warn('could not open a tunnel for a local connection', {
            serviceId: String(this.serviceId),
            error: err.message,
          });
        }
        socket.destroy();
      },
    );
  }
}
