/**
 * The host side of `/dibs/tunnel/1.0`: checks the service ticket (with a bounded wait for the chain
 * mirror), picks and dials the destination, registers the session so chain state can end it, offers
 * the encrypted data channel and forwards bytes both ways. Nothing reaches the target before the
 * ticket checked out; a bad stream is reset with a logged reason and nothing else is disturbed.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import type { SessionRegistry, TicketError, TicketVerifier, VerifiedSession } from '@dibs/core';
import type { Connection, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { DibsHost } from '../p2p/host.ts';
import { type P2pLogger, stderrLogger } from '../p2p/log.ts';
import {
  CHALLENGE_BYTES,
  CHANNEL_HIGH_WATER_MARK,
  CHANNEL_SOCKET_OPTIONS,
  CONTROL_MESSAGE_TIMEOUT_MS,
  DATA_CONNECT_TIMEOUT_MS,
  DATA_MAGIC,
  DATA_OFFER_TIMEOUT_MS,
  DATA_PREAMBLE_BYTES,
  TUNNEL_CATCH_UP_MS,
  TUNNEL_CATCH_UP_ATTEMPTS,
  MAX_OFFER_HOSTS,
  MAX_PENDING_DATA_CONNECTIONS,
  MAX_TUNNEL_STREAMS,
  MAX_TUNNELS_PER_PEER,
  MAX_TUNNELS_TOTAL,
  NONCE_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_TAG_BYTES,
  RELAY_MAGIC,
  RELAY_REQUEST_TIMEOUT_MS,
  SESSION_ID_BYTES,
  TARGET_CONNECT_TIMEOUT_MS,
  TUNNEL_VERSION,
  dataLabel,
  MAX_DATA_LABEL_BYTES,
  tunnelProtocol,
  tunnelRelayProtocol,
} from './constants.ts';
import { defaultBindHost, isWildcard, plainIp, relayOf, tcpHosts } from './addresses.ts';
import { chooseDestination, type HostedService, resolveHost, VPN_SERVICE_TYPE } from './destination.ts';
import { TunnelError } from './errors.ts';
import { readControl, writeControl } from './control.ts';
import { dataLabelRefusal, readPreamble } from './preamble.ts';
import { type Destination, type OpenMessage, type TunnelMessage, TunnelMessageType } from './messages.ts';
import { type DataKeys, deriveDataKeys, RecordOpener, RecordSealer } from './record.ts';
import { SecureChannel } from './secure-channel.ts';
import { StreamChannel } from './stream-channel.ts';
import {
  type TunnelChannel,
  type TunnelPath,
  type TunnelSessionInfo,
  TunnelSessionTable,
} from './sessions.ts';
import { splice } from './splice.ts';

/**
 * Verifier codes meaning "the chain mirror has not seen it yet" rather than "invalid" (CHAIN_STALE:
 * a burst of blocks the mirror is about to apply); each is retried within the catch-up wait.
 */
const NOT_YET_MIRRORED = new Set(['UNKNOWN_GRANT', 'UNKNOWN_CLIENT_KEY', 'UNKNOWN_SERVICE', 'CHAIN_STALE']);

/** Data-channel listener settings. */
export interface DataChannelOptions {
  /** Interface to bind; default the libp2p TCP listener's (loopback-only host → 127.0.0.1, else all). */
  host?: string;
  /** Port to bind; default 0 (the OS picks). */
  port?: number;
  /** Addresses to offer instead of the host's own TCP addresses (a port forward, a public IP). */
  announce?: { hosts?: string[]; port?: number };
}

/** An L3 VPN session the host admitted (@dibs/vpn behind the services runtime). */
export interface AcceptedVpn {
  /** The encoded grant for the client (in the OK result). */
  grant: Uint8Array;
  /**
   * Runs the session on its channel (bridge + lifetime). `relayEndpoint`: the relay's UDP port for our
   * WireGuard datagrams (`ip:port`), when the session's relay opened a datagram relay for it.
   */
  attach(channel: SecureChannel | StreamChannel, path: TunnelPath, relayEndpoint?: string): Promise<void>;
  /** Ends the session (peer and rules removed). Idempotent. */
  close(reason?: string): Promise<void>;
}

