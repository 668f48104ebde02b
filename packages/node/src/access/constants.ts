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
