/** Limits and fixed names of the node's HTTP API; one place so tests, docs and code agree. */

/** Prefix every API route lives under; everything else is the UI's static files. */
export const API_PREFIX = '/api/';

/** Path of the generated OpenAPI document. */
export const OPENAPI_PATH = '/api/v1/openapi.json';

/** Largest request body accepted (bytes); larger bodies get 413 before they are buffered. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Longest request target (path + query) accepted, in characters. */
export const MAX_URL_LENGTH = 8 * 1024;

/** Most query parameters one request may carry. */
export const MAX_QUERY_PARAMS = 64;

/** Shortest bearer token the server agrees to run with (characters). */
export const MIN_TOKEN_LENGTH = 24;

/** How many validation issues one error message lists before summarising the rest. */
export const MAX_REPORTED_ISSUES = 5;

/** Most simultaneous event-stream clients; more get 503 instead of exhausting sockets. */
export const MAX_SSE_CLIENTS = 32;

/** Interval of SSE keep-alive comments, so proxies and browsers do not drop an idle stream. */
export const SSE_HEARTBEAT_MS = 15_000;

/** Reconnect delay suggested to SSE clients (ms). */
export const SSE_RETRY_MS = 2_000;

/** Bytes an SSE client may fall behind before it is dropped as too slow. */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Milliseconds a request may take to send its headers and body before the socket is closed. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Host names a loopback-bound server answers to (defence against DNS rebinding). */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/** Liveness: answers while the process serves HTTP (no token, no secrets). */
export const HEALTHZ_PATH = '/healthz';

/** Readiness: answers 200 once the node's parts are up, 503 otherwise (no token, no secrets). */
export const READYZ_PATH = '/readyz';

/** Prometheus metrics in the text exposition format (bearer token required, as for /api). */
export const METRICS_PATH = '/metrics';

/** Headers on every UI response: no framing, no sniffing, scripts and styles only from this origin. */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};
