/** Limits and defaults of the services runtime: catalog, connections, proxies. */

/** Migration namespace of the hosted-services catalog in the node's store. */
export const CATALOG_NAMESPACE = 'services';
/** Grant duration when a publisher names none: 30 days. */
export const DEFAULT_GRANT_DURATION_SECONDS = 30 * 24 * 3600;
/** Longest service name, in bytes (the Services contract's MAX_NAME_BYTES). */
export const MAX_SERVICE_NAME_BYTES = 128;
/** Longest `host:port` target. */
export const MAX_TARGET_CHARS = 300;
/** Most allow rules one vpn service carries. */
export const MAX_ALLOW_RULES = 64;
/** Most port ranges in one allow rule. */
export const MAX_RULE_PORT_RANGES = 16;
/** Most allowlist addresses accepted at publish (the contract's batch limit). */
export const MAX_ALLOWLIST = 256;
/** Most services `list` reads from chain, newest first. */
export const MAX_LISTED_SERVICES = 1000;
/** Suffix that addresses a service by name or id through the SOCKS5 proxy: `web.dibs:80`. */
export const SERVICE_NAME_SUFFIX = '.dibs';
/** Default listen address of `connect` and `proxy`. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
/** Time allowed to find a host's node record in the DHT before falling back to the Registry. */
export const RECORD_LOOKUP_TIMEOUT_MS = 8_000;
/** Time allowed per dial attempt (direct or relayed). */
export const DIAL_TIMEOUT_MS = 10_000;
/**
 * Attempts to reach the host for one local connection (transient failures only). Six attempts wait
 * 0.2 + 0.4 + 0.8 + 1.6 + 2 s between them: long enough for a service host that restarts (its node
 * takes ~1–2 s to listen, rejoin and serve its tunnels again), short enough that an application is
 * not kept waiting on a host that is gone.
 */
export const CONNECT_ATTEMPTS = 6;
/** First retry delay; doubled each attempt up to CONNECT_RETRY_MAX_MS. */
export const CONNECT_RETRY_BASE_MS = 200;
/** Longest retry delay. */
export const CONNECT_RETRY_MAX_MS = 2_000;
/** A ticket with less validity than this is renewed before opening a tunnel. */
export const TICKET_MIN_VALIDITY_MS = 60_000;
/** Most local connections one `connect` listener forwards at once. */
export const MAX_LOCAL_CONNECTIONS = 512;
/** Most closed sessions kept for status and the API (newest). */
export const MAX_CLOSED_SESSIONS = 64;
/**
 * Reaching a service's host for one local connection, all paths and retries together: with no path
 * the local connection fails (and says why) within this time, never hangs.
 */
export const CONNECT_DEADLINE_MS = 4_000;
/**
 * Once a relay on the host's path admitted us, the circuit through it and admission over it may take
 * this long (a loaded machine), past CONNECT_DEADLINE_MS: a path is being made, not missing.
 */
export const RELAY_PATH_GRACE_MS = 6_000;
/** A direct dial to the host; paths through relays are dialed meanwhile. */
export const DIRECT_DIAL_TIMEOUT_MS = 2_000;
/** Dial and admission of one relay the host's record names. */
export const RELAY_DIAL_TIMEOUT_MS = 3_000;
/** How long the registry roles of an admitted peer are trusted when looking for relays. */
export const ROLE_CACHE_MS = 60_000;
/** Most relays tried when the host cannot be dialed directly. */
export const MAX_RELAY_ATTEMPTS = 4;
/**
 * How long a host trusts what it read of a hosted service's organization (its policy) before reading
 * the chain again on the next tunnel: a policy changed to or from an organization's moves the service
 * between the public host and the organization's within this time.
 */
export const ORG_SCOPE_CACHE_MS = 15_000;