/** Admits a VPN request on a ticket that checked out; throws a TunnelError to refuse. */
export type VpnAcceptor = (params: {
  session: VerifiedSession;
  service: HostedService;
  request: Uint8Array;
  peerId: string;
  sessionId: string;
  /** Addresses of this node the client may reach WireGuard's UDP port at. */
  hosts: string[];
}) => Promise<AcceptedVpn>;

/** Options of {@link TunnelServer.start}. */
export interface TunnelServerOptions {
  /** The node's libp2p host; the protocol is registered behind its admission gate. */
  host: DibsHost;
  /** Verifies service tickets against the node's GrantCache (without serviceIds: any service hosted here). */
  verifier: TicketVerifier;
  /** Live sessions on the same GrantCache: revocation, retirement and expiry close tunnels. */
  sessions: SessionRegistry;
  /**
   * The hosted service behind a service id, or undefined when this node does not serve it (here: on
   * this host). May throw a TunnelError to refuse with its own reason.
   */
  lookup(serviceId: bigint): HostedService | undefined | Promise<HostedService | undefined>;
  /**
   * Protocol prefix of the host's network: the tunnel runs as `/<prefix>/tunnel/1.0` and its data
   * channel carries the network label (constants' dataLabel). Default the public network's (`dibs`);
   * an organization host's is `dibs/org/<label>/<orgId>`.
   */
  protocolPrefix?: string;
  /** Asks the chain mirror to poll now (the daemon wires `mirror.pollOnce()`). */
  catchUp?: () => Promise<void>;
  /** Longest wait for the mirror on a grant it has not seen; default TUNNEL_CATCH_UP_MS. */
  catchUpMs?: number;
  /** The data channel; `false` disables it (every tunnel uses the stream). Default on. */
  dataChannel?: boolean | DataChannelOptions;
  /**
   * Tunnels arriving through a relay that runs `/dibs/tunnel-relay/1.0` get a data channel met at the
   * relay's rendezvous port; `false` keeps them on the stream. Default on.
   */
  relayedData?: boolean;
  /** L3 VPN sessions (open requests with a vpn request); absent = refused. */
  vpn?: VpnAcceptor;
  /** Name resolution at the exit (vpn destinations); default dns.lookup. */
  resolve?: (host: string) => Promise<string[]>;
  /** Per-peer and total tunnel limits; defaults MAX_TUNNELS_PER_PEER / MAX_TUNNELS_TOTAL. */
  maxTunnelsPerPeer?: number;
  maxTunnels?: number;
  logger?: P2pLogger;
  /**
   * Told of every tunnel this server refuses (a ticket that does not check out, a policy the client no
   * longer meets) and every live tunnel chain state ends (revocation, allowlist removal, retirement).
   */
  onRefused?: (refusal: TunnelRefusal) => void;
}

/** A tunnel refused or ended by this server, for the audit trail. */
export interface TunnelRefusal {
  peer: string;
  code: string;
  reason: string;
  serviceId?: bigint;
}

/** Where a data-channel offer points: our own listener, or a relay rendezvous with the client's token. */
type OfferAddress = {
  port: number;
  hosts: string[];
  relayToken?: Uint8Array;
  /** The datagram relay's port for the client (in the offer) and ours (`ip:port`, kept here). */
  udpPort?: number;
  hostUdpEndpoint?: string;
};

interface PendingData {
  keys: DataKeys;
  timer: NodeJS.Timeout;
  bound?: SecureChannel;
  onBound?: (channel: SecureChannel) => void;
}

