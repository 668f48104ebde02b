/** Why a login step failed: `code` for programs, `hint` for people. */
export type LoginErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_SIWE_MESSAGE'
  | 'WRONG_DOMAIN'
  | 'WRONG_URI'
  | 'WRONG_CHAIN'
  | 'BAD_NONCE'
  | 'SIWE_EXPIRED'
  | 'BAD_SIGNATURE'
  | 'NO_GRANT'
  | 'NOT_A_LOGIN_SERVICE'
  | 'UNKNOWN_SERVICE'
  | 'UNKNOWN_CLIENT'
  | 'NOT_SERVICE_OWNER'
  | 'BAD_REDIRECT_URI'
  | 'CHAIN_UNAVAILABLE'
  | 'LOCKED';

/** A typed failure of the login provider. */
export class LoginError extends Error {
  override name = 'LoginError';
  readonly code: LoginErrorCode;
  readonly hint: string;
  constructor(code: LoginErrorCode, message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}
