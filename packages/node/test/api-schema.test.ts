import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeValue, type Infer, s, validate } from '../src/api/index.ts';

const service = s.object({
  name: s.string({ minLength: 1, maxLength: 64 }),
  price: s.integer({ min: 0 }),
  policy: s.enum(['public', 'allowlist']),
  tags: s.optional(s.array(s.string({ maxLength: 16 }), { maxItems: 4 })),
  owner: s.nullable(s.string({ pattern: /^0x[0-9a-fA-F]{40}$/, patternName: 'an Ethereum address' })),
  meta: s.optional(s.record(s.string(), { maxProperties: 8 })),
  limits: s.optional(s.object({ rate: s.number({ min: 0, max: 1 }), on: s.boolean() })),
});

describe('schema validation', () => {
  it('accepts a valid value and returns it typed, without unknown keys', () => {
    const input = { name: 'web', price: 5, policy: 'public', owner: null, tags: ['a'] };
    const r = validate(service, input);
    assert.equal(r.ok, true);
    if (r.ok) {
      const v: Infer<typeof service> = r.value;
      assert.deepEqual(v, input);
      assert.notEqual(v, input);
    }
  });

  it('reports every problem with its path and a readable message', () => {
    const r = validate(
      service,
      { name: '', price: -1, policy: 'secret', owner: '0x12', extra: 1 },
      { root: 'body' },
    );
    assert.equal(r.ok, false);
    if (r.ok) return;
    const byPath = Object.fromEntries(r.issues.map((i) => [i.path, i.message]));
    assert.equal(byPath['body.name'], 'must not be empty');
    assert.equal(byPath['body.price'], 'must be an integer ≥ 0, got -1');
    assert.equal(byPath['body.policy'], 'must be one of "public", "allowlist", got "secret"');
    assert.equal(byPath['body.owner'], 'must be an Ethereum address');
    assert.match(byPath['body.extra']!, /is not a known property/);
  });

  it('reports missing required fields and wrong types', () => {
    const r = validate(service, { name: 7, policy: 'public' }, { root: 'body' });
    assert.equal(r.ok, false);
    if (r.ok) return;
    const byPath = Object.fromEntries(r.issues.map((i) => [i.path, i.message]));
    assert.equal(byPath['body.name'], 'must be a string, got 7');
    assert.equal(byPath['body.price'], 'is required');
    assert.equal(byPath['body.owner'], 'is required');
  });

  it('rejects non-objects, arrays, fractions, unsafe integers and NaN-like strings', () => {
    for (const bad of [null, [], 'x', 1, true]) assert.equal(validate(service, bad).ok, false);
    const base = { name: 'a', policy: 'public', owner: null };
    assert.equal(validate(service, { ...base, price: 1.5 }).ok, false);
    assert.equal(validate(service, { ...base, price: 2 ** 60 }).ok, false);
    assert.equal(validate(service, { ...base, price: '5' }).ok, false, 'no coercion in bodies');
  });

  it('coerces strings only when asked (path and query parameters)', () => {
    const q = s.object({ limit: s.integer({ min: 1, max: 500 }), live: s.optional(s.boolean()) });
    assert.deepEqual(validate(q, { limit: '20', live: 'true' }, { coerce: true }), {
      ok: true,
      value: { limit: 20, live: true },
    });
    assert.equal(validate(q, { limit: '20' }).ok, false);
    assert.equal(validate(q, { limit: '1e400' }, { coerce: true }).ok, false);
    assert.equal(validate(q, { limit: '0x10' }, { coerce: true }).ok, false);
    assert.equal(validate(q, { limit: ' 5' }, { coerce: true }).ok, false);
  });

  it('keeps "__proto__" keys of records as plain data', () => {
    const input = JSON.parse(
      '{"name":"a","price":1,"policy":"public","owner":null,"meta":{"__proto__":"x"}}',
    );
    const r = validate(service, input);
    assert.equal(r.ok, true);
    if (r.ok) {
      assert.equal(Object.getPrototypeOf(r.value.meta), null);
      assert.equal(Object.getOwnPropertyDescriptor(r.value.meta, '__proto__')?.value, 'x');
    }
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('rejects "__proto__" as an unknown object property', () => {
    const input = JSON.parse(
      '{"name":"a","price":1,"policy":"public","owner":null,"__proto__":{"admin":true}}',
    );
    assert.equal(validate(service, input).ok, false);
  });

  it('emits JSON Schema matching what it validates', () => {
    assert.deepEqual(service.toJsonSchema(), {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        price: { type: 'integer', minimum: 0 },
        policy: { enum: ['public', 'allowlist'] },
        tags: { type: 'array', items: { type: 'string', maxLength: 16 }, maxItems: 4 },
        owner: { anyOf: [{ type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' }, { type: 'null' }] },
        meta: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 8 },
        limits: {
          type: 'object',
          properties: { rate: { type: 'number', minimum: 0, maximum: 1 }, on: { type: 'boolean' } },
          required: ['rate', 'on'],
          additionalProperties: false,
        },
      },
      required: ['name', 'price', 'policy', 'owner'],
      additionalProperties: false,
    });
  });

  it('never echoes long input in messages', () => {
    assert.equal(describeValue('x'.repeat(10_000)), 'a string of 10000 characters');
    const r = validate(s.integer(), 'secret-secret-secret-secret-secret-secret');
    assert.equal(r.ok, false);
    if (!r.ok) assert.doesNotMatch(r.issues[0]!.message, /secret/);
  });
});

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  'name',
  'price',
  'policy',
  'tags',
  'owner',
  'meta',
  'limits',
  'rate',
  'on',
  '__proto__',
  'constructor',
  '',
];
const STRINGS = [
  '',
  'public',
  'allowlist',
  '0x'.padEnd(42, 'a'),
  'é',
  '\u0000',
  'x'.repeat(70),
  '-1',
  'true',
];

function randomJson(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 4 ? 6 : 8));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [0, -1, 1.5, 2 ** 53, -(2 ** 60), 1e308, Math.floor(r() * 1000)][Math.floor(r() * 7)];
    case 3:
      return STRINGS[Math.floor(r() * STRINGS.length)];
    case 4:
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 0xffff)),
      );
    case 5:
      return Math.floor(r() * 100);
    case 6:
      return Array.from({ length: Math.floor(r() * 6) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(r() * 8);
      for (let i = 0; i < n; i++) {
        const key = KEYS[Math.floor(r() * KEYS.length)]!;
        Object.defineProperty(o, key, { value: randomJson(r, depth + 1), enumerable: true, writable: true });
      }
      return o;
    }
  }
}

