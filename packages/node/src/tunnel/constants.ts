/** Protocol id, limits and timeouts of the DIBS tunnel (`/dibs/tunnel/1.0`). */

/** Protocol prefix of the public network's tunnel (p2p/constants' PROTOCOL_PREFIX). */
export const PUBLIC_TUNNEL_PREFIX = 'dibs';
/** The libp2p protocol a client opens to reach a service through its host node. */
export const TUNNEL_PROTOCOL = '/dibs/tunnel/1.0';

/**
 * The tunnel protocol of the network whose protocol prefix is `prefix`: `/dibs/tunnel/1.0` in the
 * public network, `/dibs/org/<label>/<orgId>/tunnel/1.0` in an organization network.
 */
export function tunnelProtocol(prefix: string = PUBLIC_TUNNEL_PREFIX): string {
  return `/${prefix}/tunnel/1.0`;
}

/** The relayed data channel's pairing protocol of the network whose protocol prefix is `prefix`. */
export function tunnelRelayProtocol(prefix: string = PUBLIC_TUNNEL_PREFIX): string {
  return `/${prefix}/tunnel-relay/1.0`;
}

/**
 * The network label a data channel carries: empty in the public network, the protocol prefix
 * (`dibs/org/<label>/<orgId>`) in an organization network. It goes in the clear after the session id
 * (so a port refuses another network's channel before any crypto) and into the key derivation (so a
 * channel cannot be moved from one network to another).
 */
export function dataLabel(prefix: string = PUBLIC_TUNNEL_PREFIX): string {
  return prefix === PUBLIC_TUNNEL_PREFIX ? '' : prefix;
}
/** Longest data-channel network label, in bytes (an organization prefix is far shorter). */
export const MAX_DATA_LABEL_BYTES = 96;
/** Version carried in every control message and in the data-channel hello. */
export const TUNNEL_VERSION = 1;

/** Largest control message (CBOR) either side accepts; the open request (ticket ≤ 1 KiB) is the biggest. */
export const MAX_CONTROL_MESSAGE_BYTES = 4096;
/** Bytes of the big-endian length prefix in front of each control message. */
export const CONTROL_LENGTH_BYTES = 2;
/** Time allowed for each control message to arrive. */
export const CONTROL_MESSAGE_TIMEOUT_MS = 5_000;

/** Challenge the server sends first; the client's authenticator must bind it. */
export const CHALLENGE_BYTES = 32;
/** Fresh nonce each side contributes to the data-channel keys. */
export const NONCE_BYTES = 32;
/** Random tunnel session id (also the data-channel token id). */
export const SESSION_ID_BYTES = 16;
/** Longest host name or IP literal a client may ask for (DNS limit). */
export const MAX_HOST_BYTES = 253;
/** Longest human-readable error message in a result. */
export const MAX_MESSAGE_BYTES = 512;
/** Longest error code string. */
export const MAX_CODE_BYTES = 48;
/** Largest VPN session request or grant an open request or result carries (@dibs/vpn bounds it lower). */
export const MAX_VPN_FIELD_BYTES = 1024;
/** Most data-channel addresses a server offers. */
export const MAX_OFFER_HOSTS = 8;

/** How long the server waits for the chain mirror when a ticket names a grant it has not seen yet. */
export const TUNNEL_CATCH_UP_MS = 3_000;
/** Most re-checks during that wait. */
export const TUNNEL_CATCH_UP_ATTEMPTS = 40;
/** Time allowed to connect to the service's target (or VPN destination). */
export const TARGET_CONNECT_TIMEOUT_MS = 5_000;
/** Time allowed to resolve a VPN destination name at the exit. */
export const RESOLVE_TIMEOUT_MS = 5_000;

/** Concurrent tunnels one peer may hold through one node. */
export const MAX_TUNNELS_PER_PEER = 1024;
/** Concurrent tunnels through one node. */
export const MAX_TUNNELS_TOTAL = 4096;
/** Inbound tunnel control streams libp2p lets one connection open at once (stream channels stay open). */
export const MAX_TUNNEL_STREAMS = MAX_TUNNELS_PER_PEER + 16;

/** Magic in front of a data-channel connection: "DIBT". */
export const DATA_MAGIC = Uint8Array.of(0x44, 0x49, 0x42, 0x54);
/**
 * Bytes the client sends in clear on a new data connection before its network label: magic, version,
 * session id, label length (one byte). The label's bytes follow (none in the public network).
 */
