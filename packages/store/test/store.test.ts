import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore, StoreError } from '../src/index.ts';

test('values and migrations survive reopening', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dibs-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'db', 'dibs.db');
  let applied = 0;
  const migrations = [
    (db: import('node:sqlite').DatabaseSync) => {
      applied++;
      db.exec('CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)');
    },
  ];
  const a = openStore(path);
  a.migrate('things', migrations);
  a.putJson('k', { n: 1 });
  a.run('INSERT INTO things (name) VALUES (?)', 'x');
  a.close();
  const b = openStore(path);
  b.migrate('things', migrations);
  assert.equal(applied, 1);
  assert.deepEqual(b.getJson('k'), { n: 1 });
  assert.equal((b.db.prepare('SELECT COUNT(*) AS n FROM things').get() as { n: number }).n, 1);
  b.close();
});

test('a failed transaction writes nothing', (t) => {
  const s = openStore(':memory:');
  t.after(() => s.close());
  assert.throws(() =>
    s.transaction(() => {
      s.putJson('a', 1);
      throw new Error('boom');
    }),
  );
  assert.equal(s.getJson('a'), undefined);
});

test('a file that is not a database gives an error naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dibs-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'dibs.db');
  writeFileSync(path, 'this is not sqlite, just some text that is long enough to be a header........');
  assert.throws(
    () => openStore(path),
    (err: unknown) => err instanceof StoreError && err.message.includes(path),
  );
});
