/**
 * Verifies DIBS ID tokens (JWTs from a DIBS login provider) with jose: RS256 signature against the
 * provider's JWKS, issuer, audience, expiry — and, when given the chain's grant state, that the grant
 * behind the token has not been revoked since it was issued (a token dies with its grant, not only at
 * its `exp`).
 */
import { formatDid } from '@dibs/core';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import {
  ID_TOKEN_ALGORITHMS,
  ID_TOKEN_CLOCK_TOLERANCE_S,
  JWKS_CACHE_MS,
  MAX_ID_TOKEN_CHARS,
  PROVIDER_FETCH_TIMEOUT_MS,
} from '../constants.ts';
import { SdkError } from '../errors.ts';
import type { DibsIdentity, GrantView } from './identity.ts';

/** Options of {@link IdTokenVerifier}. */
export interface IdTokenVerifierOptions {
  /** The provider's issuer URL (exactly as in its discovery document). */
  issuer: string;
  /** The client id(s) tokens must be issued to. */
  audience: string | string[];
  /** The provider's JWKS; default: fetched (and refreshed) from the provider's `jwks_uri`. */
  jwks?: JSONWebKeySet;
  /** The chain's grant state; when given, tokens whose grant was revoked or expired are refused. */
  grants?: GrantView;
  clockToleranceS?: number;
  /** Clock, Unix ms. */
  now?: () => number;
}

const SUB = /^eip155:(\d{1,20}):(0x[0-9a-fA-F]{40})$/;

/** Verifies DIBS ID tokens for one or more clients of one provider. */
export class IdTokenVerifier {
  readonly issuer: string;
  readonly #audience: string | string[];
  readonly #keys: JWTVerifyGetKey;
  readonly #grants: GrantView | undefined;
  readonly #tolerance: number;
  readonly #now: () => number;

  private constructor(o: IdTokenVerifierOptions, keys: JWTVerifyGetKey) {
    this.issuer = o.issuer;
    this.#audience = o.audience;
    this.#keys = keys;
    this.#grants = o.grants;
    this.#tolerance = o.clockToleranceS ?? ID_TOKEN_CLOCK_TOLERANCE_S;
    this.#now = o.now ?? Date.now;
  }

  /** A verifier; without `jwks` it reads the provider's discovery document first. */
  static async create(o: IdTokenVerifierOptions): Promise<IdTokenVerifier> {
    if (o.jwks) return new IdTokenVerifier(o, createLocalJWKSet(o.jwks));
    let jwksUri: string;
    try {
      const res = await fetch(
        new URL('.well-known/openid-configuration', `${o.issuer.replace(/\/$/, '')}/`),
        {
          signal: AbortSignal.timeout(PROVIDER_FETCH_TIMEOUT_MS),
        },
      );
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const meta = (await res.json()) as { issuer?: string; jwks_uri?: string };
      if (meta.issuer !== o.issuer || typeof meta.jwks_uri !== 'string') {
        throw new Error(`its discovery document names issuer ${meta.issuer}`);
      }
      jwksUri = meta.jwks_uri;
    } catch (err) {
      throw new SdkError(
        'PROVIDER_UNREACHABLE',
        `cannot read the login provider's discovery document at ${o.issuer}: ${(err as Error).message}`,
        'check the issuer URL and that the provider runs (`dibs login serve`)',
        { cause: err, status: 503 },
      );
    }
    const keys = createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: JWKS_CACHE_MS,
      timeoutDuration: PROVIDER_FETCH_TIMEOUT_MS,
    });
    return new IdTokenVerifier(o, keys);
  }

  /** Verifies `token`; returns who it identifies or throws an SdkError. */
  async verify(token: string): Promise<DibsIdentity> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_ID_TOKEN_CHARS) {
      throw new SdkError(
        'BAD_TOKEN',
        `an ID token is a JWT of at most ${MAX_ID_TOKEN_CHARS} characters`,
        'sign in again',
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        issuer: this.issuer,
        audience: this.#audience,
        algorithms: [...ID_TOKEN_ALGORITHMS],
        clockTolerance: this.#tolerance,
        currentDate: new Date(this.#now()),
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (err) {
      throw translate(err);
    }
    const m = SUB.exec(String(payload.sub));
    if (!m)
      throw new SdkError(
        'BAD_TOKEN',
        `"${payload.sub}" is not a DIBS subject`,
        'use a token from a DIBS login provider',
      );
    const chainId = Number(m[1]);
    const grantId =
      typeof payload.grant_id === 'string' && /^\d{1,78}$/.test(payload.grant_id)
        ? BigInt(payload.grant_id)
        : undefined;
    let expiresAt = (payload.exp as number) * 1000;
    if (this.#grants && grantId !== undefined) {
      const grant = this.#grants.grant(grantId);
      if (grant?.revoked) {
        throw new SdkError(
          'GRANT_REVOKED',
          `grant ${grantId} behind this token was revoked on chain`,
          'the user must be granted access again',
        );
      }
      if (grant) {
        const grantEnds = Number(grant.expiresAt) * 1000;
        if (grantEnds <= this.#now())
          throw new SdkError('TOKEN_EXPIRED', `grant ${grantId} has expired`, 'the user must renew access');
        expiresAt = Math.min(expiresAt, grantEnds);
      }
    }
    const address = m[2]!;
    return {
      sub: String(payload.sub),
      address,
      chainId,
      did: typeof payload.did === 'string' ? payload.did : formatDid(address, chainId),
      grantId,
      serviceId: undefined,
      groups: Array.isArray(payload.groups)
        ? payload.groups.filter((g): g is string => typeof g === 'string')
        : [],
      expiresAt,
      via: 'id_token',
      claims: payload as Record<string, unknown>,
    };
  }
}

function translate(err: unknown): SdkError {
  if (err instanceof joseErrors.JWTExpired)
    return new SdkError('TOKEN_EXPIRED', 'the ID token has expired', 'refresh or sign in again', {
      cause: err,
    });
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud')
      return new SdkError(
        'WRONG_AUDIENCE',
        'the ID token was issued to another application',
        'sign in to this application',
        { cause: err },
      );
    if (err.claim === 'iss')
      return new SdkError(
        'WRONG_ISSUER',
        'the ID token comes from another provider',
        'sign in with the configured provider',
        { cause: err },
      );
    return new SdkError(
      'BAD_TOKEN',
      `the ID token's ${err.claim} claim is invalid: ${err.reason}`,
      'sign in again',
      { cause: err },
    );
  }
  if (err instanceof joseErrors.JOSEError) {
    return new SdkError('BAD_TOKEN', `the ID token does not verify (${err.code})`, 'sign in again', {
      cause: err,
    });
  }
  return new SdkError(
    'PROVIDER_UNREACHABLE',
    `cannot verify the ID token: ${(err as Error).message}`,
    'retry',
    { cause: err, status: 503 },
  );
}