/** The tunnel server of one node. */
export class TunnelServer {
  readonly #options: TunnelServerOptions;
  readonly #log: P2pLogger;
  readonly #table = new TunnelSessionTable();
  readonly #pending = new Map<string, PendingData>();
  readonly #closers = new Set<(err: Error) => void>();
  readonly #perPeer: number;
  readonly #total: number;
  /** The tunnel protocol on this host, its relay pairing protocol and the data channel's network label. */
  readonly #protocol: string;
  readonly #relayProtocol: string;
  readonly #label: string;
  readonly #labelBytes: Buffer;
  #dataServer: Server | undefined;
  #dataPending = 0;
  #handshakes = 0;
  #stopped = false;

  private constructor(options: TunnelServerOptions) {
    this.#options = options;
    this.#log = options.logger ?? stderrLogger;
    this.#perPeer = options.maxTunnelsPerPeer ?? MAX_TUNNELS_PER_PEER;
    this.#total = options.maxTunnels ?? MAX_TUNNELS_TOTAL;
    this.#protocol = tunnelProtocol(options.protocolPrefix);
    this.#relayProtocol = tunnelRelayProtocol(options.protocolPrefix);
    this.#label = dataLabel(options.protocolPrefix);
    this.#labelBytes = Buffer.from(this.#label);
    if (this.#labelBytes.length > MAX_DATA_LABEL_BYTES) {
      throw new TunnelError(
        'INTERNAL',
        `network label "${this.#label}" is longer than ${MAX_DATA_LABEL_BYTES} bytes`,
      );
    }
  }

  /** The protocol id this server answers on its host. */
  get protocol(): string {
    return this.#protocol;
  }

  /** Starts the data-channel listener and registers the tunnel protocol (`/dibs/tunnel/1.0`) on the host. */
  static async start(options: TunnelServerOptions): Promise<TunnelServer> {
    const server = new TunnelServer(options);
    if (options.dataChannel !== false) await server.#listenData();
    await options.host.handle(
      server.#protocol,
      (stream, connection) => server.#onStream(stream, connection),
      {
        maxInboundStreams: MAX_TUNNEL_STREAMS,
        maxOutboundStreams: MAX_TUNNEL_STREAMS,
        runOnLimitedConnection: true,
      },
    );
    return server;
  }

  /** Live inbound tunnels with their byte counts. */
  sessions(): TunnelSessionInfo[] {
    return this.#table.list();
  }

  /** The data channel's bound address, if it runs. */
  dataAddress(): { host: string; port: number } | undefined {
    const a = this.#dataServer?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  /** Unregisters the protocol, closes every tunnel and the data listener. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#options.host.libp2p.unhandle(this.#protocol).catch(() => {});
    for (const close of [...this.#closers]) close(new TunnelError('CLOSED', 'the tunnel server stopped'));
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.bound?.destroy();
    }
    this.#pending.clear();
    const server = this.#dataServer;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #listenData(): Promise<void> {
    const opts = typeof this.#options.dataChannel === 'object' ? this.#options.dataChannel : {};
    const host = opts.host ?? defaultBindHost(this.#options.host);
    const server = createServer(
      {
        allowHalfOpen: true,
        noDelay: true,
        highWaterMark: CHANNEL_HIGH_WATER_MARK,
        // Addresses of admitted peers pass; others share the node's inbound limit, checked before
        // Node.js makes a socket (random bytes at this port cost no more than a refused dial).
        blockList: this.#options.host.admission.inboundBlockList(),
      },
      (socket) => this.#onDataSocket(socket),
    );
    server.maxConnections = MAX_TUNNELS_TOTAL + MAX_PENDING_DATA_CONNECTIONS;
    const listen = (on: string) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port ?? 0, on, () => {
          server.off('error', reject);
          resolve();
        });
      });
    try {
      await listen(host);
    } catch (err) {
      // A host without IPv6: all IPv4 interfaces, as before.
      if (host !== '::' || opts.host !== undefined) throw err;
      await listen('0.0.0.0');
    }
    server.on('error', (err) => this.#log.warn('tunnel data listener error', { error: err.message }));
    this.#dataServer = server;
  }

