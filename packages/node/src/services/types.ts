/**
 * The services runtime's public shape: what the daemon's HTTP API and the CLI call to publish,
 * list and retire services, open local connections and SOCKS5 proxies, and read live sessions.
 */
import type { VpnSessionInfo } from '@dibs/vpn';

/** Kinds of service this node can host or reach. */
export type ServiceType = 'tcp' | 'http' | 'vpn';

/** Who may obtain a grant, as the Services contract knows it. */
export type ServicePolicy =
  | 'public'
  | 'allowlist'
  | 'organization'
  | 'organization-network'
  | 'token-holders';

/** What `publish` needs: private parts (target, allow rules) stay in the local catalog, never on chain. */
export interface PublishInput {
  name: string;
  type: ServiceType;
  /** host:port behind the service; required for tcp and http. */
  target?: string;
  /** vpn only: `cidr[:port-range]` rules, e.g. `10.0.0.0/8:80-443`. */
  allow?: string[];
  /** vpn only: site subnets L3 clients route here (`dibs vpn up`), e.g. `10.60.0.0/24`. */
  subnets?: string[];
  /** vpn only: the L3 clients' address pool; default 100.64.(id mod 256).0/24. */
  pool?: string;
  /** Price per grant in the payment token's smallest unit; default 0. */
  price?: bigint;
  /** ERC-20 payment token; default the network's Token. */
  token?: `0x${string}`;
  policy: 'public' | 'allowlist' | 'organization' | 'token-holders';
  /** token-holders policy: the ERC-20 an account must hold. */
  holderToken?: `0x${string}`;
  /**
   * token-holders policy: the least balance admitted, a decimal amount in the holder token's units
   * (e.g. "2.5"); default one base unit.
   */
  tokenThreshold?: string;
  /** allowlist policy: addresses admitted. */
  allowlist?: `0x${string}`[];
  /** organization policy: members of this organization are admitted. */
  organizationId?: bigint;
  /** How long a grant lasts; default the chain's default. */
  grantDurationSeconds?: number;
}

/** A service: own (hosted here) or reachable (published by another node). */
export interface ServiceView {
  id: bigint;
  name: string;
  type: string;
  owner: string;
  /** Address of the node that hosts it. */
  host: string;
  hostPeerId?: string;
  own: boolean;
  /** Own services only. */
  target?: string;
  /** Own vpn services only. */
  allow?: string[];
  /** Own vpn services only: site subnets for L3 clients. */
  subnets?: string[];
  /** Own vpn services only: the L3 address pool, if set. */
  pool?: string;
  price: bigint;
  token?: string;
  policy: ServicePolicy;
  active: boolean;
}

/** A local TCP listener forwarding each accepted connection through its own tunnel. */
export interface ConnectionView {
  id: string;
  serviceId: bigint;
  serviceName: string;
  /** 127.0.0.1:port */
  localAddress: string;
  /** Unix ms. */
  openedAt: number;
  /** Tunnels open now. */
  tunnels: number;
  bytesIn: number;
  bytesOut: number;
  lastError?: string;
}

/** A local SOCKS5 listener. */
export interface ProxyView {
  id: string;
  localAddress: string;
  /** Unix ms. */
  openedAt: number;
  /** Tunnels open now. */
  tunnels: number;
}

/** One tunnel, inbound (we host) or outbound (we are the client). */
export interface SessionView {
  id: string;
  serviceId: bigint;
  serviceName: string;
  peerId: string;
  direction: 'inbound' | 'outbound';
  path: 'direct' | 'relayed';
  channel: 'data' | 'stream';
  /** Unix ms. */
  openedAt: number;
  bytesIn: number;
  bytesOut: number;
  /** host:port asked for through a vpn service. */
  destination?: string;
}

/** The L3 VPN as `dibs vpn status`, the API and the UI show it. */
export interface VpnStatusView {
  /** The host can run the L3 VPN (root, /dev/net/tun, wireguard-go, ip, nft). */
  supported: boolean;
  /** Why not, and what to use instead. */
  reason?: string;
  hint?: string;
  sessions: VpnSessionInfo[];
  /** Recently ended joined sessions, newest first. */
  ended: Array<{ serviceId: string; reason: string; at: number }>;
}

/** The services part of a running node. */
export interface ServicesRuntime {
  publish(input: PublishInput): Promise<ServiceView>;
  retire(serviceId: bigint): Promise<void>;
  /** Own services and every active service on chain. */
  list(): Promise<ServiceView[]>;
  show(serviceId: bigint): Promise<ServiceView>;
  /** Opens a local TCP listener (default 127.0.0.1:0) forwarding to the service. */
  connect(input: { serviceId: bigint; listen?: string }): Promise<ConnectionView>;
  disconnect(connectionId: string): Promise<void>;
  connections(): ConnectionView[];
  /** Opens a local SOCKS5 listener. */
  startProxy(input: { listen: string; via?: bigint }): Promise<ProxyView>;
  stopProxy(proxyId: string): Promise<void>;
  proxies(): ProxyView[];
  /** Inbound (host) and outbound (client) tunnels. */
  sessions(): SessionView[];
  /** Joins a vpn service at L3 (`site`: also forwards this node's LAN, masqueraded). */
  vpnUp(input: { serviceId: bigint; mode: 'client' | 'site' }): Promise<VpnSessionInfo>;
  /** Leaves one service's VPN, or all; returns how many were up. */
  vpnDown(serviceId?: bigint): Promise<number>;
  vpnStatus(): Promise<VpnStatusView>;
  stop(): Promise<void>;
}
