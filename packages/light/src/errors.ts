/** Stable codes of {@link LightError}. */
export type LightErrorCode =
  | 'INVALID_CHECKPOINT'
  | 'BAD_SIGNATURE'
  | 'UNTRUSTED_SIGNER'
  | 'TOO_FEW_SIGNERS'
  | 'FORK'
  | 'STALE_CHECKPOINT'
  | 'WRONG_CHAIN'
  | 'HEADER_MISMATCH'
  | 'PROOF_INVALID'
  | 'NO_CHECKPOINT'
  | 'ALL_RPCS_FAILED'
  | 'RPC_FAILED'
  | 'TOO_LARGE'
  | 'TIMEOUT'
  | 'RATE_LIMITED'
  | 'MALFORMED'
  | 'INVALID_ARGUMENT'
  | 'LAYOUT';

/** A light-node failure: a checkpoint or chain answer that does not verify, or a bad input. */
export class LightError extends Error {
  override name = 'LightError';
  readonly code: LightErrorCode;
  constructor(code: LightErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
