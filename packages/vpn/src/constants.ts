/** Limits, names and timeouts of the DIBS L3 VPN (WireGuard through wireguard-go). */

/** Version carried in every VPN session message. */
export const VPN_SESSION_VERSION = 1;
/** Largest VPN session message (CBOR) either side accepts. */
export const MAX_VPN_MESSAGE_BYTES = 1024;
/** Bytes of a WireGuard (Curve25519) key. */
export const WG_KEY_BYTES = 32;
/** Most routes (site subnets) one session carries. */
export const MAX_VPN_ROUTES = 16;
/** Most endpoint addresses a host offers for WireGuard's UDP. */
export const MAX_ENDPOINT_HOSTS = 8;
/** Longest text form of an IPv4 CIDR ("255.255.255.255/32"). */
export const MAX_CIDR_CHARS = 18;

/** Interface names start with this, then the node's tag (so a restart finds its own leftovers). */
export const INTERFACE_PREFIX = 'dv';
/** Hex characters of the node tag in interface and table names. */
export const NODE_TAG_CHARS = 6;
/** Linux interface name limit (IFNAMSIZ - 1). */
export const MAX_INTERFACE_NAME = 15;
/** nftables tables are named `dibs_vpn_<interface>` (one per interface). */
export const NFT_TABLE_PREFIX = 'dibs_vpn_';
/** Where wireguard-go puts its UAPI sockets (shared by every network namespace of the machine). */
export const UAPI_DIR = '/var/run/wireguard';

/** Time for one UAPI request and its answer. */
export const UAPI_TIMEOUT_MS = 3_000;
/** Largest UAPI answer read (a `get` with many peers stays far below). */
export const MAX_UAPI_RESPONSE_BYTES = 1024 * 1024;
/** Time for wireguard-go to create its interface and UAPI socket. */
export const DEVICE_START_TIMEOUT_MS = 5_000;
/** Time wireguard-go gets to exit after SIGTERM before SIGKILL. */
export const DEVICE_STOP_TIMEOUT_MS = 3_000;
/** Time for one `ip` or `nft` command. */
export const COMMAND_TIMEOUT_MS = 10_000;
/** MTU of the WireGuard interfaces (wireguard-go's default for IPv4+IPv6 underlays). */
export const WG_MTU = 1420;
/** Keepalive both sides send so NAT mappings stay open and a dead path shows, seconds. */
export const PERSISTENT_KEEPALIVE_S = 5;
/**
 * Time the client gives WireGuard to complete a handshake over the direct UDP path before it carries
 * the datagrams over the DIBS tunnel (relay bridge) instead.
 */
export const DIRECT_HANDSHAKE_TIMEOUT_MS = 1_200;
/**
 * Time the client gives WireGuard to complete a handshake through the relay's UDP port (a datagram
 * relay) before it carries the datagrams on the bridge instead (UDP to the relay blocked).
 */
export const RELAY_HANDSHAKE_TIMEOUT_MS = 1_500;
/** While bridged, how often the client tries the direct path again. */
export const DIRECT_RETRY_INTERVAL_MS = 30_000;
/** A retry that failed doubles the wait before the next, up to this (a probe costs its window's packets). */
export const DIRECT_RETRY_MAX_MS = 15 * 60_000;
/** Time a direct-path retry has to show the host answering directly before the bridge comes back. */
export const DIRECT_PROBE_MS = 2 * PERSISTENT_KEEPALIVE_S * 1000;
/** How often the client reads WireGuard's counters to notice a lost handshake. */
export const PATH_CHECK_INTERVAL_MS = 2_000;
/**
 * Silence on the direct path this long (the host's keepalives come every PERSISTENT_KEEPALIVE_S)
 * means it is gone: the client moves WireGuard to the bridge.
 */
export const DIRECT_SILENCE_MS = 4 * PERSISTENT_KEEPALIVE_S * 1000;

/** Bytes of the big-endian length in front of each bridged datagram. */
export const BRIDGE_FRAME_HEADER_BYTES = 2;
/** Largest datagram the bridge carries (the u16 length's limit). */
export const MAX_BRIDGE_DATAGRAM_BYTES = 0xffff;
/** Smallest WireGuard message (a keepalive is 32 bytes); shorter frames are garbage. */
export const MIN_BRIDGE_DATAGRAM_BYTES = 32;
/**
 * Bytes the bridge lets wait in the channel's buffer before it drops datagrams (as a router queue
 * does): WireGuard and the TCP inside it handle loss; an unbounded queue would only add delay.
 */
export const BRIDGE_QUEUE_BYTES = 4 * 1024 * 1024;

/**
 * Bytes gathered from WireGuard before the bridge writes them to the channel (it writes at the end of
 * each turn of the event loop anyway): a few dozen datagrams per record.
 */
export const BRIDGE_BATCH_BYTES = 64 * 1024;
/**
 * Share of WireGuard's UDP receive buffer (net.core.rmem_default for wireguard-go) the bridge fills
 * at most (pacer.ts): the rest is headroom for datagrams from elsewhere (the direct path, keepalives).
 */
export const BRIDGE_DELIVERY_WINDOW_SHARE = 0.75;
/** Wait before the bridge looks at WireGuard's receive queue again when it was full, ms. */
export const BRIDGE_DELIVERY_RETRY_MS = 1;
/** Bytes waiting for WireGuard before the bridge stops reading the channel (backpressure to the far side). */
export const BRIDGE_DELIVERY_QUEUE_BYTES = 1024 * 1024;
/** Receive and send buffer of the bridge's own socket (Linux caps it at net.core.rmem_max/wmem_max). */
export const BRIDGE_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** Base of the default address pools: service N gets 100.64.(N mod 256).0/24 unless it sets `--pool`. */
export const DEFAULT_POOL_BASE = '100.64.0.0';
/** Prefix length of a default pool. */
export const DEFAULT_POOL_PREFIX = 24;
/** Smallest pool a service may set (a /30 has the gateway and one client). */
export const MAX_POOL_PREFIX = 30;
/** Largest pool a service may set (a /16: 65 533 clients). */
export const MIN_POOL_PREFIX = 16;
