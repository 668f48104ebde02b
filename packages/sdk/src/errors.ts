/** Why the SDK refused or failed: `code` for programs, `hint` for people, `status` for HTTP answers. */
export type SdkErrorCode =
  | 'NO_CREDENTIALS'
  | 'BAD_CREDENTIALS'
  | 'BAD_TOKEN'
  | 'TOKEN_EXPIRED'
  | 'WRONG_AUDIENCE'
  | 'WRONG_ISSUER'
  | 'GRANT_REVOKED'
  | 'TICKET_REFUSED'
  | 'PROVIDER_UNREACHABLE'
  | 'NOT_STARTED'
  | 'ACCESS_DENIED'
  | 'BAD_CONFIG';

/** A typed SDK failure. */
export class SdkError extends Error {
  override name = 'SdkError';
  readonly code: SdkErrorCode;
  readonly hint: string;
  /** HTTP status a server answers with for this failure. */
  readonly status: number;
  constructor(
    code: SdkErrorCode,
    message: string,
    hint: string,
    options?: ErrorOptions & { status?: number },
  ) {
    super(message, options);
    this.code = code;
    this.hint = hint;
    this.status = options?.status ?? 401;
  }
}
