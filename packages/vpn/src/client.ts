/**
 * The client side of the L3 VPN: a fresh WireGuard key per session, sent in the tunnel open request;
 * the host's answer (its key, our address, the site's routes, its UDP port) configures a local
 * wireguard-go interface. WireGuard goes straight to the host when a direct path answers within
 * DIRECT_HANDSHAKE_TIMEOUT_MS, else through the relay: straight to the relay's UDP port when the
 * session's relay opened a datagram relay and a handshake completes there, else through the datagram
 * bridge on the tunnel channel (the path the DIBS connection takes, relays included, TCP all the way);
 * and back to direct when a direct connection appears.
 */
import type { Duplex } from 'node:stream';
import { DatagramBridge } from './bridge.ts';
import {
  DIRECT_HANDSHAKE_TIMEOUT_MS,
  DIRECT_PROBE_MS,
  DIRECT_RETRY_INTERVAL_MS,
  DIRECT_RETRY_MAX_MS,
  DIRECT_SILENCE_MS,
  PATH_CHECK_INTERVAL_MS,
  RELAY_HANDSHAKE_TIMEOUT_MS,
} from './constants.ts';
import { WireGuardDevice } from './device.ts';
import { VpnError } from './errors.ts';
import type { VpnLogger } from './host.ts';
import { generateWireGuardKeyPair, keyHex } from './keys.ts';
import {
  decodeVpnMessage,
  encodeVpnMessage,
  type VpnGrant,
  VpnMessageType,
  type VpnMode,
} from './messages.ts';
import { applyRuleset, clientRuleset, deleteTable, tableName } from './nft.ts';
import type { VpnPath, VpnSessionInfo } from './session.ts';
import { enableForwarding, interfacePrefix } from './system.ts';

/** A tunnel opened with a VPN request, as the node hands it over. */
export interface VpnTunnel {
  /** The host's encoded grant (decoded and checked here). */
  grant: Uint8Array;
  /** The tunnel channel: the session's lifetime and the bridge's carrier. */
  channel: Duplex;
  /** Hex tunnel session id. */
  sessionId: string;
  /** The host node's PeerId. */
  peerId: string;
  /** The host's IP on a direct DIBS connection; undefined when it runs through a relay. */
  directIp: string | undefined;
  /** The relay's UDP port for our datagrams (`ip:port`), when the session's relay opened one. */
  relayEndpoint?: string | undefined;
}

/** Opens a tunnel to `serviceId` carrying `request`; the node's service connector. */
export type OpenVpnTunnel = (
  serviceId: bigint,
  request: Uint8Array,
  signal: AbortSignal,
) => Promise<VpnTunnel>;

/** Options of {@link VpnClients}. */
export interface VpnClientsOptions {
  tag: string;
  log: VpnLogger;
  open: OpenVpnTunnel;
  /** The host's IP when a direct DIBS connection to `peerId` exists now (for switching back to direct). */
  directIp?: (peerId: string) => string | undefined;
}

/** Why a session ended, kept for `vpn status`. */
export interface EndedVpnSession {
  serviceId: string;
  reason: string;
  at: number;
}

class ClientSession {
  readonly serviceId: bigint;
  readonly mode: VpnMode;
  readonly device: WireGuardDevice;
  readonly grant: VpnGrant;
  readonly tunnel: VpnTunnel;
  readonly bridge: DatagramBridge;
  readonly openedAt = Date.now();
  path: VpnPath = 'relayed';
  directEndpoint: string | undefined;
  /** Where WireGuard sends while relayed: the relay's UDP port, or the bridge when that does not answer. */
  relayedEndpoint: string;
  timer: NodeJS.Timeout | undefined;
  lastDirectTry = Date.now();
  /** Wait before the next direct-path retry (doubles on each failure). */
  retryDelay = DIRECT_RETRY_INTERVAL_MS;
  /** WireGuard's received bytes at the last check, and when they last grew. */
  lastRx = 0;
  lastRxAt = Date.now();
  probing = false;
  closed = false;

  constructor(init: {
    serviceId: bigint;
    mode: VpnMode;
    device: WireGuardDevice;
    grant: VpnGrant;
    tunnel: VpnTunnel;
    bridge: DatagramBridge;
  }) {
    this.serviceId = init.serviceId;
    this.mode = init.mode;
    this.device = init.device;
    this.grant = init.grant;
    this.tunnel = init.tunnel;
    this.bridge = init.bridge;
    this.relayedEndpoint = init.bridge.endpoint;
  }

  /** True while relayed through the relay's UDP port rather than the bridge. */
  get viaDatagramRelay(): boolean {
    return this.relayedEndpoint !== this.bridge.endpoint;
  }
}

