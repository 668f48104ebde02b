/**
 * The audit trail and flow log in the node's database: grants issued and revoked (from chain events),
 * refusals with their reason, and every session — who, which service, start, end, bytes each way,
 * path, outcome. Rows older than the retention period are pruned.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { Store } from './store.ts';

/** Kinds of audit record. */
export const AUDIT_KINDS = ['grant-issued', 'grant-revoked', 'session', 'refusal'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** Days of audit records kept by default. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;
/** Most records one query returns. */
export const MAX_AUDIT_QUERY_ROWS = 10_000;

/** One audit record; times are Unix milliseconds. */
export interface AuditRecord {
  id: number;
  kind: AuditKind;
  /** When it happened (a session: when it started). */
  at: number;
  /** The wallet address of the other party (grantee, peer), when known. */
  who: string | null;
  peerId: string | null;
  serviceId: string | null;
  serviceName: string | null;
  grantId: string | null;
  sessionId: string | null;
  direction: 'inbound' | 'outbound' | null;
  path: 'direct' | 'relayed' | null;
  endedAt: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
  /** open, closed, refused, issued, revoked. */
  outcome: string;
  reason: string | null;
}

/** A record to add: what is not given is null. */
export type NewAuditRecord = Partial<Omit<AuditRecord, 'id' | 'kind' | 'at' | 'outcome'>> &
  Pick<AuditRecord, 'kind' | 'at' | 'outcome'>;

/** What {@link AuditLog.query} filters on. */
export interface AuditQuery {
  /** Records at or after this Unix ms. */
  since?: number;
  until?: number;
  /** A service id or name. */
  service?: string;
  kind?: AuditKind;
  grantId?: string;
  limit?: number;
}

const COLUMNS = [
  ['kind', 'kind'],
  ['at', 'at'],
  ['who', 'who'],
  ['peer_id', 'peerId'],
  ['service_id', 'serviceId'],
  ['service_name', 'serviceName'],
  ['grant_id', 'grantId'],
  ['session_id', 'sessionId'],
  ['direction', 'direction'],
  ['path', 'path'],
  ['ended_at', 'endedAt'],
  ['bytes_in', 'bytesIn'],
  ['bytes_out', 'bytesOut'],
  ['outcome', 'outcome'],
  ['reason', 'reason'],
] as const;

/** The audit table of a node's store. */
export class AuditLog {
  readonly #store: Store;
  readonly retentionMs: number;

  constructor(store: Store, options: { retentionDays?: number } = {}) {
    const days = options.retentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
    if (!Number.isFinite(days) || days <= 0)
      throw new RangeError('audit retention must be a positive number of days');
    this.#store = store;
    this.retentionMs = days * 86_400_000;
    store.migrate('audit', [
      (db) => {
        db.exec(`CREATE TABLE audit (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          kind TEXT NOT NULL, at INTEGER NOT NULL, who TEXT, peer_id TEXT, service_id TEXT,
          service_name TEXT, grant_id TEXT, session_id TEXT, direction TEXT, path TEXT,
          ended_at INTEGER, bytes_in INTEGER, bytes_out INTEGER, outcome TEXT NOT NULL, reason TEXT)`);
        db.exec('CREATE INDEX audit_at ON audit (at)');
        db.exec('CREATE INDEX audit_session ON audit (session_id)');
      },
    ]);
  }

  /** Adds a record; returns its id. */
  add(record: NewAuditRecord): number {
    const names = COLUMNS.map(([c]) => c).join(', ');
    const marks = COLUMNS.map(() => '?').join(', ');
    const values = COLUMNS.map(([, k]) => (record as Record<string, unknown>)[k] ?? null) as SQLInputValue[];
    const r = this.#store.db.prepare(`INSERT INTO audit (${names}) VALUES (${marks})`).run(...values);
    return Number(r.lastInsertRowid);
  }

  /** Closes the open record of a session: its end, bytes and outcome. */
  endSession(
    sessionId: string,
    end: { endedAt: number; bytesIn: number; bytesOut: number; outcome?: string },
  ): boolean {
    const r = this.#store.db
      .prepare(
        `UPDATE audit SET ended_at = ?, bytes_in = ?, bytes_out = ?, outcome = ?
         WHERE id = (SELECT id FROM audit WHERE kind = 'session' AND session_id = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1)`,
      )
      .run(end.endedAt, end.bytesIn, end.bytesOut, end.outcome ?? 'closed', sessionId);
    return Number(r.changes) > 0;
  }

  /** Records matching `q`, oldest first. */
  query(q: AuditQuery = {}): AuditRecord[] {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (q.since !== undefined) {
      where.push('at >= ?');
      args.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('at <= ?');
      args.push(q.until);
    }
    if (q.service !== undefined) {
      where.push('(service_id = ? OR service_name = ?)');
      args.push(q.service, q.service);
    }
    if (q.kind !== undefined) {
      where.push('kind = ?');
      args.push(q.kind);
    }
    if (q.grantId !== undefined) {
      where.push('grant_id = ?');
      args.push(q.grantId);
    }
    const limit = Math.min(Math.max(1, Math.trunc(q.limit ?? 1000)), MAX_AUDIT_QUERY_ROWS);
    const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at DESC, id DESC LIMIT ${limit}) ORDER BY at, id`;
    const rows = this.#store.db.prepare(sql).all(...args) as Record<string, unknown>[];
    return rows.map((row) => {
      const out: Record<string, unknown> = { id: Number(row.id) };
      for (const [c, k] of COLUMNS) {
        const v = row[c];
        out[k] = typeof v === 'bigint' ? Number(v) : (v ?? null);
      }
      return out as unknown as AuditRecord;
    });
  }

  /** Deletes records older than the retention period; returns how many. */
  prune(now = Date.now()): number {
    const r = this.#store.db.prepare('DELETE FROM audit WHERE at < ?').run(now - this.retentionMs);
    return Number(r.changes);
  }
}

/** One record per line, as `dibs audit --jsonl` and the UI's export write them. */
export function auditJsonLines(records: readonly AuditRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}
