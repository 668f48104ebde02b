/** How often the chain mirror polls for new blocks (the embedded chain mines on every transaction). */
export const MIRROR_POLL_INTERVAL_MS = 250;
/** Pause after a failed poll before trying again. */
export const MIRROR_ERROR_BACKOFF_MS = 2_000;
/** Watcher cursor name of the chain mirror in the database. */
export const MIRROR_WATCHER_NAME = 'chain-mirror';
/** Database namespace of the mirror's tables. */
export const MIRROR_STORE_NAMESPACE = 'chain-mirror';
/** Default bound on blocks between a revocation on chain and a closed session. */
export const DEFAULT_REVOCATION_MAX_BLOCKS = 2;
/** How often the head is polled apart from the mirror, to measure the mirror's lag. */
export const HEAD_POLL_INTERVAL_MS = 250;
/** A head poll that takes longer counts as failed. */
export const HEAD_POLL_TIMEOUT_MS = 5_000;
/** How often expired grants are dropped from the mirror (memory and disk). */
export const MIRROR_PRUNE_INTERVAL_MS = 60_000;
/** Grants are pruned this long after they expired (clock skew between chain and node). */
export const MIRROR_GRANT_PRUNE_GRACE_S = 600;
/** Most policy standings re-read from chain per sync (the rest follow on the next). */
export const MIRROR_MAX_POLICY_CHECKS = 256;
/** Largest block range of one token Transfer log query. */
export const MIRROR_TOKEN_LOG_RANGE = 1_000n;