/** The VPN sessions this node joined. */
export class VpnClients {
  readonly #o: VpnClientsOptions;
  readonly #sessions = new Map<bigint, ClientSession>();
  readonly #starting = new Set<bigint>();
  readonly #ended: EndedVpnSession[] = [];

  constructor(options: VpnClientsOptions) {
    this.#o = options;
  }

  /** The interface name of the session with service `serviceId`. */
  interfaceName(serviceId: bigint): string {
    return `${interfacePrefix(this.#o.tag)}c${serviceId}`.slice(0, 15);
  }

  /** Joins vpn service `serviceId` (`site`: also forward this node's LAN, masqueraded). */
  async up(serviceId: bigint, mode: VpnMode, signal: AbortSignal): Promise<VpnSessionInfo> {
    if (this.#sessions.has(serviceId) || this.#starting.has(serviceId)) {
      throw new VpnError(
        'ALREADY_UP',
        `the VPN to service ${serviceId} is already up`,
        '`dibs vpn down` first',
      );
    }
    this.#starting.add(serviceId);
    try {
      const session = await this.#start(serviceId, mode, signal);
      this.#sessions.set(serviceId, session);
      return (await this.#info(session))!;
    } finally {
      this.#starting.delete(serviceId);
    }
  }

  async #start(serviceId: bigint, mode: VpnMode, signal: AbortSignal): Promise<ClientSession> {
    const t0 = performance.now();
    const key = generateWireGuardKeyPair();
    const request = encodeVpnMessage({ type: VpnMessageType.REQUEST, publicKey: key.publicKey, mode });
    const name = this.interfaceName(serviceId);
    // The interface comes up while the ticket exchange runs.
    const devicePromise = WireGuardDevice.create({
      name,
      privateKey: key.privateKey,
      up: false,
      onExit: (reason) => void this.#end(serviceId, `wireguard-go ended: ${reason}`),
    });
    const tunnelPromise = this.#o.open(serviceId, request, signal);
    // The session's nftables table too: its rules name the interface, not addresses, so they need
    // neither the interface nor the host's answer — only to be in before the routes are.
    const rulesPromise = Promise.all([
      applyRuleset(clientRuleset(name, mode === 'site')),
      mode === 'site' ? enableForwarding() : undefined,
    ]);
    const took = { deviceMs: 0, tunnelMs: 0, rulesMs: 0 };
    const timed = (p: Promise<unknown>, key: keyof typeof took) =>
      void p.then(
        () => {
          took[key] = Math.round(performance.now() - t0);
        },
        () => {},
      );
    timed(devicePromise, 'deviceMs');
    timed(tunnelPromise, 'tunnelMs');
    timed(rulesPromise, 'rulesMs');
    const [deviceResult, tunnelResult, rulesResult] = await Promise.allSettled([
      devicePromise,
      tunnelPromise,
      rulesPromise,
    ]);
    if (
      deviceResult.status === 'rejected' ||
      tunnelResult.status === 'rejected' ||
      rulesResult.status === 'rejected'
    ) {
      if (deviceResult.status === 'fulfilled') await deviceResult.value.destroy();
      if (tunnelResult.status === 'fulfilled') tunnelResult.value.channel.destroy();
      await deleteTable(tableName(name));
      throw (
        [deviceResult, tunnelResult, rulesResult].find(
          (r) => r.status === 'rejected',
        ) as PromiseRejectedResult
      ).reason;
    }
    const device = deviceResult.value;
    const tunnel = tunnelResult.value;
    const tReady = performance.now();
    let bridge: DatagramBridge | undefined;
    try {
      const grant = decodeVpnMessage(tunnel.grant);
      if (grant.type !== VpnMessageType.GRANT)
        throw new VpnError('MALFORMED', 'the host answered without a vpn grant');
      // The rules are in (above) before the routes: nothing reaches this node from the tunnel before them.
      await device.configure({
        addresses: [`${grant.address}/32`],
        routes: [`${grant.gateway}/32`, ...grant.routes],
      });
      bridge = await DatagramBridge.open({
        channel: tunnel.channel,
        wireguardPort: device.listenPort,
        onClose: (error) =>
          void this.#end(
            serviceId,
            error ? `tunnel failed: ${error.message}` : 'the host closed the session',
          ),
      });
      const session = new ClientSession({ serviceId, mode, device, grant, tunnel, bridge });
      const tConfigured = performance.now();
      const allowedIps = [`${grant.gateway}/32`, ...grant.routes];
      const directIp = tunnel.directIp ?? undefined;
      session.directEndpoint = directIp ? `${directIp}:${grant.port}` : undefined;
      if (session.directEndpoint) {
        await device.setPeer({ publicKey: grant.publicKey, allowedIps, endpoint: session.directEndpoint });
        if (await this.#handshakeWithin(device, grant.publicKey, DIRECT_HANDSHAKE_TIMEOUT_MS))
          session.path = 'direct';
        else await device.setEndpoint(grant.publicKey, bridge.endpoint);
      } else if (tunnel.relayEndpoint) {
        await device.setPeer({ publicKey: grant.publicKey, allowedIps, endpoint: tunnel.relayEndpoint });
        if (await this.#handshakeWithin(device, grant.publicKey, RELAY_HANDSHAKE_TIMEOUT_MS)) {
          session.relayedEndpoint = tunnel.relayEndpoint;
        } else {
          // A new peer entry: WireGuard sends the next handshake now, on the bridge, instead of after
          // its 5 s retry timer.
          await device.removePeer(grant.publicKey);
          await device.setPeer({ publicKey: grant.publicKey, allowedIps, endpoint: bridge.endpoint });
          this.#o.log.info("vpn: the relay's UDP port did not answer; using the bridge on the channel", {
            serviceId: serviceId.toString(),
            relay: tunnel.relayEndpoint,
          });
        }
      } else {
        await device.setPeer({ publicKey: grant.publicKey, allowedIps, endpoint: bridge.endpoint });
      }
      session.timer = setInterval(() => void this.#checkPath(session), PATH_CHECK_INTERVAL_MS);
      session.timer.unref();
      this.#o.log.info('vpn up', {
        serviceId: serviceId.toString(),
        interface: name,
        address: grant.address,
        path: session.path,
        ...(session.path === 'relayed' ? { via: session.viaDatagramRelay ? 'relay UDP' : 'bridge' } : {}),
        routes: grant.routes.join(','),
        // Where the time went: ticket exchange ∥ interface start ∥ rules, then addresses/routes, then the handshake.
        ...took,
        configureMs: Math.round(tConfigured - tReady),
        handshakeMs: Math.round(performance.now() - tConfigured),
      });
      return session;
    } catch (err) {
      bridge?.close();
      tunnel.channel.destroy();
      await device.destroy();
      await deleteTable(tableName(name));
      throw err;
    }
  }

  async #handshakeWithin(device: WireGuardDevice, publicKey: Uint8Array, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    const hex = keyHex(publicKey);
    while (Date.now() < deadline) {
      const state = await device.state().catch(() => undefined);
      if ((state?.peers.find((p) => p.publicKey === hex)?.lastHandshakeSec ?? 0) > 0) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  /** Direct path lost → bridge; bridged with a direct connection now → try direct, keep it if the host answers there. */
  async #checkPath(s: ClientSession): Promise<void> {
    if (s.closed || s.probing) return;
    const hex = keyHex(s.grant.publicKey);
    const peer = (await s.device.state().catch(() => undefined))?.peers.find((p) => p.publicKey === hex);
    if (!peer) return;
    if (peer.rxBytes > s.lastRx) {
      s.lastRx = peer.rxBytes;
      s.lastRxAt = Date.now();
    }
    if (s.path === 'relayed' && s.viaDatagramRelay && Date.now() - s.lastRxAt > DIRECT_SILENCE_MS) {
      // The relay's UDP port stopped answering (UDP blocked since, a NAT mapping gone): the bridge.
      s.relayedEndpoint = s.bridge.endpoint;
      s.lastRxAt = Date.now();
      await s.device.setEndpoint(s.grant.publicKey, s.relayedEndpoint).catch(() => {});
      this.#o.log.info("vpn path: relayed on the bridge (the relay's UDP port stopped answering)", {
        serviceId: s.serviceId.toString(),
      });
      return;
    }
    if (s.path === 'direct' && Date.now() - s.lastRxAt > DIRECT_SILENCE_MS) {
      await s.device.setEndpoint(s.grant.publicKey, s.relayedEndpoint).catch(() => {});
      s.path = 'relayed';
      s.lastDirectTry = Date.now();
      this.#o.log.info('vpn path: relayed (the direct path stopped answering)', {
        serviceId: s.serviceId.toString(),
      });
      return;
    }
    if (s.path !== 'relayed' || Date.now() - s.lastDirectTry < s.retryDelay) return;
    s.lastDirectTry = Date.now();
    const ip = this.#o.directIp?.(s.tunnel.peerId);
    const endpoint = ip ? `${ip}:${s.grant.port}` : s.directEndpoint;
    if (!endpoint) return;
    s.probing = true;
    try {
      // Setting the keepalive sends one at once: the host hears us on the direct path right away.
      await s.device.setEndpoint(s.grant.publicKey, endpoint);
      await new Promise((r) => setTimeout(r, 1_000));
      const peerNow = async () =>
        (await s.device.state().catch(() => undefined))?.peers.find((p) => p.publicKey === hex);
      const rx = async () => (await peerNow())?.rxBytes ?? 0;
      // From here on (datagrams the host had sent to the bridge before have arrived) the host sends
      // straight to us only if it got our packets there: WireGuard roams to where it last heard the peer.
      const mark = { bridged: s.bridge.stats.datagramsIn, rx: await rx() };
      await new Promise((r) => setTimeout(r, DIRECT_PROBE_MS));
      // Through the relay's UDP port the host's datagrams skip the bridge and its counter; there,
      // WireGuard's endpoint shows which way they came (it roams to where it last heard the host).
      const after = await peerNow();
      const direct =
        (after?.rxBytes ?? 0) > mark.rx &&
        s.bridge.stats.datagramsIn === mark.bridged &&
        (!s.viaDatagramRelay || after?.endpoint === endpoint);
      if (direct && !s.closed) {
        s.path = 'direct';
        s.directEndpoint = endpoint;
        s.retryDelay = DIRECT_RETRY_INTERVAL_MS;
        s.lastRxAt = Date.now();
        this.#o.log.info('vpn path: direct again', { serviceId: s.serviceId.toString(), endpoint });
      } else if (!s.closed) {
        s.retryDelay = Math.min(s.retryDelay * 2, DIRECT_RETRY_MAX_MS);
        await s.device.setEndpoint(s.grant.publicKey, s.relayedEndpoint);
        this.#o.log.info('vpn path: the direct path did not answer; staying relayed', {
          serviceId: s.serviceId.toString(),
          endpoint,
          nextTryS: Math.round(s.retryDelay / 1000),
        });
      }
    } catch {
      if (!s.closed) await s.device.setEndpoint(s.grant.publicKey, s.relayedEndpoint).catch(() => {});
    } finally {
      s.probing = false;
    }
  }

  async #end(serviceId: bigint, reason: string): Promise<void> {
    const s = this.#sessions.get(serviceId);
    if (!s || s.closed) return;
    s.closed = true;
    this.#sessions.delete(serviceId);
    clearInterval(s.timer);
    s.bridge.close();
    await s.device.destroy();
    await deleteTable(tableName(s.device.name));
    this.#ended.unshift({ serviceId: serviceId.toString(), reason, at: Date.now() });
    this.#ended.length = Math.min(this.#ended.length, 16);
    this.#o.log.info('vpn down', { serviceId: serviceId.toString(), reason });
  }

  /** Leaves one service's VPN, or every one; returns how many were up. */
  async down(serviceId?: bigint): Promise<number> {
    const ids = serviceId === undefined ? [...this.#sessions.keys()] : [serviceId];
    let n = 0;
    for (const id of ids) {
      if (!this.#sessions.has(id)) continue;
      n++;
      await this.#end(id, 'vpn down');
    }
    return n;
  }

  async #info(s: ClientSession): Promise<VpnSessionInfo | undefined> {
    const hex = keyHex(s.grant.publicKey);
    const wg = (await s.device.state().catch(() => undefined))?.peers.find((p) => p.publicKey === hex);
    return {
      id: s.tunnel.sessionId,
      role: s.mode === 'site' ? 'site' : 'client',
      serviceId: s.serviceId.toString(),
      peerId: s.tunnel.peerId,
      interface: s.device.name,
      address: s.grant.address,
      gateway: s.grant.gateway,
      routes: s.grant.routes,
      path: s.path,
      endpoint: wg?.endpoint ?? null,
      bytesIn: wg?.rxBytes ?? 0,
      bytesOut: wg?.txBytes ?? 0,
      handshakeAgeS:
        wg && wg.lastHandshakeSec > 0
          ? Math.max(0, Math.round(Date.now() / 1000 - wg.lastHandshakeSec))
          : null,
      openedAt: s.openedAt,
    };
  }

  /** Live sessions with WireGuard's counters. */
  async sessions(): Promise<VpnSessionInfo[]> {
    const out: VpnSessionInfo[] = [];
    for (const s of this.#sessions.values()) {
      const info = await this.#info(s);
      if (info) out.push(info);
    }
    return out;
  }

  /** Recently ended sessions with their reason, newest first. */
  ended(): EndedVpnSession[] {
    return [...this.#ended];
  }

  /** Leaves every VPN (node stop). */
  async stop(): Promise<void> {
    await this.down();
  }
}
