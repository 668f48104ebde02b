/** Typed errors of organization networks. */

export type OrgNetworkErrorCode =
  | 'UNKNOWN_ORGANIZATION'
  | 'NO_NETWORK_SERVICE'
  | 'NOT_A_MEMBER'
  | 'TOO_MANY_NETWORKS'
  | 'NOT_JOINED'
  | 'INVALID_ORG_ID';

/** A failure joining, leaving or running an organization network; `hint` says what to do. */
export class OrgNetworkError extends Error {
  override name = 'OrgNetworkError';
  readonly code: OrgNetworkErrorCode;
  readonly hint: string | undefined;
  constructor(code: OrgNetworkErrorCode, message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}

/** Parses an organization id given by a user (decimal, ≥ 1). */
export function parseOrgId(value: string | number | bigint): bigint {
  const text = String(value).trim();
  if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) < 1n) {
    throw new OrgNetworkError('INVALID_ORG_ID', `"${text}" is not an organization id`, 'see: dibs org list');
  }
  return BigInt(text);
}
