/** Protocol ids, limits and defaults of the DIBS libp2p host. */

/** Prefix for libp2p's own protocols (identify, ping) so DIBS peers never talk to the public IPFS network. */
export const PROTOCOL_PREFIX = 'dibs';

/** The private Kad-DHT of DIBS: a protocol id of its own keeps it apart from the public Amino DHT. */
export const DHT_PROTOCOL = '/dibs/kad/1.0.0';

/** The TLS 1.3 encrypter's protocol id (as in @libp2p/tls, whose module loads only when a peer picks it). */
export const TLS_PROTOCOL = '/tls/1.0.0';

/** Default listen addresses: TCP and WebSockets on all interfaces, ports chosen by the OS. */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'] as const;

/** Loopback listen addresses used by tests and benches. */
export const LOOPBACK_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] as const;

/** Node roles, as in the Registry contract's bitmask. */
export const ROLE_BOOTSTRAP = 1;
export const ROLE_RELAY = 2;
export const ROLE_SERVICE_HOST = 4;
/** All role bits together; anything outside is invalid. */
export const ROLE_MASK = ROLE_BOOTSTRAP | ROLE_RELAY | ROLE_SERVICE_HOST;

/** Many peers dial a bootstrap node at once when a network forms; libp2p's defaults (5/10) refuse them. */
export const INBOUND_CONNECTION_THRESHOLD = 100;
export const MAX_INCOMING_PENDING_CONNECTIONS = 100;
/**
 * Admissions waiting at once for the chain mirror to learn a ticket's grant or client key (up to the
 * authority's catch-up time each). Beyond it such a ticket is refused at once: a flood of well-formed
 * tickets of unregistered clients would otherwise hold every connection for the whole wait.
 */
export const MAX_CONCURRENT_CATCH_UPS = 16;
/** Upper bound on simultaneous connections per host. */
export const MAX_CONNECTIONS = 300;

/** Relay: reservations a relay node holds at once (admitted peers only). */
export const RELAY_MAX_RESERVATIONS = 128;
/** Relay reservations a node that cannot be reached directly holds at once (config `node.relayCount`). */
export const RELAY_RESERVATION_TARGET = 2;
/** Dial, admission and reservation on one relay. */
export const RELAY_RESERVE_TIMEOUT_MS = 5_000;
/** With fewer reservations than wanted: the next try, and the first back-off of a relay that failed. */
export const RELAY_KEEPER_RETRY_MS = 1_000;
/** Longest back-off before a failed relay is tried again (a restarted relay is taken back within it). */
export const RELAY_KEEPER_MAX_BACKOFF_MS = 10_000;
/** With all reservations held: how often the keeper checks them and the candidate list. */
export const RELAY_KEEPER_INTERVAL_MS = 15_000;
/** Circuit addresses kept per relay (the node record holds 16 addresses in all). */
export const MAX_CIRCUIT_ADDRS_PER_RELAY = 3;
/** libp2p reserves on configured relays this many at a time (its default 1 drops every queued one). */
export const RELAY_RESERVATION_CONCURRENCY = 16;

/** Relay: how long a hop request may take before its stream is reset. */
export const RELAY_HOP_TIMEOUT_MS = 15_000;

/**
 * Kad-DHT: peers queried in parallel per lookup path (libp2p's 10). Measured with bench/dht.ts at 50
 * nodes: alpha 3 with 2 or 1 paths was no faster (246–296 ms vs 248 ms); per-RPC work, not fan-out, bounds it.
 */
export const DHT_ALPHA = 10;
/** Kad-DHT: disjoint lookup paths (S/Kademlia; libp2p's default = alpha). They resist eclipse attempts. */
export const DHT_DISJOINT_PATHS = 10;
/** Kad-DHT: bucket size K, the replication factor and closest-set size (the protocol's usual 20). */
export const DHT_K_BUCKET_SIZE = 20;
/**
 * Kad-DHT: time an inbound DHT stream may take per message (libp2p's 10 s); a stalled stream from an
 * admitted peer is reset after it, like admission's own per-message timeout.
 */
export const DHT_MESSAGE_TIMEOUT_MS = 5_000;
/**
 * Kad-DHT: largest message accepted from a peer. libp2p's DHT reads frames without any bound; the
 * biggest DIBS message is a node record (< 9 KiB) plus 20 closer peers with their addresses.
 */
export const DHT_MAX_MESSAGE_BYTES = 256 * 1024;
/** Kad-DHT: how often a node looks up its own id to refresh its neighbourhood (libp2p's 5 minutes). */
export const DHT_QUERY_SELF_INTERVAL_MS = 5 * 60_000;
/**
 * Valid copies of a node record a lookup waits for before it stops querying. Copies are signed by the
 * node, so one is authentic; a second guards against a stale copy from one peer.
 */
export const FIND_RECORD_QUORUM = 2;
/**
 * Node record lookup, first phase (near-get.ts): GET_VALUE requests in flight at once to the closest
 * peers we already hold connections to (Kademlia's usual alpha), and the most such peers asked before
 * the full DHT query takes over.
 */
export const NEAR_GET_WIDTH = 3;
export const NEAR_GET_MAX_PEERS = 8;
