/**
 * A small typed schema builder: one declaration both validates untrusted input and emits the JSON
 * Schema (2020-12, as OpenAPI 3.1 uses) that documents it, so docs and checks cannot drift apart.
 */

/** A JSON Schema fragment as emitted into the OpenAPI document. */
export type JsonSchema = { [key: string]: unknown };

/** One problem found while validating, with the JSON path where it was found. */
export interface Issue {
  path: string;
  message: string;
}

/** Options shared by every schema: documentation only. */
export interface BaseOptions {
  description?: string;
  example?: unknown;
}

/** Validation context: `coerce` lets path and query strings stand for numbers and booleans. */
export interface CheckContext {
  coerce: boolean;
  issues: Issue[];
}

/** Returned by `check` when the value is invalid (issues were recorded in the context). */
export const INVALID: unique symbol = Symbol('invalid');

/** A schema for values of type `T`. */
export interface Schema<T> {
  /** Phantom member carrying the type; never set at run time. */
  readonly __type?: T;
  readonly kind: string;
  /** True only for `s.optional(...)`: an object may omit the property. */
  readonly optional: boolean;
  check(value: unknown, ctx: CheckContext, path: string): T | typeof INVALID;
  toJsonSchema(): JsonSchema;
}

/** The TypeScript type a schema validates to. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A map of property names to schemas, as given to `s.object`. */
export type Shape = { [key: string]: Schema<unknown> };

type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Flatten<T> = { [K in keyof T]: T[K] } & {};

/** The object type described by a shape; `s.optional` properties become optional keys. */
export type ObjectOf<S extends Shape> = Flatten<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

/** An object schema keeps its shape so routes can list path and query parameters one by one. */
export interface ObjectSchema<S extends Shape> extends Schema<ObjectOf<S>> {
  readonly kind: 'object';
  readonly shape: S;
}

/** Result of {@link validate}. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/** Validates `value` against `schema`; never throws, whatever the input. */
export function validate<T>(
  schema: Schema<T>,
  value: unknown,
  options: { coerce?: boolean; root?: string } = {},
): ValidationResult<T> {
  const ctx: CheckContext = { coerce: options.coerce ?? false, issues: [] };
  const out = schema.check(value, ctx, options.root ?? '');
  if (out === INVALID || ctx.issues.length > 0) {
    if (ctx.issues.length === 0) ctx.issues.push({ path: options.root ?? '', message: 'is invalid' });
    return { ok: false, issues: ctx.issues };
  }
  return { ok: true, value: out };
}

/** Describes a value for messages without echoing large or secret-looking input. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length <= 32 ? JSON.stringify(value) : `a string of ${value.length} characters`;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'a non-finite number';
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'nothing';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

function fail(ctx: CheckContext, path: string, message: string): typeof INVALID {
  ctx.issues.push({ path, message });
  return INVALID;
}

function doc(options: BaseOptions | undefined): JsonSchema {
  const out: JsonSchema = {};
  if (options?.description) out.description = options.description;
  if (options?.example !== undefined) out.example = options.example;
  return out;
}

/** Options of `s.string`. */
export interface StringOptions extends BaseOptions {
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** Human name of the pattern for error messages, e.g. "an Ethereum address". */
  patternName?: string;
  format?: string;
}

function stringSchema(options: StringOptions = {}): Schema<string> {
  return {
    kind: 'string',
    optional: false,
    check(value, ctx, path) {
      if (typeof value !== 'string') return fail(ctx, path, `must be a string, got ${describeValue(value)}`);
      if (options.minLength !== undefined && value.length < options.minLength) {
        return fail(
          ctx,
          path,
          options.minLength === 1
            ? 'must not be empty'
            : `must be at least ${options.minLength} characters long, got ${value.length}`,
        );
      }
      if (options.maxLength !== undefined && value.length > options.maxLength) {
        return fail(ctx, path, `must be at most ${options.maxLength} characters long, got ${value.length}`);
      }
      if (options.pattern && !options.pattern.test(value)) {
        return fail(
          ctx,
          path,
          `must be ${options.patternName ?? `a string matching ${options.pattern.source}`}`,
        );
      }
      return value;
    },
    toJsonSchema() {
      const out: JsonSchema = { type: 'string', ...doc(options) };
      if (options.minLength !== undefined) out.minLength = options.minLength;
      if (options.maxLength !== undefined) out.maxLength = options.maxLength;
      if (options.pattern) out.pattern = options.pattern.source;
      if (options.format) out.format = options.format;
      return out;
    },
  };
}

