/** Limits, lifetimes and names of the DIBS OpenID Connect provider. */

/** The service type an application registers on chain to be a login audience. */
export const LOGIN_SERVICE_TYPE = 'login';

/** Scopes the provider knows: `openid` (sub, did), `groups`, `offline_access` (refresh tokens). */
export const LOGIN_SCOPES = ['openid', 'groups', 'offline_access'] as const;

/** Claims per scope. `sub` is `eip155:<chainId>:<address>`, `did` the did:pkh of the same account. */
export const LOGIN_CLAIMS = {
  openid: ['sub', 'did', 'address', 'chain_id', 'grant_id'],
  groups: ['groups', 'organizations'],
} as const;

/** Default HTTP listen address of `dibs login serve` (loopback; put a TLS proxy in front to publish it). */
export const DEFAULT_LOGIN_HOST = '127.0.0.1';
export const DEFAULT_LOGIN_PORT = 7780;

/** How long a SIWE nonce handed to the login page stays usable, ms. */
export const SIWE_NONCE_TTL_MS = 5 * 60_000;
/** Nonces outstanding at once; the oldest are dropped past this. */
export const MAX_PENDING_NONCES = 10_000;
/** Largest SIWE message accepted, bytes (EIP-4361 messages are a few hundred bytes). */
export const MAX_SIWE_MESSAGE_BYTES = 4096;
/** Largest signature accepted, hex characters (ERC-1271 wallets may sign with more than 65 bytes). */
export const MAX_SIGNATURE_HEX_CHARS = 4096;
/** Largest request body the interaction endpoints read, bytes. */
export const MAX_INTERACTION_BODY_BYTES = 16 * 1024;
/** Time to read a request body before giving up, ms. */
export const BODY_TIMEOUT_MS = 10_000;
/** SIWE version this provider speaks. */
export const SIWE_VERSION = '1';
/** ERC-1271 magic value: `isValidSignature` returns it for a good signature. */
export const ERC1271_MAGIC_VALUE = '0x1626ba7e';

/** Lifetimes, seconds. Session, refresh token and ID/access tokens never outlive the grant. */
export const AUTHORIZATION_CODE_TTL_S = 60;
export const ACCESS_TOKEN_TTL_S = 10 * 60;
export const ID_TOKEN_TTL_S = 10 * 60;
export const REFRESH_TOKEN_TTL_S = 14 * 24 * 3600;
export const SESSION_TTL_S = 24 * 3600;
export const INTERACTION_TTL_S = 10 * 60;

/**
 * Revocation bound: how long a revoked grant, retired service or lost policy membership may still
 * pass refresh or userinfo, ms. The chain watcher polls at a fraction of it; when the watcher has not
 * caught up within the bound the authorizer reads the chain instead of trusting its cache.
 */
export const DEFAULT_REVOCATION_BOUND_MS = 2_000;
/** Chain watcher poll interval, ms (well inside the revocation bound). */
export const DEFAULT_WATCH_INTERVAL_MS = 250;
/** Authorizations kept in the cache (address × service). */
export const MAX_CACHED_AUTHORIZATIONS = 10_000;

/** Database namespace and watcher cursor name. */
export const LOGIN_STORE_NAMESPACE = 'login';
export const LOGIN_WATCHER_NAME = 'login-authorizer';

/** Length of generated client ids and secrets, bytes of randomness. */
export const CLIENT_ID_BYTES = 12;
export const CLIENT_SECRET_BYTES = 32;
/** Most redirect URIs one client may register. */
export const MAX_REDIRECT_URIS = 16;
/** Longest redirect URI, characters. */
export const MAX_REDIRECT_URI_CHARS = 2048;
/** Signing algorithm of ID tokens (RS256 is the one every OIDC relying party must support). */
export const ID_TOKEN_ALG = 'RS256';
