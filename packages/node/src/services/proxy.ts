/**
 * The SOCKS5 front of the services runtime: `<service name or id>.dibs:<port>` goes to that service's
 * target; any other destination goes through a vpn service (the configured one, else the first vpn
 * service this node holds a valid grant for), whose exit resolves names and checks its allow rules.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { AccessClient } from '../access/access-client.ts';
import type { P2pLogger } from '../p2p/log.ts';
import type { SocksDestination } from '../socks/codec.ts';
import {
  REPLY_CONNECTION_REFUSED,
  REPLY_GENERAL_FAILURE,
  REPLY_HOST_UNREACHABLE,
  REPLY_NOT_ALLOWED,
  REPLY_TTL_EXPIRED,
} from '../socks/constants.ts';
import { SocksError } from '../socks/errors.ts';
import { SocksServer } from '../socks/server.ts';
import type { Tunnel } from '../tunnel/index.ts';
import { SERVICE_NAME_SUFFIX } from './constants.ts';
import { ServiceError } from './errors.ts';
import type { ProxyView } from './types.ts';

/** SOCKS5 reply for each failure code of the services runtime and the tunnel. */
const REPLY_FOR: Record<string, number> = {
  DESTINATION_NOT_ALLOWED: REPLY_NOT_ALLOWED,
  TICKET_REFUSED: REPLY_NOT_ALLOWED,
  ACCESS_DENIED: REPLY_NOT_ALLOWED,
  NO_VPN_SERVICE: REPLY_NOT_ALLOWED,
  NOT_A_TUNNEL_SERVICE: REPLY_NOT_ALLOWED,
  DESTINATION_REQUIRED: REPLY_NOT_ALLOWED,
  SERVICE_RETIRED: REPLY_NOT_ALLOWED,
  UNKNOWN_SERVICE: REPLY_HOST_UNREACHABLE,
  AMBIGUOUS_SERVICE: REPLY_HOST_UNREACHABLE,
  HOST_UNREACHABLE: REPLY_HOST_UNREACHABLE,
  HOST_NOT_REGISTERED: REPLY_HOST_UNREACHABLE,
  NO_HOST: REPLY_HOST_UNREACHABLE,
  RESOLVE_FAILED: REPLY_HOST_UNREACHABLE,
  TARGET_UNREACHABLE: REPLY_CONNECTION_REFUSED,
  TIMEOUT: REPLY_TTL_EXPIRED,
};

/** The SOCKS5 reply code for a failure. */
export function socksReplyFor(err: unknown): number {
  const code = (err as { code?: string })?.code;
  return (code && REPLY_FOR[code]) || REPLY_GENERAL_FAILURE;
}

/** What the proxy needs from the runtime. */
export interface ProxyDeps {
  /** The service behind `<ref>.dibs` (a name or an id). */
  resolve(ref: string): Promise<{ id: bigint; type: string }>;
  /** Opens a tunnel, optionally to a vpn destination. */
  open(
    serviceId: bigint,
    options: { destination?: { host: string; port: number }; signal?: AbortSignal },
  ): Promise<Tunnel>;
  access: AccessClient;
  log: P2pLogger;
}

/** One SOCKS5 listener of the runtime. */
export class ServiceProxy {
  readonly id = randomUUID();
  readonly openedAt = Date.now();
  readonly #deps: ProxyDeps;
  readonly #via: bigint | undefined;
  readonly #tunnels = new Set<Tunnel>();
  readonly #server: SocksServer;
  #localAddress = '';

  constructor(deps: ProxyDeps, listen: { host: string; port: number }, via?: bigint) {
    this.#deps = deps;
    this.#via = via;
    this.#server = new SocksServer({
      host: listen.host,
      port: listen.port,
      connect: (d, signal) => this.#connect(d, signal),
      onFailure: (err, d) =>
        deps.log.info('SOCKS5 request refused', {
          destination: d ? `${d.host}:${d.port}` : undefined,
          error: err.message,
        }),
    });
  }

  /** Binds the listener. */
  async start(): Promise<void> {
    try {
      const a = await this.#server.start();
      this.#localAddress = a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
    } catch (err) {
      throw new ServiceError(
        'LISTEN_FAILED',
        `cannot listen for SOCKS5: ${(err as Error).message}`,
        'pick another port (or 0 for any free one)',
        { cause: err },
      );
    }
  }

  /** The view the API and CLI show. */
  view(): ProxyView {
    return {
      id: this.id,
      localAddress: this.#localAddress,
      openedAt: this.openedAt,
      tunnels: this.#tunnels.size,
    };
  }

  /** Client connections open now. */
  clients(): number {
    return this.#server.clients();
  }

  /** Stops listening and closes every tunnel. */
  async close(): Promise<void> {
    for (const t of this.#tunnels) t.close();
    await this.#server.close();
  }

  async #connect(d: SocksDestination, signal: AbortSignal): Promise<Duplex> {
    let tunnel: Tunnel;
    try {
      tunnel = await this.#route(d, signal);
    } catch (err) {
      throw new SocksError(
        (err as { code?: string }).code ?? 'FAILED',
        (err as Error).message,
        socksReplyFor(err),
        {
          cause: err,
        },
      );
    }
    this.#tunnels.add(tunnel);
    tunnel.socket.once('close', () => {
      this.#tunnels.delete(tunnel);
      tunnel.close();
    });
    return tunnel.socket;
  }

  async #route(d: SocksDestination, signal: AbortSignal): Promise<Tunnel> {
    const name = d.host.toLowerCase();
    if (d.type === 'domain' && name.endsWith(SERVICE_NAME_SUFFIX)) {
      const service = await this.#deps.resolve(d.host.slice(0, -SERVICE_NAME_SUFFIX.length));
      if (service.type === 'vpn') {
        throw new ServiceError(
          'NOT_A_TUNNEL_SERVICE',
          `service ${service.id} is a vpn; address hosts behind it directly`,
          'use the destination host:port instead of the service name',
        );
      }
      return this.#deps.open(service.id, { signal });
    }
    const via = this.#via ?? this.#firstVpn();
    if (via === undefined) {
      throw new ServiceError(
        'NO_VPN_SERVICE',
        `no vpn service to reach ${d.host}:${d.port} through`,
        'pass --via <vpn service>, or request access to a vpn service first; use <service>.dibs for other services',
      );
    }
    return this.#deps.open(via, { destination: { host: d.host, port: d.port }, signal });
  }

  #firstVpn(): bigint | undefined {
    const now = BigInt(Date.now());
    return this.#deps.access
      .list()
      .find((g) => g.serviceType === 'vpn' && !g.revoked && g.expiresAt * 1000n > now)?.serviceId;
  }
}
