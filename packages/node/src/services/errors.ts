/** Typed errors of the services runtime: the code names what went wrong, the hint what to do. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly code: string;
  /** What the user can do next. */
  readonly hint: string | undefined;
  /** Worth retrying for a new connection (host unreachable, connection dropped). */
  readonly transient: boolean;
  constructor(
    code: string,
    message: string,
    hint?: string,
    options?: ErrorOptions & { transient?: boolean },
  ) {
    super(message, options);
    this.code = code;
    this.hint = hint;
    this.transient = options?.transient ?? false;
  }
}