/** Options of `s.integer` and `s.number`. */
export interface NumberOptions extends BaseOptions {
  min?: number;
  max?: number;
}

const NUMERIC = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function numberSchema(integer: boolean, options: NumberOptions = {}): Schema<number> {
  const what = integer ? 'an integer' : 'a number';
  return {
    kind: integer ? 'integer' : 'number',
    optional: false,
    check(value, ctx, path) {
      let v = value;
      if (ctx.coerce && typeof v === 'string' && v.length <= 32 && NUMERIC.test(v)) v = Number(v);
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return fail(ctx, path, `must be ${what}, got ${describeValue(value)}`);
      }
      if (integer && !Number.isSafeInteger(v)) {
        return fail(ctx, path, `must be ${what}, got ${describeValue(value)}`);
      }
      if (options.min !== undefined && v < options.min) {
        return fail(ctx, path, `must be ${what} ≥ ${options.min}, got ${v}`);
      }
      if (options.max !== undefined && v > options.max) {
        return fail(ctx, path, `must be ${what} ≤ ${options.max}, got ${v}`);
      }
      return v;
    },
    toJsonSchema() {
      const out: JsonSchema = { type: integer ? 'integer' : 'number', ...doc(options) };
      if (options.min !== undefined) out.minimum = options.min;
      if (options.max !== undefined) out.maximum = options.max;
      return out;
    },
  };
}

function booleanSchema(options: BaseOptions = {}): Schema<boolean> {
  return {
    kind: 'boolean',
    optional: false,
    check(value, ctx, path) {
      if (typeof value === 'boolean') return value;
      if (ctx.coerce && (value === 'true' || value === 'false')) return value === 'true';
      return fail(ctx, path, `must be true or false, got ${describeValue(value)}`);
    },
    toJsonSchema: () => ({ type: 'boolean', ...doc(options) }),
  };
}

function enumSchema<const V extends readonly (string | number)[]>(
  values: V,
  options: BaseOptions = {},
): Schema<V[number]> {
  const list = values.map((v) => JSON.stringify(v)).join(', ');
  return {
    kind: 'enum',
    optional: false,
    check(value, ctx, path) {
      if ((values as readonly unknown[]).includes(value)) return value as V[number];
      if (ctx.coerce && typeof value === 'string') {
        const n = Number(value);
        if ((values as readonly unknown[]).includes(n)) return n as V[number];
      }
      return fail(ctx, path, `must be one of ${list}, got ${describeValue(value)}`);
    },
    toJsonSchema: () => ({ enum: [...values], ...doc(options) }),
  };
}

/** Options of `s.array`. */
export interface ArrayOptions extends BaseOptions {
  minItems?: number;
  maxItems?: number;
}

function arraySchema<T>(item: Schema<T>, options: ArrayOptions = {}): Schema<T[]> {
  return {
    kind: 'array',
    optional: false,
    check(value, ctx, path) {
      if (!Array.isArray(value)) return fail(ctx, path, `must be an array, got ${describeValue(value)}`);
      if (options.minItems !== undefined && value.length < options.minItems) {
        return fail(ctx, path, `must have at least ${options.minItems} items, got ${value.length}`);
      }
      if (options.maxItems !== undefined && value.length > options.maxItems) {
        return fail(ctx, path, `must have at most ${options.maxItems} items, got ${value.length}`);
      }
      const out: T[] = [];
      let bad = false;
      for (let i = 0; i < value.length; i++) {
        const v = item.check(value[i], ctx, at(path, i));
        if (v === INVALID) bad = true;
        else out.push(v);
      }
      return bad ? INVALID : out;
    },
    toJsonSchema() {
      const out: JsonSchema = { type: 'array', items: item.toJsonSchema(), ...doc(options) };
      if (options.minItems !== undefined) out.minItems = options.minItems;
      if (options.maxItems !== undefined) out.maxItems = options.maxItems;
      return out;
    },
  };
}