  #offerAddress(): OfferAddress | undefined {
    const bound = this.dataAddress();
    if (!bound) return undefined;
    const opts = typeof this.#options.dataChannel === 'object' ? this.#options.dataChannel : {};
    const hosts =
      opts.announce?.hosts ??
      (isWildcard(bound.host) ? tcpHosts(this.#options.host) : [bound.host]).filter((h) => isIP(h));
    return { port: opts.announce?.port ?? bound.port, hosts: hosts.slice(0, MAX_OFFER_HOSTS) };
  }

  /**
   * Asks the relay the client came through for a rendezvous pairing, dials the rendezvous with our
   * token and treats that socket like an inbound data connection; the offer carries the client's
   * token. Undefined (no relayed data channel) when the relay does not offer one or cannot be reached.
   */
  async #relayOffer(
    relay: { peerId: string; ip: string | undefined },
    datagrams: boolean,
  ): Promise<OfferAddress | undefined> {
    if (this.#options.relayedData === false) return undefined;
    try {
      const libp2p = this.#options.host.libp2p;
      const signal = AbortSignal.timeout(RELAY_REQUEST_TIMEOUT_MS);
      const stream = await libp2p.dialProtocol(peerIdFromString(relay.peerId), this.#relayProtocol, {
        signal,
      });
      let pair: TunnelMessage;
      try {
        await writeControl(
          stream,
          { type: TunnelMessageType.PAIR_REQUEST, ...(datagrams ? { datagrams: true } : {}) },
          RELAY_REQUEST_TIMEOUT_MS,
        );
        pair = await readControl(stream, RELAY_REQUEST_TIMEOUT_MS, 'pairing');
      } finally {
        stream.close().catch(() => {});
      }
      if (pair.type !== TunnelMessageType.PAIR) {
        const why =
          pair.type === TunnelMessageType.RESULT ? `${pair.code}: ${pair.message}` : `type ${pair.type}`;
        throw new TunnelError('MALFORMED', `the relay gave no pairing (${why})`);
      }
      const hosts = [...new Set([...(relay.ip ? [relay.ip] : []), ...pair.hosts])]
        .filter((h) => isIP(h))
        .slice(0, MAX_OFFER_HOSTS);
      const socket = await dialRendezvous(hosts, pair.port, pair.hostToken);
      // Our WireGuard reaches the relay's UDP port at the IP our rendezvous connection reached it at.
      // (The relay's UDP ports are IPv4.)
      const seen = socket.remoteAddress ? plainIp(socket.remoteAddress) : undefined;
      const relayIp = seen && isIP(seen) === 4 ? seen : undefined;
      this.#onDataSocket(socket, true);
      return {
        port: pair.port,
        hosts,
        relayToken: pair.clientToken,
        ...(pair.udp && relayIp
          ? { udpPort: pair.udp.client, hostUdpEndpoint: `${relayIp}:${pair.udp.host}` }
          : {}),
      };
    } catch (err) {
      this.#log.info('no relayed data channel', { relay: relay.peerId, reason: (err as Error).message });
      return undefined;
    }
  }

