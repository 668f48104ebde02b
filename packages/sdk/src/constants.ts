/** Names, limits and defaults shared by the client and server SDKs. */

/** HTTP authorization scheme of a DIBS ticket: `Authorization: DIBS <ticket>.<authenticator>.<client peer id>` (base64url). */
export const TICKET_AUTH_SCHEME = 'DIBS';
/** Longest Authorization header the server SDK reads, characters. */
export const MAX_AUTHORIZATION_CHARS = 8192;
/** Longest ID token the server SDK verifies, characters. */
export const MAX_ID_TOKEN_CHARS = 8192;
/** Signing algorithms accepted on DIBS ID tokens. */
export const ID_TOKEN_ALGORITHMS = ['RS256'] as const;
/** Clock tolerance when checking ID token times, seconds. */
export const ID_TOKEN_CLOCK_TOLERANCE_S = 30;
/** Distinct ID token headers (encoded) whose decoding and key lookup a verifier remembers. */
export const MAX_CACHED_HEADERS = 64;
/** Least time between two JWKS fetches caused by tokens with an unknown key id, ms. */
export const JWKS_REFETCH_MIN_MS = 30_000;
/** Time to wait for discovery or JWKS from the provider, ms. */
export const PROVIDER_FETCH_TIMEOUT_MS = 10_000;
/** Loopback listen address of a service fetched through a tunnel by the client SDK. */
export const LOOPBACK_LISTEN = '127.0.0.1:0';
