/** Protocol ids, limits and defaults of DIBS light nodes (checkpoints and verified chain reads). */

/** The libp2p protocol full nodes serve signed checkpoints on. */
export const CHECKPOINT_PROTOCOL = '/dibs/checkpoint/1.0';

/** EIP-712 domain name and version of a checkpoint signature. */
export const CHECKPOINT_DOMAIN_NAME = 'DIBS Checkpoint';
export const CHECKPOINT_DOMAIN_VERSION = '1';

/** Largest checkpoint request or response on the wire (one checkpoint and one signature ≈ 330 bytes as JSON). */
export const MAX_CHECKPOINT_MESSAGE_BYTES = 2_048;
/** Time a peer has to send its whole request or answer. */
export const CHECKPOINT_TIMEOUT_MS = 5_000;
/** Requests one peer may make per second on the checkpoint protocol (a token bucket; `burst` at once). */
export const CHECKPOINT_RATE_PER_SECOND = 10;
export const CHECKPOINT_RATE_BURST = 20;
/** Peers whose request rate is tracked at once (oldest forgotten first). */
export const CHECKPOINT_RATE_PEERS = 1_024;
/** Inbound checkpoint streams open at once per connection. */
export const CHECKPOINT_MAX_INBOUND_STREAMS = 4;

/** How often a full node signs the head of its chain. */
export const DEFAULT_SIGN_INTERVAL_MS = 2_000;
/** How often a full node puts its newest signed checkpoint in the DHT. */
export const CHECKPOINT_RECORD_INTERVAL_MS = 30_000;
/** Time a DHT get of a checkpoint record may take. */
export const CHECKPOINT_RECORD_TIMEOUT_MS = 5_000;
/** Checkpoints a full node keeps signed (it signs an older one on request only within this window, in blocks). */
export const SIGN_WINDOW_BLOCKS = 256n;

/** Largest trusted full-node set a light node follows (its memory bound for signers). */
export const MAX_TRUSTED_SIGNERS = 64;
/** Accepted checkpoints a light node remembers (the newest first; older ones are dropped). */
export const MAX_KEPT_CHECKPOINTS = 16;
/** Refused RPC answers kept for status (the newest). */
export const MAX_REFUSALS_KEPT = 64;

/** Largest JSON-RPC answer a verified read accepts from an RPC. */
export const MAX_RPC_RESPONSE_BYTES = 1024 * 1024;
/** Time one JSON-RPC request may take before the reader tries the next URL. */
export const RPC_TIMEOUT_MS = 5_000;

/** How often a light node asks its full nodes for a newer checkpoint. */
export const DEFAULT_FOLLOW_INTERVAL_MS = 2_000;

/**
 * AccessGrants packs a grant into one word: grantee (bits 0–159) | issuedAt (160–199) | expiresAt
 * (200–239) | revoked (bit 240). These are the contract's private constants; the light tests check
 * them against getGrant.
 */
export const GRANT_ISSUED_SHIFT = 160n;
export const GRANT_EXPIRES_SHIFT = 200n;
export const GRANT_TIME_MASK = (1n << 40n) - 1n;
export const GRANT_REVOKED_BIT = 1n << 240n;
/** The Registry's bootstrap role bit: the registered full nodes that sign checkpoints are its approved bootstrap nodes. */
export const ROLE_BOOTSTRAP = 1n;
