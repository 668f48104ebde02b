/** Chain id of the embedded devnet (anvil's own default, so wallets recognise it). */
export const DEFAULT_CHAIN_ID = 31337;
/** EVM hardfork the embedded chain runs; matches the contracts' evmVersion and what public L2s run. */
export const DEFAULT_HARDFORK = 'cancun';
/** Interface the embedded chain listens on: loopback only, never exposed. */
export const DEFAULT_ANVIL_HOST = '127.0.0.1';
/** Seconds between state dumps; a `kill -9` loses at most this much of the chain. */
export const DEFAULT_STATE_INTERVAL_SECONDS = 1;
/** Sub-directory of the data directory that holds the chain's state, log and pid file. */
export const CHAIN_DIR_NAME = 'chain';
/** File names inside the chain directory. */
export const ANVIL_STATE_FILE = 'anvil-state.json';
export const ANVIL_LOG_FILE = 'anvil.log';
export const ANVIL_PID_FILE = 'anvil.pid';

/** Longest wait for a (re)started anvil to answer eth_chainId. */
export const ANVIL_START_TIMEOUT_MS = 30_000;
/** Longest wait for anvil to exit after SIGTERM before it is killed. */
export const ANVIL_STOP_TIMEOUT_MS = 10_000;
/** Consecutive unexpected exits tolerated before the supervisor gives up. */
export const ANVIL_MAX_RESTARTS = 5;
/** First restart delay; doubles per consecutive attempt up to the maximum. */
export const ANVIL_RESTART_BACKOFF_MS = 250;
export const ANVIL_RESTART_BACKOFF_MAX_MS = 8_000;
/** After running healthy this long, the consecutive-restart counter starts over. */
export const ANVIL_RESTART_RESET_MS = 60_000;
/** Interval between readiness probes while anvil starts. */
export const ANVIL_PROBE_INTERVAL_MS = 50;
/** Timeout of a single readiness probe. */
export const ANVIL_PROBE_TIMEOUT_MS = 1_000;
/** Largest JSON-RPC reply a readiness probe reads. */
export const ANVIL_PROBE_MAX_REPLY_BYTES = 4_096;

/** Timeout of the connectivity probe made when clients are created. */
export const RPC_PROBE_TIMEOUT_MS = 5_000;
/** Timeout of a single JSON-RPC request made by the clients. */
export const RPC_REQUEST_TIMEOUT_MS = 15_000;
/** Retries of a failed JSON-RPC request (covers an embedded chain restarting). */
export const RPC_RETRY_COUNT = 3;
/** How often clients poll for receipts and new blocks. */
export const RPC_POLLING_INTERVAL_MS = 250;
/** Retries of a write whose nonce the chain refused (another process used the same wallet). */
export const TX_QUEUE_NONCE_RETRIES = 2;
/** Longest wait for a transaction receipt. */
export const RECEIPT_TIMEOUT_MS = 120_000;

/** Store namespace of the deployment records. */
export const DEPLOYMENT_STORE_NAMESPACE = 'chain.deployments';
/** Name and type of the service every admitted node serves. */
export const NETWORK_SERVICE_NAME = 'network';
export const NETWORK_SERVICE_TYPE = 'network';
/** Lifetime of a network grant (30 days); nodes renew before it ends. */
export const NETWORK_GRANT_DURATION_SECONDS = 30n * 24n * 60n * 60n;

/** Store namespace of the event watcher cursors. */
export const WATCHER_STORE_NAMESPACE = 'chain.watchers';
/** Most blocks asked for in one eth_getLogs; public RPC providers cap ranges near this. */
export const WATCHER_MAX_BLOCK_RANGE = 1_000n;
/** Pause between polls once the watcher has caught up with the head. */
export const WATCHER_POLL_INTERVAL_MS = 1_000;
/** Blocks re-read after the chain was found to have gone back (reorg or reloaded state). */
export const WATCHER_REWIND_DEPTH = 64n;
/** Most logs accepted from one eth_getLogs reply before the range is split. */
export const WATCHER_MAX_LOGS_PER_RANGE = 10_000;
/** Longest accepted watcher name (it is a database key). */
export const WATCHER_MAX_NAME_LENGTH = 64;
/** Pause after a failed poll before the watcher tries again. */
export const WATCHER_ERROR_BACKOFF_MS = 2_000;
/** Name of the watcher cursor that follows fleet configuration changes. */
export const FLEET_CONFIG_WATCHER_NAME = 'fleet-config';
