/** Typed errors of metrics and logging. */

/** Stable codes of {@link ObserveError}. */
export type ObserveErrorCode = 'BAD_LOG_FORMAT' | 'BAD_LOG_FILE' | 'UNKNOWN_METRIC_SOURCE';

/** A metrics or logging failure, with what to do about it. */
export class ObserveError extends Error {
  override name = 'ObserveError';
  readonly code: ObserveErrorCode;
  readonly hint: string;
  constructor(code: ObserveErrorCode, message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}
