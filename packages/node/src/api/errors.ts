/** Typed errors of the HTTP API: each carries the HTTP status and a stable code for clients. */

/** Stable codes the framework itself answers with; handlers may use their own codes too. */
export type ApiErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN_HOST'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_TOO_LARGE'
  | 'URL_TOO_LONG'
  | 'INVALID_PARAMS'
  | 'INVALID_QUERY'
  | 'INVALID_BODY'
  | 'UNEXPECTED_BODY'
  | 'BAD_PATH'
  | 'TOO_MANY_STREAMS'
  | 'INTERNAL_ERROR'
  | 'INVALID_CONFIG'
  | 'INVALID_ROUTE'
  | 'INVALID_EVENT';

/** An error that becomes `{ "error": { code, message } }` with `status`; handlers throw it for 4xx answers. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: ApiErrorCode | (string & {}), message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.code = code;
  }
}

/** The JSON body of every error answer. */
export interface ApiErrorBody {
  error: { code: string; message: string; requestId?: string };
}

/** Whether `err` carries an HTTP status and code a client may see (any typed error, not only ApiError). */
export function isTypedHttpError(err: unknown): err is { status: number; code: string; message: string } {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { status?: unknown; code?: unknown; message?: unknown };
  return (
    typeof e.status === 'number' &&
    Number.isInteger(e.status) &&
    e.status >= 400 &&
    e.status <= 599 &&
    typeof e.code === 'string' &&
    e.code.length > 0 &&
    typeof e.message === 'string'
  );
}
