/** Route path patterns such as `/api/v1/services/:id`: compiled once, matched per request. */
import { ApiError } from './errors.ts';

/** A compiled path pattern. */
export interface PathPattern {
  readonly pattern: string;
  /** Names of the `:param` segments, in order. */
  readonly names: readonly string[];
  /** The OpenAPI form, `/api/v1/services/{id}`. */
  readonly openapiPath: string;
  /** Raw (still percent-encoded) values by name, or undefined when the path does not match. */
  match(segments: readonly string[]): Record<string, string> | undefined;
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/;

/** Compiles `pattern`; throws INVALID_ROUTE for anything but literal and `:name` segments. */
export function compilePath(pattern: string): PathPattern {
  if (!pattern.startsWith('/'))
    throw new ApiError(500, 'INVALID_ROUTE', `route path ${pattern} must start with /`);
  const parts = pattern.split('/').slice(1);
  const names: string[] = [];
  const kinds: ({ literal: string } | { param: string })[] = [];
  for (const part of parts) {
    const p = PARAM.exec(part);
    if (p) {
      if (names.includes(p[1]!)) {
        throw new ApiError(500, 'INVALID_ROUTE', `route path ${pattern} names :${p[1]} twice`);
      }
      names.push(p[1]!);
      kinds.push({ param: p[1]! });
    } else if (LITERAL.test(part)) {
      kinds.push({ literal: part });
    } else {
      throw new ApiError(500, 'INVALID_ROUTE', `route path ${pattern} has an invalid segment "${part}"`);
    }
  }
  return {
    pattern,
    names,
    openapiPath: `/${kinds.map((k) => ('param' in k ? `{${k.param}}` : k.literal)).join('/')}`,
    match(segments) {
      if (segments.length !== kinds.length) return undefined;
      const out: Record<string, string> = {};
      for (let i = 0; i < kinds.length; i++) {
        const k = kinds[i]!;
        const seg = segments[i]!;
        if ('literal' in k) {
          if (k.literal !== seg) return undefined;
        } else {
          if (seg.length === 0) return undefined;
          out[k.param] = seg;
        }
      }
      return out;
    },
  };
}

/** Splits a URL pathname (leading slash) into its raw segments. */
export function splitPath(pathname: string): string[] {
  return pathname.split('/').slice(1);
}
