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
  CONNECT_RETRY_BASE_MS,
  CONNECT_RETRY_MAX_MS,
  DIAL_TIMEOUT_MS,
  MAX_RELAY_ATTEMPTS,
  RECORD_LOOKUP_TIMEOUT_MS,
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

  /** Connects to the node hosting `service` (direct, else relayed); returns its PeerId. */
  async reach(service: ServiceRecord): Promise<PeerId> {
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
    if (host.admission.isAdmitted(peer) && host.admission.isAdmittedBy(peer)) return peer;
    const errors: string[] = [];
    let addrs: string[] = [];
    try {
      addrs = (await findNodeRecord(host, service.host, RECORD_LOOKUP_TIMEOUT_MS)).multiaddrs;
    } catch (err) {
      errors.push(`DHT: ${(err as Error).message}`);
    }
    for (const a of node.multiaddrs) if (!addrs.includes(a)) addrs.push(a);
    for (const a of addrs) {
      const full = a.includes('/p2p/') ? a : `${a}/p2p/${peer}`;
      if (full.includes('/p2p-circuit')) continue;
      try {
        await host.connect(multiaddr(full), DIAL_TIMEOUT_MS);
        return peer;
      } catch (err) {
        errors.push(`${full}: ${(err as Error).message}`);
      }
    }
    // Through a relay: any admitted peer registered with the relay role, plus circuit addresses the host advertises.
    const circuits = addrs.filter((a) => a.includes('/p2p-circuit'));
    for (const relay of await this.#relays(peer)) circuits.push(`${relay}/p2p-circuit/p2p/${peer}`);
    for (const a of circuits.slice(0, MAX_RELAY_ATTEMPTS * 2)) {
      const full = a.endsWith(`/p2p/${peer}`) ? a : `${a}/p2p/${peer}`;
      try {
        await host.connect(multiaddr(full), DIAL_TIMEOUT_MS);
        log.debug('reached service host through a relay', { peer: peer.toString(), via: full });
        return peer;
      } catch (err) {
        errors.push(`${full}: ${(err as Error).message}`);
      }
    }
    throw new ServiceError(
      'HOST_UNREACHABLE',
      `cannot reach the node of service ${service.id} (${service.name}) at ${service.host}: ${errors.slice(-3).join('; ') || 'no addresses known'}`,
      'check that node is running and reachable, or that a relay is online',
      { transient: true },
    );
  }

  /** Multiaddrs of admitted relays (ending in `/p2p/<relay>`), at most MAX_RELAY_ATTEMPTS. */
  async #relays(exclude: PeerId): Promise<string[]> {
    const { host, registry } = this.#o;
    const out: string[] = [];
    for (const p of host.admission.admittedPeers()) {
      if (out.length >= MAX_RELAY_ATTEMPTS || p.peerId.equals(exclude)) continue;
      const entry = await registry.getNode(addressFromPeerId(p.peerId) as Address).catch(() => null);
      if (!entry?.active || (entry.roles & ROLE_RELAY) === 0) continue;
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
    let last: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      options.signal?.throwIfAborted();
      if (i > 0) {
        const delay = Math.min(CONNECT_RETRY_BASE_MS * 2 ** (i - 1), CONNECT_RETRY_MAX_MS);
        await new Promise((r) => setTimeout(r, delay));
      }
      try {
        return await this.#openOnce(serviceId, options);
      } catch (err) {
        last = asServiceError(err, serviceId);
        if (!(last instanceof ServiceError) || !last.transient) throw last;
        this.#o.log.debug('tunnel attempt failed; retrying', {
          serviceId: String(serviceId),
          attempt: i + 1,
          error: last.message,
        });
      }
    }
    throw last ?? new ServiceError('HOST_UNREACHABLE', `no tunnel to service ${serviceId}`);
  }

  async #openOnce(
    serviceId: bigint,
    options: { destination?: { host: string; port: number }; signal?: AbortSignal; vpn?: Uint8Array },
  ): Promise<Tunnel> {
    const service = await this.service(serviceId);
    const ticket = await this.ticket(serviceId);
    const peer = await this.reach(service);
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
