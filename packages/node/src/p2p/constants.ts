/** Protocol ids, limits and defaults of the DIBS libp2p host. */

/** Prefix for libp2p's own protocols (identify, ping) so DIBS peers never talk to the public IPFS network. */
export const PROTOCOL_PREFIX = 'dibs';

/** The private Kad-DHT of DIBS: a protocol id of its own keeps it apart from the public Amino DHT. */
export const DHT_PROTOCOL = '/dibs/kad/1.0.0';

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
/** Upper bound on simultaneous connections per host. */
export const MAX_CONNECTIONS = 300;

/** Relay: reservations a relay node holds at once (admitted peers only). */
export const RELAY_MAX_RESERVATIONS = 128;
/** Relay: how long a hop request may take before its stream is reset. */
export const RELAY_HOP_TIMEOUT_MS = 15_000;
