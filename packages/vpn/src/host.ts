/**
 * The host side of the L3 VPN: one WireGuard interface per hosted vpn service, its pool's first
 * address on it; each session adds one peer whose allowed IPs are exactly its assigned address, and
 * per-peer nftables rules that let that address reach exactly the service's destination rules.
 * The session lives as long as its tunnel channel: closing it (client gone, `vpn down`, revocation,
 * expiry) removes the peer and its rules.
 */
import type { Duplex } from 'node:stream';
import { DatagramBridge } from './bridge.ts';
import { WireGuardDevice } from './device.ts';
import { VpnError } from './errors.ts';
import { type WireGuardKeyPair, generateWireGuardKeyPair, keyHex } from './keys.ts';
import { type VpnGrant, VpnMessageType, type VpnRequest } from './messages.ts';
import { type DestinationRule, applyRuleset, deleteTable, hostRuleset, tableName } from './nft.ts';
import { AddressPool, defaultPool } from './pool.ts';
import type { VpnPath, VpnSessionInfo } from './session.ts';
import { enableForwarding, interfacePrefix } from './system.ts';

/** A hosted vpn service as the host side needs it. */
export interface HostedVpn {
  serviceId: bigint;
  /** Site subnets clients route here. */
  subnets: string[];
  /** Address pool; default {@link defaultPool}. */
  pool?: string;
  /** Destination rules every peer gets. */
  allow: readonly DestinationRule[];
}

/** Logger shape (the node's). */
export interface VpnLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** One accepted session, before its channel is attached. */
export interface HostSession {
  grant: VpnGrant;
  /**
   * Starts the session on its channel (bridge + lifetime); resolves once the bridge listens.
   * `relayEndpoint`: the relay's UDP port for our datagrams (`ip:port`) when the session's relay opened a
   * datagram relay; WireGuard is pointed there at once, so the relay hears from us before the client.
   */
  attach(channel: Duplex, path: VpnPath, relayEndpoint?: string): Promise<void>;
  /** Ends the session: peer, rules and bridge go. Idempotent. */
  close(reason?: string): Promise<void>;
}

interface ServiceDevice {
  device: WireGuardDevice;
  pool: AddressPool;
  key: WireGuardKeyPair;
  config: HostedVpn;
  peers: Map<string, PeerEntry>;
}

interface PeerEntry {
  id: string;
  peerId: string;
  publicKey: Uint8Array;
  address: string;
  path: VpnPath;
  openedAt: number;
  bridge?: DatagramBridge;
  /** The relay's UDP port for this session, when it has one. */
  relayEndpoint?: string;
}

/** Options of {@link VpnHost}. */
export interface VpnHostOptions {
  /** The node tag (interface and table names). */
  tag: string;
  log: VpnLogger;
}

/** Every hosted vpn service's WireGuard side. */
export class VpnHost {
  readonly #o: VpnHostOptions;
  readonly #devices = new Map<bigint, Promise<ServiceDevice>>();
  #stopped = false;

  constructor(options: VpnHostOptions) {
    this.#o = options;
  }

  /** The interface name of service `serviceId`. */
  interfaceName(serviceId: bigint): string {
    return `${interfacePrefix(this.#o.tag)}h${serviceId}`.slice(0, 15);
  }

  #device(config: HostedVpn): Promise<ServiceDevice> {
    let p = this.#devices.get(config.serviceId);
    if (!p) {
      p = this.#createDevice(config);
      this.#devices.set(config.serviceId, p);
      p.catch(() => this.#devices.delete(config.serviceId));
    }
    return p;
  }

