/** Limits and intervals of the node daemon's network part. */

/** A network grant with less than this left is renewed on chain before it is used for a new ticket. */
export const NETWORK_GRANT_RENEW_BEFORE_MS = 24 * 60 * 60 * 1000;
/** How often the running node rewrites its runtime file with peers and RTTs (`dibs node status`). */
export const STATUS_WRITE_INTERVAL_MS = 2_000;
/** How often the node republishes its DHT record (records live 36 h; peers come and go). */
export const RECORD_REPUBLISH_INTERVAL_MS = 60 * 60 * 1000;
/** A failed record publish (no DHT peers yet) is retried this often. */
export const RECORD_RETRY_INTERVAL_MS = 5_000;
/** Per bootstrap peer: dial plus admission. */
export const BOOTSTRAP_TIMEOUT_MS = 15_000;
/** Most multiaddrs the Registry accepts per node (Registry.MAX_MULTIADDRS). */
export const MAX_REGISTERED_MULTIADDRS = 8;
/** Longest multiaddr the Registry accepts (Registry.MAX_MULTIADDR_BYTES). */
export const MAX_REGISTERED_MULTIADDR_BYTES = 256;
/** Network service ids probed when the configuration names the contracts but not the network service. */
export const MAX_NETWORK_SERVICE_PROBES = 64;
/** Wei given to this node's wallet on a development chain (anvil) that it reaches over RPC with none. */
export const DEV_CHAIN_FUNDING_WEI = 10n ** 22n;
/** Database namespace of this node's own network grants. */
export const NETWORK_GRANT_STORE_NAMESPACE = 'daemon-network-grant';
/** How often the daemon diffs the session list to see sessions start and end (log, metrics, audit). */
export const OPERATIONS_POLL_MS = 1_000;
/** How long GET /readyz and a metrics scrape wait for the chain's head block. */
export const READY_CHAIN_TIMEOUT_MS = 2_000;
/** How often the audit trail drops records past their retention. */
export const AUDIT_PRUNE_INTERVAL_MS = 3_600_000;
