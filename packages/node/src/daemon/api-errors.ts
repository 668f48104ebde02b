/** How failures of the node's parts become HTTP answers: a status, a stable code, what to do. */
import { ApiError } from '../api/errors.ts';

/** Codes (from any part: access, services, tunnel, chain) that mean "no such thing". */
const NOT_FOUND =
  /NOT_FOUND|UNKNOWN_(SERVICE|GRANT|CONNECTION|PROXY|SESSION|ORGANIZATION)|^NO_NETWORK_SERVICE$|^NO_SUCH|^NO_VPN_SERVICE$|^NOT_UP$/;
/** Codes that mean "you may not": no grant, a revoked or expired one, someone else's service. */
const FORBIDDEN =
  /FORBIDDEN|^NOT_A_MEMBER$|NOT_OWNER|NOT_SERVICE_OWNER|REVOKED|EXPIRED|NO_GRANT|DENIED|POLICY/;
/** Codes that mean the request does not fit the current state (in use, retired, already there, a network not joined). */
const CONFLICT =
  /IN_USE|ALREADY|RETIRED|EXISTS|DUPLICATE|AMBIGUOUS|LEFT_NETWORK|^LISTEN_FAILED$|^NOT_IN_ORGANIZATION$/;
/** Codes that mean the input was wrong in a way the schema could not tell. */
const BAD_INPUT = /^BAD_|INVALID|MALFORMED|_REQUIRED$|^NOT_A_|TOO_(LONG|MANY_RULES|LARGE)/;
/** Codes that mean another machine (chain, service host, relay) failed or could not be reached. */
const UPSTREAM = /UNREACHABLE|TIMEOUT|DIAL|CONNECT|HOST|CHAIN|REVERT|RPC|FAILED|CLOSED|ENDED|GONE|REFUSED/;
/** Codes that mean this host lacks what the request needs (the L3 VPN without root or TUN). */
const UNSUPPORTED = /^UNSUPPORTED$/;
/** Codes that mean "not now": a limit that frees up when other work ends. */
const BUSY = /^TOO_MANY_(TUNNELS|STREAMS|SESSIONS)$/;
/** A bound that only leaving something frees. */
const FULL = /^TOO_MANY_NETWORKS$/;

/** First match wins: a code is tried against these in order. */
const CODE_STATUS: ReadonlyArray<readonly [RegExp, number]> = [
  [BUSY, 503],
  [FULL, 409],
  [UNSUPPORTED, 501],
  [NOT_FOUND, 404],
  [FORBIDDEN, 403],
  [CONFLICT, 409],
  [BAD_INPUT, 400],
  [UPSTREAM, 502],
];

/** Contract errors that are the caller's fault rather than the chain's. */
const REVERT_STATUS: Record<string, number> = {
  NotServiceOwner: 403,
  NotGrantee: 403,
  NotAuthorized: 403,
  PolicyNotMet: 403,
  NotAllowed: 403,
  ServiceNotFound: 404,
  UnknownService: 404,
  GrantNotFound: 404,
  UnknownGrant: 404,
  ServiceInactive: 409,
  AlreadyRevoked: 409,
  InvalidPolicy: 400,
  InvalidPolicyRef: 400,
  PaymentTokenRequired: 400,
  PriceTooHigh: 400,
  InvalidGrantDuration: 400,
  AllowlistBatchTooLarge: 400,
};

/**
 * Maps an error thrown by a handler's dependencies to an ApiError. Typed errors keep their code and
 * message (plus their hint); anything untyped stays a 500 so the server logs it and answers
 * "internal error" without leaking details.
 */
export function toApiError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (typeof err !== 'object' || err === null) return err;
  const e = err as { code?: unknown; message?: unknown; hint?: unknown; errorName?: unknown };
  if (typeof e.code !== 'string' || typeof e.message !== 'string') return err;
  const code = e.code;
  // Some errors already end their message with the hint; say it once.
  const hint = typeof e.hint === 'string' && e.hint && !e.message.includes(e.hint) ? e.hint : '';
  const message = hint ? `${e.message}; ${hint}` : e.message;
  const revert = typeof e.errorName === 'string' ? REVERT_STATUS[e.errorName] : undefined;
  const status = revert ?? CODE_STATUS.find(([re]) => re.test(code))?.[1] ?? 500;
  if (status === 500) return err;
  return new ApiError(status, code, message, { cause: err });
}

/** Runs `fn` and rethrows its failure as an API error (see {@link toApiError}). */
export async function mapErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toApiError(err);
  }
}

/** The answer of network routes on a node started without the p2p network. */
export function noNetwork(what: string): ApiError {
  return new ApiError(
    503,
    'NO_NETWORK',
    `${what} needs the p2p network, and this node runs without it; restart it with \`dibs up\` (without --no-p2p) or \`dibs node start\``,
  );
}

/** Stable codes of {@link DaemonApiError}. */
export type DaemonApiErrorCode = 'BAD_API_TOKEN' | 'API_LISTEN_FAILED';

/** A failure mounting the management API on the daemon, with what to do about it. */
export class DaemonApiError extends Error {
  override name = 'DaemonApiError';
  readonly code: DaemonApiErrorCode;
  /** What the operator should do about it. */
  readonly hint: string;
  constructor(code: DaemonApiErrorCode, message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}
