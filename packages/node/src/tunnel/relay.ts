/**
 * The relayed data channel, relay side (`/dibs/tunnel-relay/1.0`). A host behind NAT asks its relay,
 * over an admitted libp2p connection, for a pairing: two one-time tokens and a TCP rendezvous port.
 * The host and the client each dial the port and present their token; the relay joins the two sockets
 * and forwards bytes unchanged. The records are sealed end to end under keys the relay never learns,
 * so it sees only ciphertext; it carries them at TCP speed instead of through circuit-relay framing.
 * For a VPN session the host may also ask for a datagram relay (datagram-relay.ts): two UDP ports that
 * carry the session's WireGuard datagrams between the two nodes' WireGuard directly, each bound to the
 * IP its side's rendezvous connection came from.
 */
import { randomBytes } from 'node:crypto';
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import type { Connection, Stream } from '@libp2p/interface';
import type { DibsHost } from '../p2p/host.ts';
import { type P2pLogger, stderrLogger } from '../p2p/log.ts';
import { defaultBindHost, isWildcard, tcpHosts } from './addresses.ts';
import {
  CHANNEL_HIGH_WATER_MARK,
  MAX_OFFER_HOSTS,
  MAX_PENDING_DATA_CONNECTIONS,
  MAX_RELAY_DATAGRAM_PAIRS,
  MAX_RELAY_DATAGRAM_PAIRS_PER_PEER,
  MAX_RELAY_PAIRS,
  MAX_RELAY_PAIRS_PER_PEER,
  MAX_RELAY_SPLICES,
  MAX_RELAY_STREAMS,
  RELAY_MAGIC,
  RELAY_PAIR_TIMEOUT_MS,
  RELAY_PREAMBLE_BYTES,
  RELAY_REQUEST_TIMEOUT_MS,
  RELAY_TOKEN_BYTES,
  tunnelRelayProtocol,
} from './constants.ts';
import { readControl, writeControl } from './control.ts';
import { DatagramPair } from './datagram-relay.ts';
import { readPreamble } from './preamble.ts';
import { TunnelError } from './errors.ts';
import { TunnelMessageType } from './messages.ts';
import { splice } from './splice.ts';

/** Options of {@link TunnelRelay.start}. */
export interface TunnelRelayOptions {
  /** The relay node's libp2p host; pairings are only issued behind its admission gate. */
  host: DibsHost;
  /** Interface to bind the rendezvous port; default like the node's TCP listeners. */
  listenHost?: string;
  /** Port to bind; default 0 (the OS picks). */
  port?: number;
  /**
   * Addresses to hand out instead of the bound one (a port forward, a public IP). With a port given
   * (a forward of the rendezvous port only), no datagram relays are offered: their ports would not be
   * forwarded.
   */
  announce?: { hosts?: string[]; port?: number };
  /** Datagram relays at once; default MAX_RELAY_DATAGRAM_PAIRS, 0 offers none. */
  maxDatagramPairs?: number;
  /** Per-peer and total open pairings; defaults MAX_RELAY_PAIRS_PER_PEER / MAX_RELAY_PAIRS. */
  maxPairsPerPeer?: number;
  maxPairs?: number;
  /** How long a pairing waits for both sides; default RELAY_PAIR_TIMEOUT_MS. */
  pairTimeoutMs?: number;
  logger?: P2pLogger;
  /** Protocol prefix of the host's network (pairings on `/<prefix>/tunnel-relay/1.0`); default the public one. */
  protocolPrefix?: string;
}

interface Pair {
  peer: string;
  tokens: [string, string];
  /** Counted in the open pairings (until joined or expired). */
  open: boolean;
  /** The side that arrived first, waiting for the other, and what it sent behind its token. */
  parked: Socket | undefined;
  parkedRest: Buffer | undefined;
  onParkedClose: (() => void) | undefined;
  timer: NodeJS.Timeout;
  /** The session's datagram relay, when the host asked for one; it lives as long as the joined channel. */
  datagrams: DatagramPair | undefined;
}

/** The rendezvous service of one relay node. */
export class TunnelRelay {
  readonly #options: TunnelRelayOptions;
  readonly #log: P2pLogger;
  readonly #byToken = new Map<string, Pair>();
  readonly #perPeer = new Map<string, number>();
  readonly #splices = new Set<Socket>();
  /** Open datagram relays, each with the peer that asked for it. */
  readonly #datagramPairs = new Map<DatagramPair, string>();
  #pairs = 0;
  #pending = 0;
  #server: Server | undefined;
  #stopped = false;

  private constructor(options: TunnelRelayOptions) {
    this.#options = options;
    this.#log = options.logger ?? stderrLogger;
  }

