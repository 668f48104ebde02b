/**
 * JSON Schema validation of requests and answers with TypeBox's own compiler (the daemon already
 * loads it, so the API adds no validator library): path and query parameters are converted from
 * their strings, bodies are taken as sent, answers lose undeclared keys.
 */
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { MAX_REPORTED_ISSUES } from './constants.ts';

/** Which part of a request (or the answer) a schema checks. */
export type HttpPart = 'body' | 'querystring' | 'params' | 'headers' | 'response';

/** One problem found in a value: where, which rule, the rule's parameters and the offending value. */
export interface ValidationIssue {
  keyword: string;
  /** JSON pointer into the value, '' for the value itself. */
  instancePath: string;
  params: Record<string, unknown>;
  /** The value at `instancePath`. */
  data?: unknown;
  /** The schema whose rule failed. */
  schema?: { description?: string; properties?: object };
}

/** The outcome of a validation: the value to use (converted or cleaned) or the issues. */
export type ValidationResult = { ok: true; value: unknown } | { ok: false; issues: ValidationIssue[] };

/** A compiled validator: params and query are converted ("42" → 42), answers lose undeclared keys. */
export type Validate = (data: unknown) => ValidationResult;

/**
 * A compiled validator for `schema` applied to `part`. A value that passes as it is, is used as it
 * is; only one that fails is converted (params, query) or copied and cleaned (answers: keys that an
 * `additionalProperties: false` object does not declare are dropped), then checked again. TypeBox's
 * conversion and cleaning walk the value without compiled code, so they are kept off the common path.
 */
export function compileValidator(schema: object, part: HttpPart): Validate {
  const compiled = Compile(schema as TSchema);
  const convert = part === 'params' || part === 'querystring' || part === 'headers';
  const clean = part === 'response';
  return (data) => {
    if (compiled.Check(data)) return { ok: true, value: data };
    const value = convert ? compiled.Convert(data) : clean ? compiled.Clean(structuredClone(data)) : data;
    if ((convert || clean) && compiled.Check(value)) return { ok: true, value };
    return { ok: false, issues: issuesOf(schema, value, compiled.Errors(value)) };
  };
}

function issuesOf(
  schema: object,
  value: unknown,
  errors: readonly { keyword: string; schemaPath: string; instancePath: string; params: object }[],
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const e of errors) {
    // An undeclared key is reported once as `additionalProperties`, not again as `false` schema.
    if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) continue;
    const base = {
      instancePath: e.instancePath,
      data: pointer(value, e.instancePath),
      schema: pointer(schema, e.schemaPath.replace(/^#/, '')) as ValidationIssue['schema'],
    };
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') {
      for (const missingProperty of (params.requiredProperties as string[]) ?? [])
        issues.push({ ...base, keyword: 'required', params: { missingProperty } });
    } else if (e.keyword === 'additionalProperties') {
      for (const additionalProperty of (params.additionalProperties as string[]) ?? [])
        issues.push({ ...base, keyword: 'additionalProperties', params: { additionalProperty } });
    } else {
      issues.push({
        ...base,
        keyword: e.keyword,
        params: { ...params, message: (e as { message?: string }).message },
      });
    }
  }
  return issues;
}

/** The part of `root` a JSON pointer (`/a/0/b`) names, or undefined. */
function pointer(root: unknown, path: string): unknown {
  let at = root;
  for (const raw of path.split('/').slice(1)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return at;
}

/** Where a part is named in messages. */
const ROOT: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  response: 'answer',
};

/** One readable sentence per problem, e.g. `body.name must be string; body.price is required`. */
export function describeIssues(part: string, issues: readonly ValidationIssue[]): string {
  const root = ROOT[part] ?? part;
  const lines = issues.map((e) => {
    const at = `${root}${e.instancePath.replace(/\//g, '.')}`;
    const p = e.params;
    const described = e.schema?.description;
    const got = `, got ${shown(e.data)}`;
    switch (e.keyword) {
      case 'required':
        return `${at}.${String(p.missingProperty)} is required`;
      case 'additionalProperties': {
        const expected = Object.keys(e.schema?.properties ?? {});
        return `${at}.${String(p.additionalProperty).slice(0, 64)} is not a known property${expected.length ? ` (expected ${expected.slice(0, 12).join(', ')})` : ''}`;
      }
      case 'pattern':
        return `${at} must be ${described ?? `of the form ${String(p.pattern).slice(0, 120)}`}${got}`;
      case 'type':
        return `${at} must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${String(p.type)}${got}`;
      case 'minimum':
        return `${at} must be ≥ ${String(p.limit)}${got}`;
      case 'maximum':
        return `${at} must be ≤ ${String(p.limit)}${got}`;
      case 'enum':
        return `${at} must be one of ${((p.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}${got}`;
      default:
        return `${at} ${typeof p.message === 'string' ? p.message : 'is invalid'}`;
    }
  });
  const unique = [...new Set(lines)];
  const more =
    unique.length > MAX_REPORTED_ISSUES ? ` (and ${unique.length - MAX_REPORTED_ISSUES} more)` : '';
  return `${unique.slice(0, MAX_REPORTED_ISSUES).join('; ')}${more}`;
}

/** A short, safe rendering of a rejected value: never long input echoed back. */
function shown(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 32 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
