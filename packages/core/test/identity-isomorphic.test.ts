import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';

// @dibs/core must load in browsers: everything reachable from the identity entry point may import only
// relative modules and declared dependencies, never node: built-ins (those belong in @dibs/core/node).
const src = new URL('../src/identity/', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
}

function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0 && seen.size < 200) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    const specifiers = importsOf(file);
    seen.set(file, specifiers);
    for (const s of specifiers) if (s.startsWith('.')) queue.push(resolve(dirname(file), s));
  }
  return seen;
}

test('the browser entry point of identity imports no node: modules and only declared dependencies', () => {
  const graph = reachable(join(src, 'index.ts'));
  assert.ok(graph.size >= 8, `expected the whole identity module graph, got ${graph.size} files`);
  const declared = Object.keys(pkg.dependencies);
  for (const [file, specifiers] of graph) {
    for (const s of specifiers) {
      if (s.startsWith('.')) continue;
      assert.ok(!s.startsWith('node:'), `${file} imports ${s}; move it to the Node-only entry point`);
      const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!;
      assert.ok(declared.includes(name), `${file} imports ${s}, which @dibs/core does not declare`);
    }
  }
  assert.ok(!graph.has(join(src, 'keystore-file.ts')));
});

test('the Node entry point carries the keystore file functions', () => {
  const graph = reachable(join(src, 'node.ts'));
  assert.ok(graph.has(join(src, 'keystore-file.ts')));
  assert.ok(graph.get(join(src, 'keystore-file.ts'))!.some((s) => s.startsWith('node:')));
});
