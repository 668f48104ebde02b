/** Limits and names of the daemon's management API wiring. */
import { RECORD_REPUBLISH_INTERVAL_MS } from './constants.ts';

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
/** Most registered nodes the fleet view lists. */
export const FLEET_MAX_NODES = 256;
/** Longest wait for one node's DHT record in the fleet view. */
export const FLEET_RECORD_LOOKUP_MS = 5_000;
/** How long the fleet view reuses a node's DHT record lookup. */
export const FLEET_CACHE_MS = 15_000;
/** How long the fleet view remembers that a node's DHT record was not found. */
export const FLEET_MISS_CACHE_MS = 4_000;
/**
 * A node whose DHT record was issued within this window counts as online (records are republished
 * every RECORD_REPUBLISH_INTERVAL_MS, and whenever the node's hosted services or relays change).
 */
export const FLEET_ONLINE_WINDOW_MS = 2 * RECORD_REPUBLISH_INTERVAL_MS + 5 * 60 * 1000;
/** Longest operator label of a node. */
export const FLEET_LABEL_MAX_CHARS = 64;
/** Most allowlist entries the policy view reads back. */
export const POLICY_ALLOWLIST_LIMIT = 1024;
