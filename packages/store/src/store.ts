import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';

/** A storage failure that names the database file and what to do about it. */
export class StoreError extends Error {
  override name = 'StoreError';
  readonly path: string;
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(`${message} (database ${path})`, options);
    this.path = path;
  }
}

export interface StoreOptions {
  /** Milliseconds to wait for a lock held by another process before failing. */
  busyTimeoutMs?: number;
}

/** One migration per schema version; each runs once, inside a transaction. */
export type Migration = (db: DatabaseSync) => void;

/**
 * The node's embedded database (SQLite, WAL mode). Every module that keeps state across restarts
 * registers its own tables with `migrate(namespace, migrations)`; writes go through `transaction`.
 */
export class Store {
  readonly db: DatabaseSync;
  readonly path: string;

  constructor(path: string, options: StoreOptions = {}) {
    this.path = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new DatabaseSync(path);
      this.db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      this.db.exec('PRAGMA journal_mode = WAL');
      this.db.exec('PRAGMA synchronous = NORMAL');
      this.db.exec('PRAGMA foreign_keys = ON');
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS schema_versions (namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)',
      );
      this.db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    } catch (err) {
      throw new StoreError(
        `cannot open the database: ${(err as Error).message}; check the file is a DIBS database and not in use`,
        path,
        { cause: err },
      );
    }
  }

  /** Applies the migrations of `namespace` that have not run yet, in order. */
  migrate(namespace: string, migrations: readonly Migration[]): void {
    const row = this.db.prepare('SELECT version FROM schema_versions WHERE namespace = ?').get(namespace) as
      | { version: number }
      | undefined;
    const current = row?.version ?? 0;
    if (current > migrations.length) {
      throw new StoreError(
        `schema "${namespace}" is at version ${current}, newer than this DIBS knows (${migrations.length}); upgrade DIBS`,
        this.path,
      );
    }
    for (let v = current; v < migrations.length; v++) {
      this.transaction(() => {
        migrations[v]!(this.db);
        this.db
          .prepare(
            'INSERT INTO schema_versions (namespace, version) VALUES (?, ?) ON CONFLICT(namespace) DO UPDATE SET version = excluded.version',
          )
          .run(namespace, v + 1);
      });
    }
  }

  /** Runs `fn` in one transaction: all of its writes land, or none do. Nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    if (this.db.isTransaction) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Reads a JSON value stored under `key`, or undefined. */
  getJson<T>(key: string): T | undefined {
    const row = this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as T);
  }

  /** Stores a JSON value under `key` (replacing any earlier one). */
  putJson(key: string, value: unknown): void {
    this.db
      .prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, JSON.stringify(value));
  }

  deleteKey(key: string): void {
    this.db.prepare('DELETE FROM kv WHERE key = ?').run(key);
  }

  /** Runs a statement with positional parameters. */
  run(sql: string, ...params: SQLInputValue[]): void {
    this.db.prepare(sql).run(...params);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

export function openStore(path: string, options?: StoreOptions): Store {
  return new Store(path, options);
}
