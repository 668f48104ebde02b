/** Protocol id, message limits and timeouts of the DIBS admission protocol. */

/** The only protocol a peer may open before it is admitted. */
export const ADMISSION_PROTOCOL = '/dibs/admission/1.0';

/** Wire version inside every admission message; a different one is refused with UNSUPPORTED_VERSION. */
export const ADMISSION_VERSION = 1;

/** Bytes of a challenge nonce. */
export const CHALLENGE_BYTES = 32;
/** Largest ticket accepted on the wire. */
export const MAX_TICKET_BYTES = 4096;
/** Largest authenticator accepted on the wire. */
export const MAX_AUTHENTICATOR_BYTES = 1024;
/** Largest reason text carried by a verdict. */
export const MAX_REASON_BYTES = 256;
/** Largest admission frame; anything bigger resets the stream before it is buffered. */
export const MAX_ADMISSION_FRAME_BYTES = 8192;

/** Time allowed for each admission message to arrive. */
export const DEFAULT_MESSAGE_TIMEOUT_MS = 5_000;
/** A peer that is not admitted this long after connecting is disconnected. */
export const DEFAULT_ADMISSION_TIMEOUT_MS = 10_000;

/** Most peers allowed to sit unadmitted at once; further inbound connections are refused after Noise. */
export const DEFAULT_MAX_PENDING_PEERS = 256;

/** Inbound admission streams allowed per connection (a peer only needs one at a time). */
export const MAX_INBOUND_ADMISSION_STREAMS = 2;

/**
 * An admitted peer re-presents a fresh network ticket this long before its current one ends (or after
 * two thirds of a shorter lifetime), so long-running connections outlive any single ticket.
 */
export const ADMISSION_RENEW_BEFORE_MS = 5 * 60_000;
/** Fraction of a ticket's remaining lifetime after which renewal starts when that lifetime is short. */
export const ADMISSION_RENEW_AT_FRACTION = 2 / 3;
/** Shortest wait before a renewal (or its retry), so a peer with a near-dead ticket cannot cause a busy loop. */
export const MIN_RENEW_DELAY_MS = 250;

/**
 * New inbound connections a second a node takes from addresses it admitted no one from (each costs
 * a Noise handshake before a ticket can be shown); connections from admitted peers' addresses pass.
 */
export const DEFAULT_INBOUND_PER_SECOND = 32;
/** Burst of such connections at once (a network forming around a bootstrap node). */
export const DEFAULT_INBOUND_BURST = 128;
/**
 * New inbound connections a second a node takes from one such address, and its burst: one source
 * cannot use up the shared rate (a network forming around a bootstrap node comes from many).
 */
export const DEFAULT_INBOUND_PER_IP_PER_SECOND = 4;
export const DEFAULT_INBOUND_PER_IP_BURST = 32;
/** Addresses whose rate is tracked at once; quiet ones are forgotten first. */
export const INBOUND_TRACKED_ADDRESSES = 4096;
/**
 * From this event-loop utilization up (admitted peers' traffic keeps the node busy) the shared rate
 * of new connections from unknown addresses falls to INBOUND_BUSY_SHARE of itself.
 */
export const INBOUND_BUSY_LOOP = 0.75;
export const INBOUND_BUSY_SHARE = 0.25;
/** How often the event loop's utilization is sampled for that (on the next inbound connection). */
export const INBOUND_LOAD_SAMPLE_MS = 500;
/** Refused inbound connections are logged as one line at most this often. */
export const INBOUND_REFUSAL_LOG_INTERVAL_MS = 10_000;
