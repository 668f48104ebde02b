/** Typed errors of the node daemon: a stable `code`, what went wrong, and what to do. */

/** Stable codes of {@link DaemonError}. */
export type DaemonErrorCode =
  | 'NETWORK_GRANT_REVOKED'
  | 'NO_NETWORK_SERVICE'
  | 'UNFUNDED_WALLET'
  | 'BAD_P2P_CONFIG'
  | 'NO_RPC_URL'
  | 'BAD_CONTRACTS'
  | 'BAD_JOIN_BUNDLE'
  | 'CHAIN_UNREACHABLE';

/** A failure starting or running the node daemon. */
export class DaemonError extends Error {
  override name = 'DaemonError';
  readonly code: DaemonErrorCode;
  /** What the operator should do about it. */
  readonly hint: string;
  constructor(code: DaemonErrorCode, message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}
