/**
 * A SOCKS5 listener (no authentication, CONNECT only). It parses the handshake, asks `connect` for
 * the outbound stream of each request, answers with the matching reply code and then relays bytes.
 * A misbehaving client gets its reply code and is closed; every other client keeps being served.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  parseGreeting,
  parseRequest,
  encodeMethodReply,
  encodeReply,
  type SocksDestination,
} from './codec.ts';
import {
  CONNECT_TIMEOUT_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_GREETING_BYTES,
  MAX_PROXY_CLIENTS,
  MAX_REQUEST_BYTES,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  REPLY_GENERAL_FAILURE,
  REPLY_HOST_UNREACHABLE,
  REPLY_SUCCEEDED,
  REPLY_TTL_EXPIRED,
} from './constants.ts';
import { CHANNEL_HIGH_WATER_MARK } from '../tunnel/constants.ts';
import { pipeInto } from '../tunnel/splice.ts';
import { SocksError } from './errors.ts';

/** Options of {@link SocksServer}. */
export interface SocksServerOptions {
  host: string;
  port: number;
  /** Opens the outbound side of a CONNECT; throw a SocksError to choose the reply code. */
  connect(destination: SocksDestination, signal: AbortSignal): Promise<Duplex>;
  /** Called for each refused or failed request (for logs and status). */
  onFailure?(err: Error, destination: SocksDestination | undefined): void;
  handshakeTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxClients?: number;
}

/** The SOCKS5 listener. */
export class SocksServer {
  readonly #opts: SocksServerOptions;
  readonly #server: Server;
  readonly #clients = new Set<Socket>();
  #address: { host: string; port: number } | undefined;

  constructor(opts: SocksServerOptions) {
    this.#opts = opts;
    // The data path's socket settings (no Nagle delay, records in flight toward the application).
    this.#server = createServer(
      { allowHalfOpen: true, noDelay: true, highWaterMark: CHANNEL_HIGH_WATER_MARK },
      (socket) => this.#accept(socket),
    );
    this.#server.maxConnections = opts.maxClients ?? MAX_PROXY_CLIENTS;
  }

  /** Starts listening; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const a = this.#server.address();
    if (!a || typeof a === 'string') throw new SocksError('LISTEN_FAILED', 'SOCKS5 listener has no address');
    this.#address = { host: a.address, port: a.port };
    return this.#address;
  }

  /** `host:port` it listens on. */
  get address(): { host: string; port: number } {
    if (!this.#address) throw new SocksError('NOT_STARTED', 'the SOCKS5 listener is not started');
    return this.#address;
  }

  /** Client connections open now (handshaking or relaying). */
  clients(): number {
    return this.#clients.size;
  }

  /** Stops listening and closes every client connection. */
  async close(): Promise<void> {
    for (const s of this.#clients) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    this.#clients.add(socket);
    socket.once('close', () => this.#clients.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    void this.#handshake(socket).catch(() => socket.destroy());
  }

  async #handshake(socket: Socket): Promise<void> {
    const timeout = setTimeout(() => socket.destroy(), this.#opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    let buf = Buffer.alloc(0);
    let destination: SocksDestination | undefined;
    let stage: 'greeting' | 'request' = 'greeting';
    const fail = (err: Error, reply: number) => {
      clearTimeout(timeout);
      this.#opts.onFailure?.(err, destination);
      socket.end(stage === 'greeting' ? encodeMethodReply(METHOD_NONE_ACCEPTABLE) : encodeReply(reply));
      socket.destroySoon();
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        if (stage === 'greeting') {
          if (buf.length > MAX_GREETING_BYTES + MAX_REQUEST_BYTES) {
            throw new SocksError('TOO_LONG', 'SOCKS5 handshake too long');
          }
          const g = parseGreeting(buf);
          if (!g) return;
          if (!g.methods.includes(METHOD_NO_AUTH)) {
            throw new SocksError('NO_ACCEPTABLE_METHOD', 'client offers no method this proxy accepts');
          }
          socket.write(encodeMethodReply(METHOD_NO_AUTH));
          buf = buf.subarray(g.length);
          stage = 'request';
        }
        if (
          buf.length > MAX_REQUEST_BYTES &&
          parseRequest(buf.subarray(0, MAX_REQUEST_BYTES)) === undefined
        ) {
          throw new SocksError('TOO_LONG', 'SOCKS5 request too long');
        }
        const req = parseRequest(buf);
        if (!req) return;
        socket.off('data', onData);
        socket.pause();
        destination = req.destination;
        const rest = buf.subarray(req.length);
        clearTimeout(timeout);
        void this.#connect(socket, req.destination, rest);
      } catch (err) {
        socket.off('data', onData);
        const e = err instanceof SocksError ? err : new SocksError('BAD_INPUT', (err as Error).message);
        fail(e, e.reply);
      }
    };
    socket.on('data', onData);
  }

  async #connect(socket: Socket, destination: SocksDestination, rest: Buffer): Promise<void> {
    const ac = new AbortController();
    const onClose = () => ac.abort(new SocksError('CLIENT_GONE', 'the SOCKS5 client went away'));
    socket.once('close', onClose);
    const limit = this.#opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const timer = setTimeout(
      () => ac.abort(new SocksError('TIMEOUT', `no connection within ${limit} ms`, REPLY_TTL_EXPIRED)),
      limit,
    );
    let upstream: Duplex;
    try {
      upstream = await Promise.race([
        this.#opts.connect(destination, ac.signal),
        new Promise<never>((_, reject) =>
          ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true }),
        ),
      ]);
    } catch (err) {
      clearTimeout(timer);
      socket.off('close', onClose);
      const e = err instanceof Error ? err : new Error(String(err));
      this.#opts.onFailure?.(e, destination);
      if (!socket.destroyed) {
        const reply = e instanceof SocksError ? e.reply : REPLY_HOST_UNREACHABLE;
        socket.end(encodeReply(reply === REPLY_SUCCEEDED ? REPLY_GENERAL_FAILURE : reply));
        socket.destroySoon();
      }
      return;
    }
    clearTimeout(timer);
    socket.off('close', onClose);
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    socket.write(encodeReply(REPLY_SUCCEEDED));
    if (rest.length > 0) upstream.write(rest);
    relay(socket, upstream);
    socket.resume();
  }
}

/** Pipes both ways; either side failing or closing tears both down, so no socket outlives its peer. */
export function relay(a: Duplex, b: Duplex): void {
  let done = false;
  const teardown = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
  };
  pipeInto(a, b);
  pipeInto(b, a);
  a.once('error', teardown);
  b.once('error', teardown);
  a.once('close', teardown);
  b.once('close', teardown);
}