export const DATA_PREAMBLE_BYTES = DATA_MAGIC.length + 1 + SESSION_ID_BYTES + 1;
/** Time the client waits for the data channel to answer before falling back to the libp2p stream. */
export const DATA_CONNECT_TIMEOUT_MS = 1_500;
/** Time the server keeps an unclaimed data-channel offer (and a data connection may take for its hello). */
export const DATA_OFFER_TIMEOUT_MS = 5_000;
/** Data connections not yet past their hello, at once (each holds at most one small record). */
export const MAX_PENDING_DATA_CONNECTIONS = 256;

/**
 * Largest plaintext per data-channel record. Measured with bench/tunnel.ts on loopback (2 cores): see
 * docs/tunnel.md. Records are read whole before decryption, so this also bounds per-record memory.
 */
export const MAX_RECORD_PLAINTEXT = 256 * 1024;
/**
 * Records up to this size are sealed into one buffer (one write, one packet); bigger ones go out as
 * header, body and tag so the body is never copied.
 */
export const SMALL_RECORD_BYTES = 16 * 1024;
/**
 * High-water mark of a data-channel socket and of the channel's own buffers, both ways. Node's default
 * (16 KiB) makes every big record wait for the kernel to take the previous one before the next is
 * sealed; a few records in flight keep both cores busy. A limit, not an allocation: idle tunnels cost
 * nothing.
 */
export const CHANNEL_HIGH_WATER_MARK = 1024 * 1024;
/**
 * Options for every socket the tunnel connects (data channel, target): half-open, no Nagle delay, and
 * the high-water marks above (Node's `connect` honours them; its typings leave them out, hence a
 * separate object rather than a checked literal).
 */
export const CHANNEL_SOCKET_OPTIONS = {
  allowHalfOpen: true,
  noDelay: true,
  readableHighWaterMark: CHANNEL_HIGH_WATER_MARK,
  writableHighWaterMark: CHANNEL_HIGH_WATER_MARK,
} as const;
/**
 * The one buffer every data-path socket of a process reads into (read-buffer.ts): the largest read
 * one syscall returns. One per process, not per tunnel.
 */
export const READ_BUFFER_BYTES = 1024 * 1024;
/**
 * Longest busy-polling window after a small data-path read, in µs (busy-poll.ts): long enough to
 * cover the wait for an answer through a tunnel on loopback or a LAN, short enough that polling
 * stops soon when none comes. 0 turns polling off. In bench/tunnel on a loaded machine (ssh -L round
 * trip ~200 µs) 200 µs often ran out just before the answer came (RTT 153–185 µs at 460–515 µs of
 * machine CPU per round trip); 400 µs caught it (95–123 µs at 360–425).
 */
export const BUSY_POLL_WINDOW_US = 400;
/** Largest window a node may be configured with (10 ms): beyond it polling is only burnt CPU. */
export const BUSY_POLL_WINDOW_LIMIT_US = 10_000;
/**
 * Polling backs off when fewer than this share of recent windows had a read come in (busy-poll.ts): on
 * a quiet machine 84–87 % of the windows in bench/tunnel's ping-pong paid; with every core busy, most
 * ran out, and the spinning kept the CPU from the processes whose answer it waited for.
 */
export const BUSY_POLL_MIN_PAYOFF = 0.5;
/** Weight of the latest window in that share (a moving average over roughly the last 8 windows). */
export const BUSY_POLL_PAYOFF_WEIGHT = 1 / 8;
/** First back-off after windows ran out in vain; it doubles while they keep doing so, up to the max. */
export const BUSY_POLL_BACKOFF_MIN_MS = 10;
/** Longest back-off: how long a contended machine goes without polling before it tries again. */
export const BUSY_POLL_BACKOFF_MAX_MS = 1_000;
/** Only reads up to this size (interactive messages, not bulk data) start or extend a polling window. */
export const BUSY_POLL_MAX_READ_BYTES = 1024;
/**
 * Smallest record buffer (cipher output) the data path frees itself once written (release.ts); smaller
 * ones are left to the collector (the Buffer pool's slices are below it, and so are compact records).
 */
