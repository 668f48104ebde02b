/** Session accounting shared by the tunnel server (inbound) and clients (outbound). */
import type { Destination } from './messages.ts';

/** Which network path the libp2p connection takes. */
export type TunnelPath = 'direct' | 'relayed';
/** Which channel carries the bytes: the encrypted TCP data channel or the libp2p stream. */
export type TunnelChannel = 'data' | 'stream';

/** One live tunnel as the API, UI and `dibs status` show it. */
export interface TunnelSessionInfo {
  /** Hex session id (the same on both ends). */
  id: string;
  serviceId: bigint;
  /** The remote peer (client for inbound, host node for outbound). */
  peerId: string;
  direction: 'inbound' | 'outbound';
  path: TunnelPath;
  channel: TunnelChannel;
  /** Unix ms. */
  openedAt: number;
  /** Bytes received from the remote end of the tunnel. */
  bytesIn: number;
  /** Bytes sent to the remote end of the tunnel. */
  bytesOut: number;
  /** Where the host forwards the bytes (the resolved address for vpn services). */
  destination: Destination | null;
}

/** A live entry: fixed fields plus counters read on demand. */
export interface TunnelSessionEntry extends Omit<TunnelSessionInfo, 'bytesIn' | 'bytesOut'> {
  bytesIn(): number;
  bytesOut(): number;
}

/** Live tunnels of one side, keyed by session id. */
export class TunnelSessionTable {
  readonly #entries = new Map<string, TunnelSessionEntry>();
  readonly #byPeer = new Map<string, number>();

  /** Live tunnels. */
  get size(): number {
    return this.#entries.size;
  }

  /** Live tunnels with `peerId`. */
  countFor(peerId: string): number {
    return this.#byPeer.get(peerId) ?? 0;
  }

  /** Adds a tunnel; returns the function that removes it (idempotent). */
  add(entry: TunnelSessionEntry): () => void {
    this.#entries.set(entry.id, entry);
    this.#byPeer.set(entry.peerId, this.countFor(entry.peerId) + 1);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.#entries.delete(entry.id);
      const left = this.countFor(entry.peerId) - 1;
      if (left > 0) this.#byPeer.set(entry.peerId, left);
      else this.#byPeer.delete(entry.peerId);
    };
  }

  /** A snapshot of every live tunnel with current byte counts. */
  list(): TunnelSessionInfo[] {
    return [...this.#entries.values()].map((e) => ({
      id: e.id,
      serviceId: e.serviceId,
      peerId: e.peerId,
      direction: e.direction,
      path: e.path,
      channel: e.channel,
      openedAt: e.openedAt,
      bytesIn: e.bytesIn(),
      bytesOut: e.bytesOut(),
      destination: e.destination,
    }));
  }
}

/** The outbound tunnels of this process (openTunnel's default registry). */
export const clientTunnels = new TunnelSessionTable();
