/** What operators see of a VPN session (both ends). */

/** How WireGuard's datagrams travel. */
export type VpnPath = 'direct' | 'relayed';

/** One VPN session as `dibs vpn status`, `dibs status --json`, the API and the UI show it. */
export interface VpnSessionInfo {
  /** The tunnel session id (hex), the same on both ends. */
  id: string;
  /** `host`: we serve the site; `client` / `site`: we joined someone's. */
  role: 'host' | 'client' | 'site';
  serviceId: string;
  /** The other node's PeerId. */
  peerId: string;
  interface: string;
  /** The client's address in the pool (ours on a client, the peer's on the host). */
  address: string;
  /** The host's address in the pool. */
  gateway: string;
  /** Subnets routed into the tunnel (client) or reachable through it (host). */
  routes: string[];
  path: VpnPath;
  /** WireGuard's current endpoint for the peer (`ip:port`; 127.0.0.1 = the bridge). */
  endpoint: string | null;
  /** Bytes received from the peer through WireGuard. */
  bytesIn: number;
  /** Bytes sent to the peer through WireGuard. */
  bytesOut: number;
  /** Seconds since the last WireGuard handshake; null before the first. */
  handshakeAgeS: number | null;
  /** Unix ms. */
  openedAt: number;
}