export const RELEASE_MIN_BYTES = 4096;
/** Record header: u32 big-endian: bit 31 = FIN, bit 30 = compact, the rest = plaintext length. */
export const RECORD_HEADER_BYTES = 4;
/** Tag length of both record ciphers. */
export const RECORD_TAG_BYTES = 16;
/** FIN flag in the record header. */
export const RECORD_FIN = 0x8000_0000;
/** Compact flag in the record header: the record is sealed with ChaCha20-Poly1305, not AES-GCM. */
export const RECORD_COMPACT = 0x4000_0000;
/** The plaintext length bits of the record header. */
export const RECORD_LENGTH_MASK = 0x3fff_ffff;
/**
 * Records of up to this many plaintext bytes are compact: sealed by the JS ChaCha20-Poly1305
 * (chacha20-poly1305.ts), which allocates nothing per record, instead of an AES-GCM cipher object
 * from node:crypto, whose creation dominates the cost of a small record. Interactive messages (a
 * keystroke, a ping, a small request) take this path; bulk data does not. Where the two cost the same
 * on this machine class: see docs/tunnel.md. A compact record that announces more is refused.
 */
export const COMPACT_RECORD_BYTES = 512;
/** Records per direction before the channel refuses to go on (nonce space stays far from wrap). */
export const MAX_RECORDS_PER_DIRECTION = 2 ** 48;
/** The libp2p protocol a host opens on its relay to get a rendezvous pairing for a relayed data channel. */
export const TUNNEL_RELAY_PROTOCOL = tunnelRelayProtocol();
/** Magic in front of a rendezvous connection to a relay: "DIBR". */
export const RELAY_MAGIC = Uint8Array.of(0x44, 0x49, 0x42, 0x52);
/** One-time pairing token: one for the host's side, one for the client's. */
export const RELAY_TOKEN_BYTES = 16;
/** Bytes a side sends first on a rendezvous connection: magic, version, token. */
export const RELAY_PREAMBLE_BYTES = RELAY_MAGIC.length + 1 + RELAY_TOKEN_BYTES;
/** Life of a pairing: both sides must have arrived by then, or it is forgotten and their sockets closed. */
export const RELAY_PAIR_TIMEOUT_MS = 5_000;
/** Time for the pairing request and its answer on `/dibs/tunnel-relay/1.0`. */
export const RELAY_REQUEST_TIMEOUT_MS = 3_000;
/** Pairings one peer may hold open (issued, not yet joined) at once. */
export const MAX_RELAY_PAIRS_PER_PEER = 64;
/** Pairings open at once on one relay. */
export const MAX_RELAY_PAIRS = 1024;
/** Relayed data channels (joined pairs) one relay carries at once. */
export const MAX_RELAY_SPLICES = 4096;
/** Inbound pairing streams on one connection at once. */
export const MAX_RELAY_STREAMS = 32;
/** HKDF info label for the data-channel keys (names the record ciphers: a change of suite changes it). */
export const DATA_KEY_LABEL = 'dibs/tunnel/1/data/aes128gcm+chacha20poly1305';
/**
 * Bytes of the AES-128-GCM key (bulk records): the cipher `ssh -L` is measured with in bench/tunnel
 * and TLS 1.3's mandatory one. Against AES-256 it took ~15 % off the cipher's CPU per byte on this
 * machine class.
 */
export const GCM_KEY_BYTES = 16;
/** Bytes of the ChaCha20-Poly1305 key (compact records). */
export const CHACHA_KEY_BYTES = 32;
/**
 * Bytes of each direction's data-channel key material: the AES-128-GCM key, then the ChaCha20-Poly1305
 * key. Fresh per tunnel (HKDF over both sides' nonces); the two ciphers never share a key.
 */
export const DATA_KEY_BYTES = GCM_KEY_BYTES + CHACHA_KEY_BYTES;
/**
 * Datagram relays (UDP port pairs, datagram-relay.ts) one relay holds at once. Each is two sockets; a
 * host that asks beyond this gets a pairing without one and keeps its datagrams on the channel.
 */
export const MAX_RELAY_DATAGRAM_PAIRS = 512;
/** Datagram relays one peer may hold at once (issued or joined). */
export const MAX_RELAY_DATAGRAM_PAIRS_PER_PEER = 32;
/** Smallest datagram a datagram relay forwards (WireGuard's smallest message, a keepalive, is 32 bytes). */
export const MIN_RELAY_DATAGRAM_BYTES = 32;
/** Datagrams a datagram relay keeps for a side while its socket connects (one turn of the event loop). */
export const MAX_RELAY_PENDING_DATAGRAMS = 64;
/** Receive and send buffer of each datagram-relay socket (Linux caps it at net.core.rmem_max/wmem_max). */
export const RELAY_DATAGRAM_SOCKET_BYTES = 4 * 1024 * 1024;
