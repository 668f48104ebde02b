/**
 * Verifies DIBS ID tokens (JWTs from a DIBS login provider): RS256 signature against the provider's
 * JWKS, issuer, audience, expiry — and, when given the chain's grant state, that the grant behind the
 * token has not been revoked since it was issued (a token dies with its grant, not only at its `exp`).
 *
 * Not jose's `jwtVerify`: jose 6 verifies through WebCrypto, whose every call hops to the thread pool
 * (measured 3.6k RS256 verifications/s on a loaded 2-core machine against 11k for the same check
 * through node:crypto's synchronous `verify` with a KeyObject). So the signature is checked with
 * node:crypto — before the payload is parsed — and the claims as `jwtVerify` checks them.
 */
import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { formatDid } from '@dibs/core';
import type { JSONWebKeySet, JWK, JWTPayload } from 'jose';
import {
  ID_TOKEN_ALGORITHMS,
  ID_TOKEN_CLOCK_TOLERANCE_S,
  JWKS_REFETCH_MIN_MS,
  MAX_CACHED_HEADERS,
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
  /** The provider's JWKS; default: fetched (and refreshed on an unknown key id) from its `jwks_uri`. */
  jwks?: JSONWebKeySet;
  /** The chain's grant state; when given, tokens whose grant was revoked or expired are refused. */
  grants?: GrantView;
  clockToleranceS?: number;
  /** Clock, Unix ms. */
  now?: () => number;
}

const SUB = /^eip155:(\d{1,20}):(0x[0-9a-fA-F]{40})$/;

function importKeys(jwks: JSONWebKeySet): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const jwk of jwks.keys ?? []) {
    if (
      jwk.kty !== 'RSA' ||
      (jwk.use !== undefined && jwk.use !== 'sig') ||
      (jwk.alg !== undefined && jwk.alg !== 'RS256')
    )
      continue;
    try {
      keys.set(jwk.kid ?? '', createPublicKey({ key: jwk as JWK & { kty: 'RSA' }, format: 'jwk' }));
    } catch {
      // an unusable key is skipped; tokens signed with it fail as unknown key
    }
  }
  return keys;
}

async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(PROVIDER_FETCH_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return res.json();
}

/** One JSON object part of a compact JWS. */
function parsePart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SdkError('BAD_TOKEN', `the ID token's ${what} is not a JSON object`, 'sign in again');
  }
  return value as Record<string, unknown>;
}

/** Verifies DIBS ID tokens for one or more clients of one provider. */
export class IdTokenVerifier {
  readonly issuer: string;
  readonly #audience: string[];
  readonly #grants: GrantView | undefined;
  readonly #tolerance: number;
  readonly #now: () => number;
  readonly #jwksUri: string | undefined;
  #keys: Map<string, KeyObject>;
  /** Encoded JWS header → its key, for headers already decoded and checked; emptied with the keys. */
  readonly #byHeader = new Map<string, KeyObject>();
  #fetchedAt = 0;

  private constructor(o: IdTokenVerifierOptions, keys: Map<string, KeyObject>, jwksUri: string | undefined) {
    this.issuer = o.issuer;
    this.#audience = Array.isArray(o.audience) ? o.audience : [o.audience];
    this.#keys = keys;
    this.#jwksUri = jwksUri;
    this.#grants = o.grants;
    this.#tolerance = o.clockToleranceS ?? ID_TOKEN_CLOCK_TOLERANCE_S;
    this.#now = o.now ?? Date.now;
    this.#fetchedAt = Date.now();
  }