function validService(r: () => number): Infer<typeof service> {
  const v: Infer<typeof service> = {
    name: 'n'.repeat(1 + Math.floor(r() * 63)),
    price: Math.floor(r() * 1e9),
    policy: r() < 0.5 ? 'public' : 'allowlist',
    owner: r() < 0.5 ? null : `0x${'ab'.repeat(20)}`,
  };
  if (r() < 0.5) v.tags = Array.from({ length: Math.floor(r() * 5) }, () => 't');
  if (r() < 0.5) v.limits = { rate: r(), on: r() < 0.5 };
  if (r() < 0.5) v.meta = { a: 'b' };
  return v;
}

describe('schema validation, property and fuzz tests', () => {
  it('random JSON never throws; accepted values validate again to themselves', () => {
    const seed = 0x5eed;
    const r = rng(seed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = r() < 0.3 ? { ...validService(r), ...(randomJson(r, 3) as object) } : randomJson(r, 0);
      let result: ReturnType<typeof validate>;
      try {
        result = validate(service, input, { coerce: r() < 0.2 });
      } catch (err) {
        assert.fail(
          `validator threw on case ${i} (seed ${seed}): ${String(err)} for ${JSON.stringify(input)}`,
        );
      }
      if (result.ok) {
        accepted++;
        assert.deepEqual(validate(service, result.value), { ok: true, value: result.value });
      } else {
        assert.ok(result.issues.length > 0);
        for (const issue of result.issues) assert.equal(typeof issue.message, 'string');
      }
    }
    assert.ok(accepted > 0, 'the generator must reach the accepting branch');
  });

  it('every value generated from the schema is accepted; each single corruption is rejected', () => {
    const r = rng(42);
    const corruptions: [string, unknown][] = [
      ['name', ''],
      ['name', 5],
      ['price', -1],
      ['price', 0.5],
      ['policy', 'other'],
      ['owner', 'nope'],
      ['tags', ['x'.repeat(17)]],
      ['limits', { rate: 2, on: true }],
      ['unknown', 1],
    ];
    for (let i = 0; i < 2_000; i++) {
      const v = validService(r);
      assert.equal(validate(service, v).ok, true, JSON.stringify(v));
      const [key, bad] = corruptions[i % corruptions.length]!;
      assert.equal(validate(service, { ...v, [key]: bad }).ok, false, `${key}=${JSON.stringify(bad)}`);
    }
  });
});
