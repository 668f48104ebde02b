/** Typed errors of the tunnel: every code names what went wrong; messages say what to do. */

/** Stable codes of {@link TunnelError}, also sent to clients in a refused open's result. */
export type TunnelErrorCode =
  | 'MALFORMED'
  | 'TOO_LARGE'
  | 'TIMEOUT'
  | 'STREAM_ENDED'
  | 'UNSUPPORTED_VERSION'
  | 'TICKET_REFUSED'
  | 'UNKNOWN_SERVICE'
  | 'NOT_A_TUNNEL_SERVICE'
  | 'DESTINATION_REQUIRED'
  | 'DESTINATION_NOT_ALLOWED'
  | 'RESOLVE_FAILED'
  | 'TARGET_UNREACHABLE'
  | 'TOO_MANY_TUNNELS'
  | 'RECORD_REJECTED'
  | 'TRUNCATED'
  | 'SESSION_ENDED'
  | 'VPN_REFUSED'
  | 'CLOSED'
  | 'INTERNAL';

/** A tunnel failure with a stable code. */
export class TunnelError extends Error {
  override name = 'TunnelError';
  readonly code: TunnelErrorCode;
  /** The ticket verifier's code when the ticket was refused (e.g. REVOKED, WRONG_SERVICE). */
  readonly detail: string | undefined;
  constructor(code: TunnelErrorCode, message: string, options?: ErrorOptions & { detail?: string }) {
    super(message, options);
    this.code = code;
    this.detail = options?.detail;
  }
}
