/**
 * The client path to a service: service → host address (chain) → node record (DHT, else the
 * Registry entry) → a connection (direct, else through an admitted relay) → a held ticket (requesting
 * a grant on chain when none is valid) → a tunnel. Transient failures are retried with bounded backoff.
 */
import { NETWORK_SERVICE_TYPE, type RegistryWriter, type ServiceRecord } from '@dibs/chain';
import { addressFromPeerId } from '@dibs/core';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { base58btc } from 'multiformats/bases/base58';
import { type Address, zeroAddress } from 'viem';
import type { AccessClient, HeldGrant, HeldTicket } from '../access/access-client.ts';
import { ROLE_RELAY } from '../p2p/constants.ts';
import type { DibsHost } from '../p2p/host.ts';
import type { P2pLogger } from '../p2p/log.ts';
import { findNodeRecord } from '../p2p/records.ts';
import { openTunnel, type Tunnel, TunnelError, type TunnelSessionTable } from '../tunnel/index.ts';
import {
  CONNECT_ATTEMPTS,
  CONNECT_DEADLINE_MS,
  CONNECT_RETRY_BASE_MS,
  CONNECT_RETRY_MAX_MS,
  DIAL_TIMEOUT_MS,
  DIRECT_DIAL_TIMEOUT_MS,
  MAX_RELAY_ATTEMPTS,
  RECORD_LOOKUP_TIMEOUT_MS,
  RELAY_DIAL_TIMEOUT_MS,
  RELAY_PATH_GRACE_MS,
  ROLE_CACHE_MS,
  TICKET_MIN_VALIDITY_MS,
} from './constants.ts';
import { ServiceError } from './errors.ts';

/** Tunnel error codes worth another attempt from a new connection. */
const TRANSIENT_TUNNEL_CODES = new Set(['TIMEOUT', 'STREAM_ENDED', 'CLOSED', 'TOO_MANY_TUNNELS']);

/** Options of {@link ServiceConnector}. */
export interface ServiceConnectorOptions {
  host: DibsHost;
  registry: RegistryWriter;
  access: AccessClient;
  /** Where outbound tunnels are accounted. */
  table: TunnelSessionTable;
  log: P2pLogger;
  attempts?: number;
}

/** Opens tunnels to services on other nodes. */
export class ServiceConnector {
  readonly #o: ServiceConnectorOptions;
  /** One grant request per service at a time, so parallel local connections do not pay twice. */
  readonly #requests = new Map<bigint, Promise<HeldGrant>>();
  /** The last node record seen per host address: its paths are tried before a fresh DHT lookup. */
  readonly #records = new Map<string, string[]>();
  /** Registry roles of admitted peers, briefly cached. */
  readonly #roles = new Map<string, { value: number; at: number }>();

  constructor(options: ServiceConnectorOptions) {
    this.#o = options;
  }

  /** The service on chain, checked to be usable. */
  async service(serviceId: bigint): Promise<ServiceRecord> {
    const s = await this.#o.registry.getService(serviceId);
    if (!s) {
      throw new ServiceError(
        'UNKNOWN_SERVICE',
        `there is no service ${serviceId} on chain`,
        'see `dibs service list`',
      );
    }
    if (!s.active) {
      throw new ServiceError(
        'SERVICE_RETIRED',
        `service ${serviceId} (${s.name}) is retired`,
        'ask its owner for another one',
      );
    }
    if (s.serviceType === NETWORK_SERVICE_TYPE) {
      throw new ServiceError(
        'NOT_CONNECTABLE',
        `service ${serviceId} (${s.name}) is a network: nodes join it (\`dibs up\`), there is no target to connect to`,
        'connect to a tcp, http or vpn service; `dibs service list` shows them',
      );
    }
    if (s.host === zeroAddress) {
      throw new ServiceError(
        'NO_HOST',
        `service ${serviceId} (${s.name}) has no host node`,
        'ask its owner to set one',
      );
    }
    return s;
  }