/** Options of `s.object`. */
export interface ObjectOptions extends BaseOptions {
  /** Keep unknown properties instead of rejecting them (default false: typos are errors). */
  allowUnknown?: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectSchema<S extends Shape>(shape: S, options: ObjectOptions = {}): ObjectSchema<S> {
  const keys = Object.keys(shape);
  return {
    kind: 'object',
    optional: false,
    shape,
    check(value, ctx, path) {
      if (!isPlainObject(value)) return fail(ctx, path, `must be an object, got ${describeValue(value)}`);
      const out: Record<string, unknown> = {};
      let bad = false;
      for (const key of keys) {
        const sub = shape[key]!;
        const has = Object.hasOwn(value, key) && value[key] !== undefined;
        if (!has) {
          if (!sub.optional) {
            fail(ctx, at(path, key), 'is required');
            bad = true;
          }
          continue;
        }
        const v = sub.check(value[key], ctx, at(path, key));
        if (v === INVALID) bad = true;
        else out[key] = v;
      }
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(shape, key)) continue;
        if (options.allowUnknown) {
          out[key] = value[key];
        } else {
          fail(ctx, at(path, key), `is not a known property (expected ${keys.join(', ') || 'none'})`);
          bad = true;
        }
      }
      return bad ? INVALID : (out as ObjectOf<S>);
    },
    toJsonSchema() {
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const key of keys) {
        properties[key] = shape[key]!.toJsonSchema();
        if (!shape[key]!.optional) required.push(key);
      }
      const out: JsonSchema = { type: 'object', properties, ...doc(options) };
      if (required.length > 0) out.required = required;
      if (!options.allowUnknown) out.additionalProperties = false;
      return out;
    },
  };
}

/** Options of `s.record`. */
export interface RecordOptions extends BaseOptions {
  maxProperties?: number;
}

function recordSchema<T>(value: Schema<T>, options: RecordOptions = {}): Schema<Record<string, T>> {
  return {
    kind: 'record',
    optional: false,
    check(input, ctx, path) {
      if (!isPlainObject(input)) return fail(ctx, path, `must be an object, got ${describeValue(input)}`);
      const entries = Object.keys(input);
      if (options.maxProperties !== undefined && entries.length > options.maxProperties) {
        return fail(
          ctx,
          path,
          `must have at most ${options.maxProperties} properties, got ${entries.length}`,
        );
      }
      // A null-prototype target keeps keys such as "__proto__" as plain data.
      const out: Record<string, T> = Object.create(null);
      let bad = false;
      for (const key of entries) {
        const v = value.check(input[key], ctx, at(path, key));
        if (v === INVALID) bad = true;
        else out[key] = v;
      }
      return bad ? INVALID : out;
    },
    toJsonSchema() {
      const out: JsonSchema = { type: 'object', additionalProperties: value.toJsonSchema(), ...doc(options) };
      if (options.maxProperties !== undefined) out.maxProperties = options.maxProperties;
      return out;
    },
  };
}

function optionalSchema<T>(inner: Schema<T>): Schema<T | undefined> & { readonly optional: true } {
  return {
    kind: inner.kind,
    optional: true,
    check: (value, ctx, path) => (value === undefined ? undefined : inner.check(value, ctx, path)),
    toJsonSchema: () => inner.toJsonSchema(),
  };
}

function nullableSchema<T>(inner: Schema<T>): Schema<T | null> {
  return {
    kind: inner.kind,
    optional: false,
    check: (value, ctx, path) => (value === null ? null : inner.check(value, ctx, path)),
    toJsonSchema() {
      const json = inner.toJsonSchema();
      const { description, example, ...rest } = json;
      const out: JsonSchema = { anyOf: [rest, { type: 'null' }] };
      if (description !== undefined) out.description = description;
      if (example !== undefined) out.example = example;
      return out;
    },
  };
}

/** The schema builder. */
export const s = {
  /** A string, optionally bounded in length and matched against a pattern. */
  string: stringSchema,
  /** A safe integer, optionally bounded. */
  integer: (options?: NumberOptions) => numberSchema(true, options),
  /** A finite number, optionally bounded. */
  number: (options?: NumberOptions) => numberSchema(false, options),
  /** true or false. */
  boolean: booleanSchema,
  /** One of a fixed list of strings or numbers. */
  enum: enumSchema,
  /** An array of `item`, optionally bounded in length. */
  array: arraySchema,
  /** An object with exactly the given properties (unknown ones are rejected unless allowed). */
  object: objectSchema,
  /** An object used as a map from strings to `value`. */
  record: recordSchema,
  /** Lets an object property be omitted. */
  optional: optionalSchema,
  /** Also accepts null. */
  nullable: nullableSchema,
};
