/**
 * The UI's and the CLI's clients are typed from the node's OpenAPI document (@dibs/api-types, made
 * by scripts/api-types.ts): the type check fails when a route they call changes. Here: the types on
 * disk are those of the current route declarations, and the document lists every route the UI calls.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { dibsOpenApiDocument } from '../../node/src/api/openapi-document.ts';
import { API_TYPES_FILE, generateApiTypes } from '../../../scripts/api-types.ts';

describe('UI client and node API contract', () => {
  it('the generated client types are those of the current route declarations', async () => {
    assert.equal(readFileSync(API_TYPES_FILE, 'utf8'), await generateApiTypes(), 'run npm run api:types');
  });

  it('every route the UI calls is declared, with its method, in the generated OpenAPI', async () => {
    const doc = (await dibsOpenApiDocument()) as { paths: Record<string, Record<string, unknown>> };
    const source = readFileSync(new URL('../src/api.ts', import.meta.url), 'utf8');
    const used = [...source.matchAll(/this\.client\.(GET|POST|DELETE)\('([^']+)'/g)].map((m) => [
      m[1]!.toLowerCase(),
      m[2]!,
    ]);
    assert.ok(used.length >= 17, `the UI calls ${used.length} routes`);
    used.push(['get', '/api/v1/events']);
    for (const [method, path] of used)
      assert.ok(doc.paths[path!]?.[method!], `${method!.toUpperCase()} ${path}`);
  });
});