  /** A valid held grant's ticket, requesting a grant on chain when none is held. */
  async ticket(serviceId: bigint): Promise<HeldTicket> {
    const access = this.#o.access;
    const now = BigInt(Date.now() + TICKET_MIN_VALIDITY_MS);
    const valid = () =>
      access
        .list()
        .filter((g) => g.serviceId === serviceId && !g.revoked && g.expiresAt * 1000n > now)
        .sort((a, b) => (a.expiresAt > b.expiresAt ? -1 : 1))[0];
    let held = valid();
    if (!held) {
      let pending = this.#requests.get(serviceId);
      if (!pending) {
        pending = access.request(serviceId).finally(() => this.#requests.delete(serviceId));
        this.#requests.set(serviceId, pending);
      }
      try {
        held = await pending;
      } catch (err) {
        throw new ServiceError(
          'ACCESS_DENIED',
          `could not obtain a grant for service ${serviceId}: ${(err as Error).message}`,
          'check the service policy admits you and the wallet holds the price and gas',
          { cause: err },
        );
      }
    }
    return access.ticket(held.grantId, TICKET_MIN_VALIDITY_MS);
  }

  /**
   * Connects to the node hosting `service` and returns its PeerId, trying every path before
   * `deadline` (ms since epoch): its addresses from the chain and its last known node record directly,
   * then through every relay its record names and every admitted relay, all relays dialed at once.
   * A fresh record is looked up in the DHT meanwhile and its new paths tried too.
   */
  async reach(
    service: ServiceRecord,
    bound: { deadline: number; errors?: string[] } = { deadline: Date.now() + CONNECT_DEADLINE_MS },
  ): Promise<PeerId> {
    const { host, registry, log } = this.#o;
    const node = await registry.getNode(service.host);
    if (!node?.active || node.peerId.length === 0) {
      throw new ServiceError(
        'HOST_NOT_REGISTERED',
        `the host ${service.host} of service ${service.id} has no node on chain`,
        'its node must be running (`dibs up`)',
        { transient: true },
      );
    }
    const peer = peerIdFromString(base58btc.baseEncode(node.peerId));
    if (
      host.admission.isAdmitted(peer) &&
      host.admission.isAdmittedBy(peer) &&
      host.libp2p.getConnections(peer).some((c) => c.status === 'open')
    ) {
      return peer;
    }
    const key = service.host.toLowerCase();
    const left = () => bound.deadline - Date.now();
    // Shared with the caller, so a bound that runs out mid-way can still say what was tried.
    const errors: string[] = bound.errors ?? [];
    const tried = new Set<string>();
    const extend = () => {
      bound.deadline = Math.max(bound.deadline, Date.now() + RELAY_PATH_GRACE_MS);
    };
    const lookup = findNodeRecord(host, service.host, Math.max(Math.min(RECORD_LOOKUP_TIMEOUT_MS, left()), 1))
      .then((r) => {
        this.#records.set(key, r.multiaddrs);
        return r.multiaddrs;
      })
      .catch((err: Error) => {
        errors.push(`DHT: ${err.message}`);
        return [] as string[];
      });
    const attempt = async (addrs: readonly string[]): Promise<PeerId | undefined> => {
      const full = [
        ...new Set(addrs.map((a) => (a.endsWith(`/p2p/${peer}`) ? a : `${a}/p2p/${peer}`))),
      ].filter((a) => !tried.has(a));
      for (const a of full) tried.add(a);
      const direct = full.filter((a) => !a.includes('/p2p-circuit'));
      const circuits = full.filter((a) => a.includes('/p2p-circuit'));
      // Relays the circuits run through, dialed (and admitted) all at once while the direct dial runs.
      const relays = Promise.all(
        circuits.map(async (a) => {
          const relay = a.slice(0, a.indexOf('/p2p-circuit'));
          try {
            await host.connect(multiaddr(relay), Math.max(Math.min(RELAY_DIAL_TIMEOUT_MS, left()), 1));
            // A relay on the host's path admitted us: a path is being made, not missing. The grace
            // runs from now, not from when the direct dial gives up: a node that just started
            // (cold caches, a loaded machine) could otherwise spend the whole bound before the
            // circuit is even dialed.
            extend();
            return a;
          } catch (err) {
            errors.push(`relay ${relay}: ${(err as Error).message}`);
            return undefined;
          }
        }),
      );
      if (direct.length > 0 && left() > 0) {
        try {
          await host.connect(
            direct.map((a) => multiaddr(a)),
            Math.max(Math.min(DIRECT_DIAL_TIMEOUT_MS, left()), 1),
          );
          return peer;
        } catch (err) {
          errors.push(`direct ${direct.join(', ')}: ${(err as Error).message}`);
        }
      }
      const live = (await relays).filter((a): a is string => a !== undefined);
      // A relay admitted us: a path is being made, not missing; a loaded machine gets time to finish it.
      if (live.length > 0) extend();
      for (const a of live) {
        if (left() <= 0) break;
        try {
          await host.connect(multiaddr(a), Math.max(Math.min(DIAL_TIMEOUT_MS, left()), 1));
          log.debug('reached service host through a relay', { peer: peer.toString(), via: a });
          return peer;
        } catch (err) {
          errors.push(`${a}: ${(err as Error).message}`);
        }
      }
      return undefined;
    };
    const known = [...(this.#records.get(key) ?? []), ...node.multiaddrs];
    for (const relay of await this.#relays(peer)) known.push(`${relay}/p2p-circuit`);
    const reached = (await attempt(known)) ?? (left() > 0 ? await attempt(await lookup) : undefined);
    if (reached) return reached;
    throw new ServiceError(
      'HOST_UNREACHABLE',
      `no path to the node of service ${service.id} (${service.name}) at ${service.host}: ${errors.slice(-4).join('; ') || 'no addresses known'}`,
      'check that node is running and holds a relay reservation (`dibs status` on it), or that its relays are online',
      { transient: true },
    );
  }

  /** Multiaddrs of admitted relays (ending in `/p2p/<relay>`), at most MAX_RELAY_ATTEMPTS. */
  async #relays(exclude: PeerId): Promise<string[]> {
    const { host, registry } = this.#o;
    const out: string[] = [];
    // Only peers with a direct connection can carry a circuit; their roles, where not known (a node
    // that just started) or stale, are looked up all at once, not one registry round trip after
    // another before the first dial.
    const peers = host.admission
      .admittedPeers()
      .filter(
        (p) => !p.peerId.equals(exclude) && host.libp2p.getConnections(p.peerId).some((c) => !c.limits),
      );
    await Promise.all(
      peers.map(async (p) => {
        const id = p.peerId.toString();
        const known = this.#roles.get(id);
        if (known !== undefined && known.at >= Date.now() - ROLE_CACHE_MS) return;
        const entry = await registry.getNode(addressFromPeerId(p.peerId) as Address).catch(() => null);
        this.#roles.set(id, { value: entry?.active ? entry.roles : 0, at: Date.now() });
      }),
    );
    for (const p of peers) {
      if (out.length >= MAX_RELAY_ATTEMPTS) break;
      const roles = this.#roles.get(p.peerId.toString());
      if (roles === undefined || (roles.value & ROLE_RELAY) === 0) continue;
      const conn = host.libp2p.getConnections(p.peerId).find((c) => !c.limits);
      if (!conn) continue;
      const base = conn.remoteAddr.toString().split('/p2p/')[0];
      out.push(`${base}/p2p/${p.peerId}`);
    }
    return out;
  }

  /** One tunnel to `serviceId` (optionally to a vpn destination), retrying transient failures. */
  async open(
    serviceId: bigint,
    options: { destination?: { host: string; port: number }; signal?: AbortSignal; vpn?: Uint8Array } = {},
  ): Promise<Tunnel> {
    const attempts = this.#o.attempts ?? CONNECT_ATTEMPTS;
    // Reaching the host is bounded as a whole, from the first try on (a grant request before it is
    // not): with no path, the local connection fails in time.
    const reachBy: { deadline?: number } = {};
    let last: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      options.signal?.throwIfAborted();
      if (i > 0) {
        const delay = Math.min(
          CONNECT_RETRY_BASE_MS * 2 ** (i - 1),
          CONNECT_RETRY_MAX_MS,
          (reachBy.deadline ?? Number.POSITIVE_INFINITY) - Date.now(),
        );
        if (delay <= 0) break;
        await new Promise((r) => setTimeout(r, delay));
      }
      try {
        return await this.#openOnce(serviceId, options, reachBy);
      } catch (err) {
        last = asServiceError(err, serviceId);
        if (!(last instanceof ServiceError) || !last.transient) throw last;
        this.#o.log.debug('tunnel attempt failed; retrying', {
          serviceId: String(serviceId),
          attempt: i + 1,
          error: last.message,
        });
      }
      if (reachBy.deadline !== undefined && Date.now() >= reachBy.deadline) break;
    }
    throw last ?? new ServiceError('HOST_UNREACHABLE', `no tunnel to service ${serviceId}`);
  }