  /** One tunnel request on an admitted connection. */
  async #onStream(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    let target: Socket | undefined;
    let vpn: AcceptedVpn | undefined;
    let unregister: (() => void) | undefined;
    let sessionIdHex: string | undefined;
    this.#handshakes++;
    try {
      if (this.#table.size + this.#handshakes > this.#total || this.#table.countFor(peer) >= this.#perPeer) {
        throw new TunnelError(
          'TOO_MANY_TUNNELS',
          `this node carries its maximum of tunnels (${this.#total} in all, ${this.#perPeer} per peer); close some and retry`,
        );
      }
      const challenge = randomBytes(CHALLENGE_BYTES);
      await writeControl(
        stream,
        { type: TunnelMessageType.CHALLENGE, challenge },
        CONTROL_MESSAGE_TIMEOUT_MS,
      );
      const open = await readControl(stream, CONTROL_MESSAGE_TIMEOUT_MS, 'open request');
      if (open.type !== TunnelMessageType.OPEN) {
        throw new TunnelError('MALFORMED', `expected an open request, got message type ${open.type}`);
      }
      const session = await this.#verify(open, connection, challenge);
      const service = await this.#options.lookup(session.serviceId);
      if (!service) {
        throw new TunnelError('UNKNOWN_SERVICE', `service ${session.serviceId} is not served by this node`);
      }
      const sessionId = randomBytes(SESSION_ID_BYTES);
      sessionIdHex = sessionId.toString('hex');
      let destination: Destination | null = null;
      if (open.vpn) {
        vpn = await this.#acceptVpn(open.vpn, session, service, peer, sessionIdHex);
      } else {
        destination = await chooseDestination(
          service,
          open.destination,
          this.#options.resolve ?? resolveHost,
        );
        // The target is dialed only now: the ticket checked out and the destination is allowed.
        target = await dialTarget(destination);
      }
      const path: TunnelPath = connection.remoteAddr.toString().includes('/p2p-circuit')
        ? 'relayed'
        : 'direct';
      let offerAddress: OfferAddress | undefined;
      if (open.wantData && this.#dataServer) {
        // Behind a relay our own address is likely unreachable: meet the client at the relay instead.
        const relay = path === 'relayed' ? relayOf(connection.remoteAddr.toString()) : undefined;
        offerAddress = (relay && (await this.#relayOffer(relay, vpn !== undefined))) || this.#offerAddress();
      }
      let offer = null;
      if (offerAddress) {
        const serverNonce = randomBytes(NONCE_BYTES);
        const keys = deriveDataKeys({
          sessionKey: session.sessionKey,
          challenge,
          clientNonce: open.clientNonce,
          serverNonce,
          clientPeerId: connection.remotePeer.toMultihash().bytes,
          serverPeerId: this.#options.host.peerId.toMultihash().bytes,
          sessionId,
          networkLabel: this.#label,
        });
        const id = sessionIdHex;
        const timer = setTimeout(() => this.#dropPending(id), DATA_OFFER_TIMEOUT_MS);
        timer.unref();
        this.#pending.set(id, { keys, timer });
        const { hostUdpEndpoint: _, ...address } = offerAddress;
        offer = { ...address, serverNonce };
      }
      // Chain state may end the session from here on (revocation, retirement, expiry).
      let ended: TunnelError | undefined;
      let closeNow: ((err: Error) => void) | undefined;
      unregister = this.#options.sessions.register(session, (reason: TicketError) => {
        ended = new TunnelError('SESSION_ENDED', `tunnel closed: ${reason.message}`, { detail: reason.code });
        this.#log.info('tunnel closed by chain state', { peer, session: sessionIdHex, code: reason.code });
        this.#tellRefused({ peer, code: reason.code, reason: reason.message, serviceId: session.serviceId });
        closeNow?.(ended);
      });
      if (ended) throw ended;
      await writeControl(
        stream,
        {
          type: TunnelMessageType.RESULT,
          code: 'OK',
          message: '',
          sessionId,
          offer,
          ...(vpn ? { vpn: vpn.grant } : {}),
        },
        CONTROL_MESSAGE_TIMEOUT_MS,
      );
      const start = await readControl(stream, CONTROL_MESSAGE_TIMEOUT_MS, 'start');
      if (start.type !== TunnelMessageType.START) {
        throw new TunnelError('MALFORMED', `expected start, got message type ${start.type}`);
      }
      let channel: SecureChannel | StreamChannel;
      let channelKind: TunnelChannel;
      if (start.channel === 'data') {
        if (!offer) throw new TunnelError('MALFORMED', 'the client chose a data channel it was not offered');
        channel = await this.#claimData(sessionIdHex);
        channelKind = 'data';
        // The control stream's work is done; the data connection carries the tunnel from here.
        stream.close().catch(() => {});
      } else {
        this.#dropPending(sessionIdHex);
        channel = new StreamChannel(stream);
        channelKind = 'stream';
      }
      if (ended) throw ended;
      this.#handshakes--;
      if (vpn) {
        this.#runVpn(
          vpn,
          channel,
          channelKind,
          path,
          {
            peer,
            sessionIdHex,
            session,
            unregister,
            // The datagram relay lives with the relayed data channel: only when that channel carries the session.
            relayEndpoint: channelKind === 'data' ? offerAddress?.hostUdpEndpoint : undefined,
          },
          (close) => {
            closeNow = close;
          },
        );
        return;
      }
      const targetSocket = target!;
      const removeEntry = this.#table.add({
        id: sessionIdHex,
        serviceId: session.serviceId,
        peerId: peer,
        direction: 'inbound',
        path,
        channel: channelKind,
        openedAt: Date.now(),
        bytesIn: () => channel.bytesIn,
        bytesOut: () => channel.bytesOut,
        destination,
      });
      const close = (err: Error) => {
        channel.destroy(err);
        targetSocket.destroy();
      };
      closeNow = close;
      this.#closers.add(close);
      const done = unregister;
      splice(channel, targetSocket, (error) => {
        this.#closers.delete(close);
        removeEntry();
        done();
        this.#log.debug('tunnel ended', {
          peer,
          session: sessionIdHex,
          bytesIn: channel.bytesIn,
          bytesOut: channel.bytesOut,
          ...(error ? { error: error.message } : {}),
        });
      });
      return;
    } catch (err) {
      this.#handshakes--;
      unregister?.();
      target?.destroy();
      void vpn?.close('the tunnel handshake failed');
      if (sessionIdHex) this.#dropPending(sessionIdHex);
      await this.#refuse(stream, peer, err as Error);
    }
  }

  async #acceptVpn(
    request: Uint8Array,
    session: VerifiedSession,
    service: HostedService,
    peerId: string,
    sessionId: string,
  ): Promise<AcceptedVpn> {
    const acceptor = this.#options.vpn;
    if (!acceptor || service.serviceType !== VPN_SERVICE_TYPE) {
      throw new TunnelError(
        'NOT_A_TUNNEL_SERVICE',
        acceptor
          ? `service ${service.serviceId} is of type "${service.serviceType}", not a vpn: it carries no L3 sessions`
          : 'this node does not run the L3 VPN',
      );
    }
    const hosts = this.#offerAddress()?.hosts ?? tcpHosts(this.#options.host).filter((h) => isIP(h) === 4);
    return acceptor({
      session,
      service,
      request,
      peerId,
      sessionId,
      hosts: hosts.filter((h) => isIP(h) === 4),
    });
  }

  /** Hands the channel to the VPN session; chain state, the client or a stop ends both. */
  #runVpn(
    vpn: AcceptedVpn,
    channel: SecureChannel | StreamChannel,
    channelKind: TunnelChannel,
    path: TunnelPath,
    ctx: {
      peer: string;
      sessionIdHex: string;
      session: VerifiedSession;
      unregister: () => void;
      relayEndpoint: string | undefined;
    },
    setCloser: (close: (err: Error) => void) => void,
  ): void {
    const removeEntry = this.#table.add({
      id: ctx.sessionIdHex,
      serviceId: ctx.session.serviceId,
      peerId: ctx.peer,
      direction: 'inbound',
      path,
      channel: channelKind,
      openedAt: Date.now(),
      bytesIn: () => channel.bytesIn,
      bytesOut: () => channel.bytesOut,
      destination: null,
    });
    const close = (err: Error) => {
      channel.destroy(err);
      void vpn.close(err.message);
    };
    setCloser(close);
    this.#closers.add(close);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.#closers.delete(close);
      removeEntry();
      ctx.unregister();
      void vpn.close('the tunnel channel closed');
    };
    channel.once('close', finish);
    vpn.attach(channel, path, ctx.relayEndpoint).catch((err: Error) => {
      this.#log.warn('vpn session could not start', { peer: ctx.peer, error: err.message });
      channel.destroy(err);
      finish();
    });
  }

  async #verify(open: OpenMessage, connection: Connection, challenge: Uint8Array): Promise<VerifiedSession> {
    const input = {
      ticket: open.ticket,
      authenticator: open.authenticator,
      remotePeerId: connection.remotePeer.toMultihash().bytes,
      challenge,
    };
    const verifier = this.#options.verifier;
    const catchUpMs = this.#options.catchUpMs ?? TUNNEL_CATCH_UP_MS;
    const deadline = Date.now() + catchUpMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const session = verifier.verify(input);
        if (session.kind !== 'service') {
          throw new TunnelError(
            'TICKET_REFUSED',
            'a network ticket does not open tunnels; present a service ticket',
            {
              detail: 'WRONG_TYPE',
            },
          );
        }
        return session;
      } catch (err) {
        if (err instanceof TunnelError) throw err;
        const code = String((err as { code?: unknown }).code ?? '');
        const rest = deadline - Date.now();
        // A client that just got its grant may be a block ahead of our mirror: wait for it, bounded.
        if (!NOT_YET_MIRRORED.has(code) || rest <= 0 || attempt >= TUNNEL_CATCH_UP_ATTEMPTS) {
          throw new TunnelError('TICKET_REFUSED', `ticket refused: ${(err as Error).message}`, {
            detail: code || undefined,
            cause: err,
          });
        }
        await this.#waitForMirror(Math.min(rest, 500));
      }
    }
  }

  async #waitForMirror(ms: number): Promise<void> {
    const catchUp = this.#options.catchUp;
    let timer: NodeJS.Timeout | undefined;
    const sleep = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    try {
      if (catchUp) await Promise.race([catchUp().catch(() => {}), sleep]);
      else await sleep;
    } finally {
      clearTimeout(timer);
    }
  }

  #tellRefused(refusal: TunnelRefusal): void {
    try {
      this.#options.onRefused?.(refusal);
    } catch (err) {
      this.#log.warn('tunnel refusal listener failed', { error: (err as Error).message });
    }
  }

  async #refuse(stream: Stream, peer: string, err: Error): Promise<void> {
    const error =
      err instanceof TunnelError
        ? err
        : new TunnelError('INTERNAL', `tunnel failed: ${err.message}`, { cause: err });
    // Protocol violations get a reset; refusals get a result the client can show, then a close.
    const protocolFault = [
      'MALFORMED',
      'TOO_LARGE',
      'TIMEOUT',
      'STREAM_ENDED',
      'UNSUPPORTED_VERSION',
    ].includes(error.code);
    this.#log.info('tunnel refused', {
      peer,
      code: error.code,
      ...(error.detail ? { detail: error.detail } : {}),
      reason: error.message,
    });
    if (!protocolFault) this.#tellRefused({ peer, code: error.detail ?? error.code, reason: error.message });
    if (stream.status !== 'open') return;
    if (protocolFault) {
      stream.abort(error);
      return;
    }
    try {
      const message = error.message.length > 400 ? `${error.message.slice(0, 400)}…` : error.message;
      await writeControl(
        stream,
        {
          type: TunnelMessageType.RESULT,
          code: error.code,
          message: error.detail ? `[${error.detail}] ${message}` : message,
          sessionId: new Uint8Array(0),
          offer: null,
        },
        CONTROL_MESSAGE_TIMEOUT_MS,
      );
      await stream.close({ signal: AbortSignal.timeout(CONTROL_MESSAGE_TIMEOUT_MS) });
    } catch (e) {
      if (stream.status === 'open') stream.abort(e as Error);
    }
  }

  #dropPending(id: string): void {
    const p = this.#pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(id);
    p.bound?.destroy();
  }

  /** The bound data channel of session `id` (the client only starts it after our hello, so it exists). */
  #claimData(id: string): Promise<SecureChannel> {
    const p = this.#pending.get(id);
    if (!p) {
      return Promise.reject(
        new TunnelError('TIMEOUT', 'the data-channel offer expired before the client used it'),
      );
    }
    if (p.bound) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      return Promise.resolve(p.bound);
    }
    return Promise.reject(
      new TunnelError('MALFORMED', 'the client started a data channel that never completed its hello'),
    );
  }

  /** A data connection: straight from the client, or (`viaRelay`) our side of a relay rendezvous. */
  #onDataSocket(socket: Socket, viaRelay = false): void {
    if (this.#dataPending >= MAX_PENDING_DATA_CONNECTIONS || this.#stopped) {
      socket.destroy();
      return;
    }
    this.#dataPending++;
    // The client's network label must be ours: a channel of another network is refused unread.
    const label = this.#labelBytes;
    const afterLabel = DATA_PREAMBLE_BYTES + label.length;
    const want = afterLabel + RECORD_HEADER_BYTES + RECORD_TAG_BYTES;
    readPreamble(socket, {
      bytes: want,
      magic: DATA_MAGIC,
      timeoutMs: DATA_OFFER_TIMEOUT_MS,
      timeoutReason: 'no hello in time',
      onSettled: () => {
        this.#dataPending--;
      },
      onRefused: (reason) =>
        this.#log.info('data connection refused', { remote: socket.remoteAddress, reason }),
      inspect: (all) => {
        const wrongLabel = dataLabelRefusal(all, label);
        if (wrongLabel) return wrongLabel;
        const id = all.subarray(DATA_MAGIC.length + 1, DATA_PREAMBLE_BYTES - 1).toString('hex');
        const pending = this.#pending.get(id);
        if (!pending || pending.bound) return 'unknown or used session id';
        const opener = new RecordOpener(pending.keys.clientToServer);
        try {
          const records = opener.push(all.subarray(afterLabel, want));
          if (records.length !== 1 || records[0]!.fin || records[0]!.plaintext.length !== 0)
            throw new Error('not a hello');
        } catch {
          // A forged hello leaves the offer in place for the real client.
          return 'hello does not authenticate';
        }
        return () => {
          socket.pause();
          const sealer = new RecordSealer(pending.keys.serverToClient);
          for (const part of sealer.seal(new Uint8Array(0))) socket.write(part);
          pending.bound = new SecureChannel({
            socket,
            sealer,
            opener,
            leftover: all.subarray(want),
            busyPoll: !viaRelay,
          });
          pending.bound.on('error', () => {});
        };
      },
    });
  }
}