  async #createDevice(config: HostedVpn): Promise<ServiceDevice> {
    const pool = new AddressPool(config.pool ?? defaultPool(config.serviceId));
    const key = generateWireGuardKeyPair();
    const name = this.interfaceName(config.serviceId);
    const device = await WireGuardDevice.create({
      name,
      privateKey: key.privateKey,
      up: false,
      onExit: (reason) => {
        this.#o.log.warn('vpn interface ended', { interface: name, reason });
        this.#devices.delete(config.serviceId);
      },
    });
    try {
      await device.configure({ addresses: [`${pool.gateway}/${pool.cidr.prefix}`] });
      if (config.subnets.length > 0) await enableForwarding();
      await applyRuleset(hostRuleset(name, []));
    } catch (err) {
      await device.destroy();
      throw err;
    }
    this.#o.log.info('vpn interface up', { interface: name, pool: pool.text, port: device.listenPort });
    return { device, pool, key, config, peers: new Map() };
  }

  async #applyRules(s: ServiceDevice): Promise<void> {
    const peers = [...s.peers.values()].map((p) => ({ address: p.address, allow: s.config.allow }));
    await applyRuleset(hostRuleset(s.device.name, peers));
  }

  /**
   * Admits a session whose ticket checked out: a fresh address, a peer allowed exactly that address,
   * its nftables rules. `hosts` are the addresses the client may reach our UDP port at.
   */
  async accept(params: {
    id: string;
    config: HostedVpn;
    peerId: string;
    request: VpnRequest;
    hosts: string[];
  }): Promise<HostSession> {
    if (this.#stopped) throw new VpnError('SESSION_ENDED', 'the vpn host is stopping');
    const s = await this.#device(params.config);
    // The service's rules may have changed since the interface came up: every new session reads them.
    s.config = params.config;
    const address = s.pool.allocate();
    const entry: PeerEntry = {
      id: params.id,
      peerId: params.peerId,
      publicKey: params.request.publicKey,
      address,
      path: 'direct',
      openedAt: Date.now(),
    };
    const existing = [...s.peers.values()].find((p) => keyHex(p.publicKey) === keyHex(entry.publicKey));
    if (existing) {
      s.pool.release(address);
      throw new VpnError('BAD_CONFIG', 'that WireGuard key is already in use by another session');
    }
    s.peers.set(entry.id, entry);
    try {
      // The rules and the peer go in together; the client sends nothing before it has our answer.
      await Promise.all([
        // No keepalive yet: with no endpoint it would only start WireGuard's handshake timer, and the
        // first handshake it may send is then held back 5 s (REKEY_TIMEOUT). attach() turns it on.
        s.device.setPeer({ publicKey: entry.publicKey, allowedIps: [`${address}/32`], keepaliveS: 0 }),
        this.#applyRules(s),
      ]);
    } catch (err) {
      s.peers.delete(entry.id);
      s.pool.release(address);
      await s.device.removePeer(entry.publicKey).catch(() => {});
      throw err;
    }
    let closed = false;
    const close = async (reason?: string) => {
      if (closed) return;
      closed = true;
      entry.bridge?.close();
      s.peers.delete(entry.id);
      await s.device.removePeer(entry.publicKey).catch(() => {});
      await this.#applyRules(s).catch((err: Error) =>
        this.#o.log.warn('could not update vpn rules', { interface: s.device.name, error: err.message }),
      );
      s.pool.release(address);
      this.#o.log.info('vpn session closed', { peer: entry.peerId, address, ...(reason ? { reason } : {}) });
    };
    this.#o.log.info('vpn session admitted', { peer: entry.peerId, address, interface: s.device.name });
    return {
      grant: {
        type: VpnMessageType.GRANT,
        publicKey: s.key.publicKey,
        address,
        gateway: s.pool.gateway,
        routes: s.config.subnets,
        port: s.device.listenPort,
        hosts: params.hosts,
      },
      attach: async (channel, path, relayEndpoint) => {
        entry.path = path;
        entry.bridge = await DatagramBridge.open({
          channel,
          wireguardPort: s.device.listenPort,
          onClose: (error) => void close(error ? `channel error: ${error.message}` : 'channel closed'),
        });
        if (closed) {
          entry.bridge.close();
          return;
        }
        if (relayEndpoint) entry.relayEndpoint = relayEndpoint;
        // With a datagram relay, the handshake this starts opens our side of it (and our NAT towards
        // it) at once; if the client cannot reach it, it uses the bridge and WireGuard here roams there.
        await (relayEndpoint
          ? s.device.setEndpoint(entry.publicKey, relayEndpoint)
          : s.device.setKeepalive(entry.publicKey)
        ).catch((err: Error) =>
          this.#o.log.warn("could not set the vpn peer's keepalive", {
            peer: entry.peerId,
            error: err.message,
          }),
        );
      },
      close,
    };
  }

  /** Live sessions with WireGuard's counters. */
  async sessions(): Promise<VpnSessionInfo[]> {
    const out: VpnSessionInfo[] = [];
    const now = Date.now() / 1000;
    for (const p of this.#devices.values()) {
      const s = await p.catch(() => undefined);
      if (!s || s.peers.size === 0) continue;
      const state = await s.device.state().catch(() => undefined);
      for (const peer of s.peers.values()) {
        const wg = state?.peers.find((x) => x.publicKey === keyHex(peer.publicKey));
        const endpoint = wg?.endpoint ?? null;
        out.push({
          id: peer.id,
          role: 'host',
          serviceId: s.config.serviceId.toString(),
          peerId: peer.peerId,
          interface: s.device.name,
          address: peer.address,
          gateway: s.pool.gateway,
          routes: s.config.subnets,
          path:
            endpoint?.startsWith('127.0.0.1:') || (endpoint && endpoint === peer.relayEndpoint)
              ? 'relayed'
              : endpoint
                ? 'direct'
                : peer.path,
          endpoint,
          bytesIn: wg?.rxBytes ?? 0,
          bytesOut: wg?.txBytes ?? 0,
          handshakeAgeS:
            wg && wg.lastHandshakeSec > 0 ? Math.max(0, Math.round(now - wg.lastHandshakeSec)) : null,
          openedAt: peer.openedAt,
        });
      }
    }
    return out;
  }

  /** Closes the service's sessions and removes its interface (service retired). */
  async retire(serviceId: bigint): Promise<void> {
    const p = this.#devices.get(serviceId);
    if (!p) return;
    this.#devices.delete(serviceId);
    const s = await p.catch(() => undefined);
    if (!s) return;
    for (const peer of s.peers.values()) peer.bridge?.close();
    await s.device.destroy();
    await deleteTable(tableName(s.device.name));
  }

  /** Removes every interface and table (node stop). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const id of [...this.#devices.keys()]) await this.retire(id);
  }
}
