/** Typed errors of the DIBS p2p layer: each has a stable `code` and a message that says what to do. */

/** Stable codes of {@link P2pError}. */
export type P2pErrorCode =
  | 'FRAME_TOO_LARGE'
  | 'FRAME_TIMEOUT'
  | 'STREAM_ENDED'
  | 'MALFORMED_MESSAGE'
  | 'UNSUPPORTED_VERSION'
  | 'NOT_ADMITTED'
  | 'ADMISSION_REFUSED'
  | 'ADMISSION_TIMEOUT'
  | 'CREDENTIAL_UNAVAILABLE'
  | 'INVALID_KEY'
  | 'INVALID_RECORD'
  | 'RECORD_NOT_FOUND'
  | 'INVALID_CONFIG'
  | 'RELAY_UNAVAILABLE';

/** A failure in the p2p layer (framing, admission, records, configuration). */
export class P2pError extends Error {
  override name = 'P2pError';
  readonly code: P2pErrorCode;
  constructor(code: P2pErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