  async #openOnce(
    serviceId: bigint,
    options: { destination?: { host: string; port: number }; signal?: AbortSignal; vpn?: Uint8Array },
    reachBy: { deadline?: number },
  ): Promise<Tunnel> {
    const t0 = Date.now();
    const service = await this.service(serviceId);
    const ticket = await this.ticket(serviceId);
    const t1 = Date.now();
    reachBy.deadline ??= t1 + CONNECT_DEADLINE_MS;
    const bound = { deadline: reachBy.deadline, errors: [] as string[] };
    let timer: NodeJS.Timeout | undefined;
    const peer = await Promise.race([
      this.reach(service, bound),
      new Promise<never>((_, reject) => {
        const check = () => {
          // The bound moves on while a relay is making the path (reach extends it).
          if (Date.now() < bound.deadline) {
            timer = setTimeout(check, bound.deadline - Date.now());
            return;
          }
          reject(
            new ServiceError(
              'HOST_UNREACHABLE',
              `no path to the node of service ${service.id} (${service.name}) within ${CONNECT_DEADLINE_MS} ms` +
                ` (service and ticket took ${t1 - t0} ms before; reaching it ${Date.now() - t1} ms` +
                `${bound.errors.length > 0 ? `: ${bound.errors.slice(-4).join('; ')}` : ', no dial had failed yet'})`,
              'check that node is running and holds a relay reservation, or that its relays are online',
              { transient: true },
            ),
          );
        };
        timer = setTimeout(check, Math.max(bound.deadline - Date.now(), 0));
      }),
    ]).finally(() => {
      clearTimeout(timer);
      reachBy.deadline = bound.deadline;
    });
    const signals = [AbortSignal.timeout(DIAL_TIMEOUT_MS * 3)];
    if (options.signal) signals.push(options.signal);
    return openTunnel({
      host: this.#o.host,
      peer,
      ticket,
      registry: this.#o.table,
      signal: AbortSignal.any(signals),
      ...(options.destination ? { destination: options.destination } : {}),
      ...(options.vpn ? { vpn: options.vpn } : {}),
    });
  }
}

/** Maps tunnel and other failures to ServiceErrors with a transient flag. */
export function asServiceError(err: unknown, serviceId: bigint): Error {
  if (err instanceof ServiceError) return err;
  if (err instanceof TunnelError) {
    const transient = TRANSIENT_TUNNEL_CODES.has(err.code);
    return new ServiceError(err.code, `service ${serviceId}: ${err.message}`, undefined, {
      cause: err,
      transient,
    });
  }
  const e = err as Error;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return new ServiceError('TIMEOUT', `service ${serviceId}: timed out opening the tunnel`, undefined, {
      cause: err,
      transient: true,
    });
  }
  return new ServiceError('TUNNEL_FAILED', `service ${serviceId}: ${e?.message ?? String(err)}`, undefined, {
    cause: err,
    transient: true,
  });
}
