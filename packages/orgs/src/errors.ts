/** Typed errors of the organization library: a stable code, a message, a hint, and a kind callers map (HTTP status, exit code). */

/** What sort of failure: who is to blame and whether retrying can help. */
export type OrgErrorKind = 'invalid' | 'not-found' | 'forbidden' | 'conflict';

/** Stable codes of {@link OrgError}. */
export type OrgErrorCode =
  | 'INVALID_ORG_ID'
  | 'INVALID_ADDRESS'
  | 'INVALID_AMOUNT'
  | 'INVALID_NAME'
  | 'INVALID_NETWORK_LABEL'
  | 'INVALID_TOKEN'
  | 'INVALID_ENV_KEY'
  | 'ENV_VALUE_TOO_LONG'
  | 'ORG_NOT_FOUND'
  | 'ENV_KEY_NOT_SET'
  | 'NOT_ORG_ADMIN'
  | 'ALREADY_MEMBER'
  | 'NOT_A_MEMBER'
  | 'ALREADY_NODE'
  | 'NOT_A_NODE'
  | 'TOO_MANY_ENV_KEYS'
  | 'INSUFFICIENT_BALANCE';

const KIND: Record<OrgErrorCode, OrgErrorKind> = {
  INVALID_ORG_ID: 'invalid',
  INVALID_ADDRESS: 'invalid',
  INVALID_AMOUNT: 'invalid',
  INVALID_NAME: 'invalid',
  INVALID_NETWORK_LABEL: 'invalid',
  INVALID_TOKEN: 'invalid',
  INVALID_ENV_KEY: 'invalid',
  ENV_VALUE_TOO_LONG: 'invalid',
  ORG_NOT_FOUND: 'not-found',
  ENV_KEY_NOT_SET: 'not-found',
  NOT_ORG_ADMIN: 'forbidden',
  ALREADY_MEMBER: 'conflict',
  NOT_A_MEMBER: 'conflict',
  ALREADY_NODE: 'conflict',
  NOT_A_NODE: 'conflict',
  TOO_MANY_ENV_KEYS: 'conflict',
  INSUFFICIENT_BALANCE: 'conflict',
};

/** A failure of an organization operation, with what to do about it. */
export class OrgError extends Error {
  override name = 'OrgError';
  readonly code: OrgErrorCode;
  readonly kind: OrgErrorKind;
  /** What the user should do about it. */
  readonly hint: string;
  constructor(code: OrgErrorCode, message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.kind = KIND[code];
    this.hint = hint;
  }
}
