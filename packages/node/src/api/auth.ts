/** Bearer-token authentication for the API: constant-time comparison, tokens never echoed or logged. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MIN_TOKEN_LENGTH } from './constants.ts';
import { ApiError } from './errors.ts';

/** A fresh random API token (32 bytes, base64url): what the daemon stores in its data directory. */
export function generateApiToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Throws INVALID_CONFIG unless `token` is long enough and printable without quoting. */
export function assertUsableToken(token: string): void {
  if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
    throw new ApiError(
      500,
      'INVALID_CONFIG',
      `the API token must be at least ${MIN_TOKEN_LENGTH} characters of [A-Za-z0-9._~+/=-]; generate one with generateApiToken()`,
    );
  }
}

/** Checks `Authorization: Bearer <token>` against the expected token's digest in constant time. */
export function createTokenCheck(token: string): (header: string | undefined) => void {
  assertUsableToken(token);
  // Comparing fixed-size digests keeps the comparison constant-time even when lengths differ.
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    if (header === undefined || header.length === 0) {
      throw new ApiError(
        401,
        'UNAUTHORIZED',
        "missing API token: send 'Authorization: Bearer <token>' (the node prints the UI address with its token at start-up; the token is kept in the node's data directory)",
      );
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) {
      throw new ApiError(401, 'UNAUTHORIZED', "malformed Authorization header: expected 'Bearer <token>'");
    }
    const given = createHash('sha256').update(m[1]!).digest();
    if (!timingSafeEqual(given, expected)) {
      throw new ApiError(
        401,
        'UNAUTHORIZED',
        "wrong API token: use the token from the node's data directory (it changes when the data directory is reset)",
      );
    }
  };
}