/** Our side of a relay rendezvous: the first address that connects within the time, token sent. */
async function dialRendezvous(hosts: string[], port: number, token: Uint8Array): Promise<Socket> {
  const deadline = Date.now() + DATA_CONNECT_TIMEOUT_MS;
  let last: Error = new TunnelError('TIMEOUT', 'the relay offered no address to meet at');
  for (const host of hosts) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect({ host, port, ...CHANNEL_SOCKET_OPTIONS });
        const timer = setTimeout(() => {
          s.destroy();
          reject(new TunnelError('TIMEOUT', `relay rendezvous ${host}:${port} did not answer in ${left} ms`));
        }, left);
        s.once('connect', () => {
          clearTimeout(timer);
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', (err) => {
          clearTimeout(timer);
          s.destroy();
          reject(err);
        });
      });
      socket.write(Buffer.concat([RELAY_MAGIC, Buffer.of(TUNNEL_VERSION), token]));
      return socket;
    } catch (err) {
      last = err as Error;
    }
  }
  throw last;
}

/** Connects to the destination within TARGET_CONNECT_TIMEOUT_MS; TARGET_UNREACHABLE otherwise. */
function dialTarget(destination: Destination): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: destination.host,
      port: destination.port,
      ...CHANNEL_SOCKET_OPTIONS,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new TunnelError(
          'TARGET_UNREACHABLE',
          `${destination.host}:${destination.port} did not accept a connection within ${TARGET_CONNECT_TIMEOUT_MS} ms`,
        ),
      );
    }, TARGET_CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.pause();
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new TunnelError(
          'TARGET_UNREACHABLE',
          `cannot reach ${destination.host}:${destination.port} from the host node: ${err.message}`,
          { cause: err },
        ),
      );
    });
  });
}
