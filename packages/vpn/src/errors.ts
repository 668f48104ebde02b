/** Typed errors of the VPN: a code, a message that says what went wrong, a hint that says what to do. */

export type VpnErrorCode =
  | 'UNSUPPORTED'
  | 'COMMAND_FAILED'
  | 'DEVICE_FAILED'
  | 'UAPI_FAILED'
  | 'MALFORMED'
  | 'TOO_LARGE'
  | 'UNSUPPORTED_VERSION'
  | 'BAD_CONFIG'
  | 'POOL_EXHAUSTED'
  | 'ROUTE_CONFLICT'
  | 'NOT_A_VPN'
  | 'ALREADY_UP'
  | 'NOT_UP'
  | 'SESSION_ENDED'
  | 'BRIDGE_FAILED';

/** Points unprivileged or unsupported hosts to the L4 alternative. */
export const L4_HINT =
  'use the L4 VPN instead, which needs no privileges: `dibs proxy --socks 127.0.0.1:1080 --via <service>`';

export class VpnError extends Error {
  readonly code: VpnErrorCode;
  readonly hint: string | undefined;

  constructor(code: VpnErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VpnError';
    this.code = code;
    this.hint = hint;
  }
}