  /** A verifier; without `jwks` it reads the provider's discovery document and JWKS first. */
  static async create(o: IdTokenVerifierOptions): Promise<IdTokenVerifier> {
    if (o.jwks) return new IdTokenVerifier(o, importKeys(o.jwks), undefined);
    try {
      const meta = (await fetchJson(
        new URL('.well-known/openid-configuration', `${o.issuer.replace(/\/$/, '')}/`).href,
      )) as {
        issuer?: string;
        jwks_uri?: string;
      };
      if (meta.issuer !== o.issuer || typeof meta.jwks_uri !== 'string') {
        throw new Error(`its discovery document names issuer ${meta.issuer}`);
      }
      const jwks = (await fetchJson(meta.jwks_uri)) as JSONWebKeySet;
      return new IdTokenVerifier(o, importKeys(jwks), meta.jwks_uri);
    } catch (err) {
      throw new SdkError(
        'PROVIDER_UNREACHABLE',
        `cannot read the login provider's keys at ${o.issuer}: ${(err as Error).message}`,
        'check the issuer URL and that the provider runs (`dibs login serve`)',
        { cause: err, status: 503 },
      );
    }
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
    const first = token.indexOf('.');
    const dot = token.lastIndexOf('.');
    if (first <= 0 || dot === first || dot === token.length - 1 || token.indexOf('.', first + 1) !== dot) {
      throw new SdkError('BAD_TOKEN', 'the ID token is not a JWT (three base64url parts)', 'sign in again');
    }
    const headerPart = token.slice(0, first);
    // A provider's tokens share one header; its decoding and key lookup are done once per distinct header.
    const key = this.#byHeader.get(headerPart) ?? (await this.#keyForHeader(headerPart));
    // The signature first: nothing of the payload is read before it is known to come from the provider.
    const signature = Buffer.from(token.slice(dot + 1), 'base64url');
    if (!verifySignature('sha256', Buffer.from(token.slice(0, dot), 'latin1'), key, signature)) {
      throw new SdkError('BAD_TOKEN', 'the ID token signature does not verify', 'sign in again');
    }
    const payload = parsePart(token.slice(first + 1, dot), 'payload') as JWTPayload;
    this.#checkClaims(payload);
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

  /** Issuer, audience (and azp with several audiences), exp, iat and nbf, with the clock tolerance. */
  #checkClaims(p: JWTPayload): void {
    const now = this.#now() / 1000;
    if (p.iss !== this.issuer)
      throw new SdkError(
        'WRONG_ISSUER',
        'the ID token comes from another provider',
        'sign in with the configured provider',
      );
    const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
    const ours = aud.find((a) => typeof a === 'string' && this.#audience.includes(a));
    if (!ours || (aud.length > 1 && p.azp !== ours)) {
      throw new SdkError(
        'WRONG_AUDIENCE',
        'the ID token was issued to another application',
        'sign in to this application',
      );
    }
    if (typeof p.exp !== 'number' || typeof p.iat !== 'number' || typeof p.sub !== 'string') {
      throw new SdkError(
        'BAD_TOKEN',
        'the ID token lacks exp, iat or sub',
        'use a token from a DIBS login provider',
      );
    }
    if (p.exp <= now - this.#tolerance)
      throw new SdkError('TOKEN_EXPIRED', 'the ID token has expired', 'refresh or sign in again');
    if (p.iat > now + this.#tolerance || (typeof p.nbf === 'number' && p.nbf > now + this.#tolerance)) {
      throw new SdkError(
        'BAD_TOKEN',
        "the ID token is not valid yet; check this server's clock",
        'fix the clock',
      );
    }
  }

  /** Decodes and checks a header (algorithm, no `crit`), finds its key and remembers the pair. */
  async #keyForHeader(headerPart: string): Promise<KeyObject> {
    const header = parsePart(headerPart, 'header') as { alg?: unknown; kid?: unknown; crit?: unknown };
    if (
      !(ID_TOKEN_ALGORITHMS as readonly string[]).includes(String(header.alg)) ||
      header.crit !== undefined
    ) {
      throw new SdkError(
        'BAD_TOKEN',
        `ID tokens signed with ${String(header.alg)} are not accepted`,
        'use a token from a DIBS login provider',
      );
    }
    const key = await this.#key(typeof header.kid === 'string' ? header.kid : '');
    if (this.#byHeader.size >= MAX_CACHED_HEADERS) this.#byHeader.clear();
    this.#byHeader.set(headerPart, key);
    return key;
  }

  /** The key with id `kid`; an unknown id refetches the JWKS (at most once per cache period), for key rotation. */
  async #key(kid: string): Promise<KeyObject> {
    let key =
      this.#keys.get(kid) ?? (kid === '' && this.#keys.size === 1 ? [...this.#keys.values()][0] : undefined);
    if (!key && this.#jwksUri && Date.now() - this.#fetchedAt > JWKS_REFETCH_MIN_MS) {
      this.#fetchedAt = Date.now();
      try {
        this.#keys = importKeys((await fetchJson(this.#jwksUri)) as JSONWebKeySet);
        this.#byHeader.clear();
      } catch (err) {
        throw new SdkError(
          'PROVIDER_UNREACHABLE',
          `cannot refresh the provider's keys: ${(err as Error).message}`,
          'retry',
          { cause: err, status: 503 },
        );
      }
      key = this.#keys.get(kid);
    }
    if (!key)
      throw new SdkError('BAD_TOKEN', `the ID token is signed with unknown key "${kid}"`, 'sign in again');
    return key;
  }
}
