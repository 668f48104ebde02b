/**
 * The datagram side of a relay pairing: two UDP ports on the relay, one per side, that forward each
 * datagram to the other side as it is. WireGuard on each node sends straight to its port, so a relayed
 * VPN session costs the nodes nothing per packet (the channel bridge, bridge.ts in @dibs/vpn, moves
 * every datagram through both nodes' event loops); the relay moves opaque, end-to-end encrypted
 * datagrams, as a TURN server does, with no framing of its own.
 *
 * A side's port only listens to the IP its rendezvous connection came from (the one that presented
 * that side's one-time token), and, once it has heard from there, only to that address (latching: the
 * socket is connected to it, as NATs choose the port): nobody else can inject datagrams or have the
 * relay send anywhere. A side whose NAT later moves it to another port is not heard any more; its
 * client notices the silence and carries the datagrams on the channel instead. Until the other side
 * has been heard from, its newest datagram is kept (one, so a first handshake is not lost).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  MAX_RELAY_PENDING_DATAGRAMS,
  MIN_RELAY_DATAGRAM_BYTES,
  RELAY_DATAGRAM_SOCKET_BYTES,
} from './constants.ts';
import { plainIp } from './addresses.ts';

/** Counters of one datagram pair. */
export interface DatagramPairStats {
  /** Datagrams forwarded host → client and client → host. */
  toClient: number;
  toHost: number;
  /** Datagrams dropped: from an address not allowed, too short, or with nobody to forward to. */
  dropped: number;
}

type Side = 'host' | 'client';

interface End {
  socket: Socket;
  /** The IP this side may send from (its rendezvous connection's), once known. */
  ip: string | undefined;
  /** This side has been heard from: its socket is connected (or connecting) to where. */
  latched: boolean;
  /** A datagram from this side that waits for the other side to be heard from. */
  held: Buffer | undefined;
  /** The socket's connect completed (sends go out from then on). */
  connected: boolean;
  /** Datagrams for this side that came while its socket was connecting (a turn of the event loop). */
  pending: Buffer[];
}

/** Two UDP ports forwarding between the two sides of one relayed session. */
export class DatagramPair {
  readonly #ends: Record<Side, End>;
  readonly stats: DatagramPairStats = { toClient: 0, toHost: 0, dropped: 0 };
  readonly #ports: { host: number; client: number };
  #closed = false;

  private constructor(host: Socket, client: Socket) {
    this.#ends = {
      host: {
        socket: host,
        ip: undefined,
        latched: false,
        held: undefined,
        connected: false,
        pending: [],
      },
      client: {
        socket: client,
        ip: undefined,
        latched: false,
        held: undefined,
        connected: false,
        pending: [],
      },
    };
    this.#ports = { host: host.address().port, client: client.address().port };
    this.#listen('host', 'client');
    this.#listen('client', 'host');
  }

  /** Binds both ports on `bindHost` (IPv4). */
  static async open(bindHost: string): Promise<DatagramPair> {
    const bind = async (): Promise<Socket> => {
      const socket = createSocket({
        type: 'udp4',
        recvBufferSize: RELAY_DATAGRAM_SOCKET_BYTES,
        sendBufferSize: RELAY_DATAGRAM_SOCKET_BYTES,
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, bindHost, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    };
    const host = await bind();
    const client = await bind().catch((err: Error) => {
      host.close();
      throw err;
    });
    return new DatagramPair(host, client);
  }

  /** The port each side sends to. */
  get ports(): { host: number; client: number } {
    return { ...this.#ports };
  }

  /** Lets `side` send from `ip` (the address its rendezvous connection came from). Set once. */
  allow(side: Side, ip: string): void {
    const end = this.#ends[side];
    if (end.ip === undefined) end.ip = plainIp(ip);
  }

  #listen(from: Side, to: Side): void {
    const end = this.#ends[from];
    const other = this.#ends[to];
    end.socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (this.#closed || rinfo.address !== end.ip || msg.length < MIN_RELAY_DATAGRAM_BYTES) {
        this.stats.dropped++;
        return;
      }
      if (!end.latched) {
        end.latched = true;
        // Connected to where this side was heard from: the kernel drops datagrams from anyone else
        // from here on, and sends skip the address lookup (a datagram sent while connecting waits).
        end.socket.connect(rinfo.port, rinfo.address, () => {
          if (this.#closed) return;
          end.connected = true;
          const pending = end.pending;
          end.pending = [];
          for (const d of pending) this.#send(from, d);
        });
        const held = other.held;
        other.held = undefined;
        if (held) {
          // The other side's held datagram goes now that we know where this side is; this one does
          // not. Both are most likely handshake initiations: delivering both would cross them, and
          // WireGuard drops the answer to an initiation once it has taken the other side's (each side
          // then waits out its 5 s retry). One initiation, answered, completes the handshake at once.
          this.#send(from, held);
          this.stats.dropped++;
          return;
        }
      }
      if (!other.latched) {
        // Only the newest waits: an initiation replaces the one before it.
        if (end.held) this.stats.dropped++;
        end.held = msg;
        return;
      }
      this.#send(to, msg);
    });
    end.socket.on('error', () => {
      // A send to a vanished NAT mapping (ICMP unreachable) reports here; the next datagram tries again.
    });
  }

  /**
   * Sends a datagram to side `to` out of `to`'s own port (where its WireGuard sends, so its NAT lets the
   * answer in), connected to where `to` was heard from.
   */
  #send(to: Side, msg: Buffer): void {
    const end = this.#ends[to];
    if (!end.connected) {
      if (end.pending.length < MAX_RELAY_PENDING_DATAGRAMS) end.pending.push(msg);
      else this.stats.dropped++;
      return;
    }
    try {
      end.socket.send(msg);
    } catch {
      // A closed socket (the pair ending under a queued send): nothing to deliver to.
      this.stats.dropped++;
      return;
    }
    if (to === 'client') this.stats.toClient++;
    else this.stats.toHost++;
  }

  /** Closes both ports. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const end of Object.values(this.#ends)) {
      end.held = undefined;
      end.pending = [];
      try {
        end.socket.close();
      } catch {}
    }
  }
}
