/** Versions, size bounds, labels and defaults of DIBS tickets and authenticators. */

/**
 * Wire version of tickets and authenticators; a decoder refuses any other value. v2: tickets are sealed
 * under the static-static pairwise key with a per-ticket salt (v1 carried an ephemeral X25519 key).
 */
export const TICKET_VERSION = 2;

/** Numeric ticket kinds as they appear on the wire. */
export const KIND_NETWORK = 0;
export const KIND_SERVICE = 1;

/** Largest encoded ticket accepted; checked before any decoding. */
export const MAX_TICKET_BYTES = 1024;
/** Largest encoded authenticator accepted; checked before any decoding. */
export const MAX_AUTHENTICATOR_BYTES = 256;
/** Largest libp2p PeerId (binary multihash) in a ticket or authenticator: an inlined secp256k1 key is 39 bytes. */
export const MAX_PEER_ID_BYTES = 48;
/** Largest verifier challenge; 16–32 random bytes are expected, empty means one-shot use. */
export const MAX_CHALLENGE_BYTES = 32;
/** Largest service type string in UTF-8 bytes (the Services contract caps it at 32). */
export const MAX_SERVICE_TYPE_BYTES = 32;
/** Largest on-chain id (grant or service id, uint256) in bytes. */
export const MAX_ID_BYTES = 32;

/** Byte lengths of the fixed-size fields. */
export const ADDRESS_BYTES = 20;
export const X25519_KEY_BYTES = 32;
export const NONCE_BYTES = 16;
export const SESSION_KEY_BYTES = 32;
export const TICKET_HASH_BYTES = 32;
export const MAC_BYTES = 32;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
/** Random per-ticket salt in the clear header; it makes every ticket's AEAD key distinct. */
export const TICKET_SALT_BYTES = 32;

/** Service type every network service carries. */
export const NETWORK_SERVICE_TYPE = 'network';

/** HKDF-Extract salt of the pairwise key of one (client key, service key) pair. */
export const TICKET_PAIR_LABEL = 'dibs/ticket/v2/pair';
/** HKDF-Expand info prefix of one ticket's sealing key (followed by the clear header). */
export const TICKET_SEAL_LABEL = 'dibs/ticket/v2/seal';
/** HKDF-Expand info prefix of the authenticator MAC key (followed by the ticket hash). */
export const AUTHENTICATOR_KEY_LABEL = 'dibs/ticket/v2/authenticator';

/** Accepted clock difference between client and verifier (the whitepaper's ±10 minutes). */
export const DEFAULT_MAX_SKEW_MS = 10 * 60 * 1000;
/** Default ticket lifetime when the client does not ask for one (capped by the grant's expiry). */
export const DEFAULT_TICKET_LIFETIME_MS = 60 * 60 * 1000;
/** Longest ticket lifetime a client may request; the grant expiry caps it further. */
export const MAX_TICKET_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

/** Authenticator nonces remembered at most; when full, new authenticators are refused, never forgotten early. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 262_144;
/** Decrypted tickets kept so a re-presented ticket skips decryption and decoding. */
export const DEFAULT_TICKET_CACHE_ENTRIES = 16_384;
/** Pairwise keys (static-static X25519 + HKDF-Extract) a verifier keeps, least recently used dropped first. */
export const DEFAULT_CLIENT_KEY_CACHE_ENTRIES = 16_384;
/** Pairwise keys a client keeps per own encryption key, one per service key, least recently used dropped first. */
export const DEFAULT_SERVICE_KEY_CACHE_ENTRIES = 1024;
/** PeerId → address results kept (each costs a secp256k1 point decompression). */
export const DEFAULT_PEER_ADDRESS_CACHE_ENTRIES = 16_384;

/**
 * Largest number of blocks between a revocation or retirement landing on chain and live sessions being
 * closed: the chain watcher must feed the grant cache at least this often.
 */
export const DEFAULT_REVOCATION_MAX_BLOCKS = 2;
/** How often a session registry re-checks live sessions for expiry when it sweeps on a timer. */
export const DEFAULT_SESSION_SWEEP_MS = 1000;

/** Refuse new tickets once the chain view lags longer than this (the time twin of the revocation bound). */
export const DEFAULT_CHAIN_REFUSE_AFTER_MS = 15_000;
/** Close live sessions once the chain view lags more blocks than this. */
export const DEFAULT_CHAIN_CLOSE_AFTER_BLOCKS = 32;
/** Close live sessions once the chain view lags longer than this. */
export const DEFAULT_CHAIN_CLOSE_AFTER_MS = 60_000;
/** Unapplied head observations a chain view keeps (older ones merge, erring towards a longer lag). */
export const MAX_PENDING_HEADS = 64;