  /** Binds the rendezvous port and registers `/dibs/tunnel-relay/1.0` on the host. */
  static async start(options: TunnelRelayOptions): Promise<TunnelRelay> {
    const relay = new TunnelRelay(options);
    const server = createServer(
      { allowHalfOpen: true, noDelay: true, highWaterMark: CHANNEL_HIGH_WATER_MARK },
      (socket) => relay.#onSocket(socket),
    );
    server.maxConnections = MAX_RELAY_SPLICES * 2 + MAX_PENDING_DATA_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.listenHost ?? defaultBindHost(options.host), () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => relay.#log.warn('tunnel relay listener error', { error: err.message }));
    relay.#server = server;
    await options.host.handle(
      tunnelRelayProtocol(options.protocolPrefix),
      (stream, connection) => {
        void relay.#onStream(stream, connection);
      },
      { maxInboundStreams: MAX_RELAY_STREAMS, maxOutboundStreams: MAX_RELAY_STREAMS },
    );
    return relay;
  }

  /** The rendezvous port's bound address. */
  address(): { host: string; port: number } | undefined {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  /** Pairings issued and not yet joined or expired. */
  get openPairs(): number {
    return this.#pairs;
  }

  /** Sides that arrived with their token and wait for the other. */
  get waiting(): number {
    let n = 0;
    for (const pair of new Set(this.#byToken.values())) if (pair.parked) n++;
    return n;
  }

  /** Relayed data channels carried right now. */
  get activeSplices(): number {
    return this.#splices.size / 2;
  }

  /** Datagram relays open right now (issued or joined). */
  get datagramPairs(): number {
    return this.#datagramPairs.size;
  }

  /** Unregisters the protocol, forgets every pairing, cuts every relayed channel, closes the port. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#options.host.libp2p
      .unhandle(tunnelRelayProtocol(this.#options.protocolPrefix))
      .catch(() => {});
    for (const pair of new Set(this.#byToken.values())) this.#forget(pair);
    for (const s of [...this.#splices]) s.destroy();
    for (const d of [...this.#datagramPairs.keys()]) d.close();
    this.#datagramPairs.clear();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #onStream(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    try {
      const request = await readControl(stream, RELAY_REQUEST_TIMEOUT_MS, 'pairing request');
      if (request.type !== TunnelMessageType.PAIR_REQUEST) {
        throw new TunnelError('MALFORMED', `expected a pairing request, got message type ${request.type}`);
      }
      const perPeer = this.#perPeer.get(peer) ?? 0;
      const maxPerPeer = this.#options.maxPairsPerPeer ?? MAX_RELAY_PAIRS_PER_PEER;
      const maxPairs = this.#options.maxPairs ?? MAX_RELAY_PAIRS;
      if (this.#stopped || perPeer >= maxPerPeer || this.#pairs >= maxPairs) {
        throw new TunnelError(
          'TOO_MANY_TUNNELS',
          `this relay holds its maximum of open pairings (${maxPairs} in all, ${maxPerPeer} per peer); retry shortly`,
        );
      }
      const offer = this.#offerAddress();
      if (!offer) throw new TunnelError('INTERNAL', 'the relay has no rendezvous address to offer');
      const hostToken = randomBytes(RELAY_TOKEN_BYTES);
      const clientToken = randomBytes(RELAY_TOKEN_BYTES);
      const datagrams = request.datagrams ? await this.#openDatagrams(peer) : undefined;
      const pair: Pair = {
        peer,
        tokens: [hostToken.toString('hex'), clientToken.toString('hex')],
        open: true,
        parked: undefined,
        parkedRest: undefined,
        onParkedClose: undefined,
        timer: setTimeout(() => {
          this.#log.info('relay pairing expired', { peer });
          this.#forget(pair);
        }, this.#options.pairTimeoutMs ?? RELAY_PAIR_TIMEOUT_MS),
        datagrams,
      };
      pair.timer.unref();
      for (const t of pair.tokens) this.#byToken.set(t, pair);
      this.#perPeer.set(peer, perPeer + 1);
      this.#pairs++;
      await writeControl(
        stream,
        {
          type: TunnelMessageType.PAIR,
          ...offer,
          hostToken,
          clientToken,
          ...(datagrams ? { udp: datagrams.ports } : {}),
        },
        RELAY_REQUEST_TIMEOUT_MS,
      );
      await stream.close({ signal: AbortSignal.timeout(RELAY_REQUEST_TIMEOUT_MS) }).catch(() => {});
    } catch (err) {
      const error = err as TunnelError;
      this.#log.info('relay pairing refused', { peer, code: error.code, reason: error.message });
      if (stream.status !== 'open') return;
      if (error.code === 'TOO_MANY_TUNNELS' || error.code === 'INTERNAL') {
        await writeControl(
          stream,
          {
            type: TunnelMessageType.RESULT,
            code: error.code,
            message: error.message,
            sessionId: new Uint8Array(0),
            offer: null,
          },
          RELAY_REQUEST_TIMEOUT_MS,
        ).catch(() => {});
        await stream.close().catch(() => {});
      } else {
        stream.abort(error);
      }
    }
  }

  /** A datagram relay for one session, or undefined (with the reason logged) when none can be had. */
  async #openDatagrams(peer: string): Promise<DatagramPair | undefined> {
    const max = this.#options.maxDatagramPairs ?? MAX_RELAY_DATAGRAM_PAIRS;
    let mine = 0;
    for (const p of this.#datagramPairs.values()) if (p === peer) mine++;
    if (
      this.#options.announce?.port !== undefined ||
      this.#datagramPairs.size >= max ||
      mine >= MAX_RELAY_DATAGRAM_PAIRS_PER_PEER
    ) {
      return undefined;
    }
    const bound = this.address()?.host;
    try {
      const pair = await DatagramPair.open(bound && isIPv4(bound) ? bound : '0.0.0.0');
      this.#datagramPairs.set(pair, peer);
      this.#log.info('datagram relay opened', { peer, ...pair.ports });
      return pair;
    } catch (err) {
      this.#log.info('no datagram relay', { peer, reason: (err as Error).message });
      return undefined;
    }
  }

  #closeDatagrams(d: DatagramPair | undefined): void {
    if (!d || !this.#datagramPairs.delete(d)) return;
    d.close();
    this.#log.info('datagram relay closed', { ...d.ports, ...d.stats });
  }

  #offerAddress(): { port: number; hosts: string[] } | undefined {
    const bound = this.address();
    if (!bound) return undefined;
    const hosts =
      this.#options.announce?.hosts ?? (isWildcard(bound.host) ? tcpHosts(this.#options.host) : [bound.host]);
    return { port: this.#options.announce?.port ?? bound.port, hosts: hosts.slice(0, MAX_OFFER_HOSTS) };
  }

  /** Drops a pairing: both tokens stop working and a parked side is closed. */
  #forget(pair: Pair): void {
    clearTimeout(pair.timer);
    for (const t of pair.tokens) if (this.#byToken.get(t) === pair) this.#byToken.delete(t);
    if (pair.open) {
      pair.open = false;
      this.#pairs--;
      const left = (this.#perPeer.get(pair.peer) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(pair.peer, left);
      else this.#perPeer.delete(pair.peer);
    }
    pair.parked?.destroy();
    pair.parked = undefined;
    this.#closeDatagrams(pair.datagrams);
    pair.datagrams = undefined;
  }

  #onSocket(socket: Socket): void {
    if (this.#stopped || this.#pending >= MAX_PENDING_DATA_CONNECTIONS) {
      socket.destroy();
      return;
    }
    this.#pending++;
    readPreamble(socket, {
      bytes: RELAY_PREAMBLE_BYTES,
      magic: RELAY_MAGIC,
      timeoutMs: this.#options.pairTimeoutMs ?? RELAY_PAIR_TIMEOUT_MS,
      timeoutReason: 'no token in time',
      onSettled: () => {
        this.#pending--;
      },
      onRefused: (reason) =>
        this.#log.info('rendezvous connection refused', { remote: socket.remoteAddress, reason }),
      inspect: (all) => {
        const token = all.subarray(RELAY_MAGIC.length + 1, RELAY_PREAMBLE_BYTES).toString('hex');
        const pair = this.#byToken.get(token);
        if (!pair) return 'unknown, used or expired token';
        return () => {
          // One use per token: a second connection with it is refused above.
          this.#byToken.delete(token);
          // Each side's UDP port hears only the IP this side's rendezvous connection came from.
          if (socket.remoteAddress) {
            pair.datagrams?.allow(token === pair.tokens[0] ? 'host' : 'client', socket.remoteAddress);
          }
          socket.pause();
          const rest = all.subarray(RELAY_PREAMBLE_BYTES);
          const other = pair.parked;
          if (!other) {
            pair.parked = socket;
            pair.parkedRest = rest;
            // A side that gives up while waiting takes the pairing with it.
            pair.onParkedClose = () => {
              if (pair.parked === socket) this.#forget(pair);
            };
            socket.once('close', pair.onParkedClose);
            return;
          }
          if (pair.onParkedClose) other.off('close', pair.onParkedClose);
          const otherRest = pair.parkedRest;
          pair.parked = undefined;
          const datagrams = pair.datagrams;
          pair.datagrams = undefined;
          this.#forget(pair);
          this.#join(other, otherRest, socket, rest, datagrams);
        };
      },
    });
  }

  #join(
    a: Socket,
    aRest: Buffer | undefined,
    b: Socket,
    bRest: Buffer,
    datagrams: DatagramPair | undefined,
  ): void {
    if (this.#splices.size / 2 >= MAX_RELAY_SPLICES) {
      this.#log.warn('relay carries its maximum of data channels; refusing a pair', {});
      a.destroy();
      b.destroy();
      this.#closeDatagrams(datagrams);
      return;
    }
    this.#splices.add(a);
    this.#splices.add(b);
    // Bytes that came in behind a side's token belong to the other side.
    if (aRest && aRest.length > 0) b.write(aRest);
    if (bRest.length > 0) a.write(bRest);
    splice(a, b, () => {
      this.#splices.delete(a);
      this.#splices.delete(b);
      // The session's datagrams end with its channel.
      this.#closeDatagrams(datagrams);
    });
    a.resume();
    b.resume();
  }
}
