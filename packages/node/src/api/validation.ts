/**
 * JSON Schema validation of requests and answers (Ajv over the TypeBox schemas): path and query
 * parameters are coerced from their strings, bodies are taken as sent, answers lose undeclared keys.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { MAX_REPORTED_ISSUES } from './constants.ts';

const common = {
  allErrors: true,
  verbose: true,
  strict: false,
  useDefaults: false,
  validateFormats: false,
} as const;

/** Params and query: their values arrive as strings ("42" for an integer). */
const coercing = new Ajv({ ...common, coerceTypes: true });
/** Bodies: JSON as sent; an undeclared key is an error, not silently dropped. */
const exact = new Ajv({ ...common, coerceTypes: false });
/** Answers: undeclared keys are dropped so internal fields never leak. */
const answers = new Ajv({ ...common, coerceTypes: false, removeAdditional: true });

/** Which part of a request (or the answer) a schema checks. */
export type HttpPart = 'body' | 'querystring' | 'params' | 'headers' | 'response';

/** A compiled validator for `schema` applied to `part`. */
export function compileValidator(schema: object, part: HttpPart): ValidateFunction {
  const ajv = part === 'body' ? exact : part === 'response' ? answers : coercing;
  return ajv.compile(schema);
}

/** Where a part is named in messages. */
const ROOT: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  response: 'answer',
};

/** One readable sentence per problem, e.g. `body.name must be string; body.price is required`. */
export function describeIssues(part: string, errors: readonly Partial<ErrorObject>[]): string {
  const root = ROOT[part] ?? part;
  const lines = errors.map((e) => {
    const at = `${root}${(e.instancePath ?? '').replace(/\//g, '.')}`;
    const p = (e.params ?? {}) as Record<string, unknown>;
    const described = (e.parentSchema as { description?: string } | undefined)?.description;
    const got = `, got ${shown(e.data)}`;
    switch (e.keyword) {
      case 'required':
        return `${at}.${String(p.missingProperty)} is required`;
      case 'additionalProperties': {
        const expected = Object.keys(
          (e.parentSchema as { properties?: object } | undefined)?.properties ?? {},
        );
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
        return `${at} ${e.message ?? 'is invalid'}`;
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
