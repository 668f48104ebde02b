export {
  AUDIT_KINDS,
  type AuditKind,
  AuditLog,
  type AuditQuery,
  type AuditRecord,
  auditJsonLines,
  DEFAULT_AUDIT_RETENTION_DAYS,
  MAX_AUDIT_QUERY_ROWS,
  type NewAuditRecord,
} from './audit.ts';
export { openStore, Store, StoreError } from './store.ts';
export type { StoreOptions } from './store.ts';
