/** Limits and names of the daemon's management API wiring. */

/** How long the management API trusts a peer's Registry roles before reading them again. */
export const API_NODE_ROLES_TTL_MS = 60_000;
/** Most peers the management API lists (each may cost one Registry read). */
export const API_PEER_LOOKUP_LIMIT = 256;
/** How often the API's event stream carries session byte counters (the UI's traffic charts). */
export const API_COUNTERS_INTERVAL_MS = 1_000;
/** File in the data directory holding the API's bearer token (mode 0600). */
export const API_TOKEN_FILE = 'api-token';
/** Newest log lines the daemon keeps in memory for GET /api/v1/logs. */
export const API_LOG_RING_LINES = 1_000;
