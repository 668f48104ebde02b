/**
 * Writes the operations events of a running node into its audit trail (the store's audit table):
 * grants issued and revoked, refusals with their reason, and each session from start to end.
 */
import { addressFromPeerId } from '@dibs/core';
import type { AuditLog, Store } from '@dibs/store';
import { AUDIT_PRUNE_INTERVAL_MS } from './constants.ts';
import type { Logger } from './log.ts';
import type { OperationsEvent } from './operations.ts';

function addressOf(peerId: string): string | null {
  try {
    return addressFromPeerId(peerId);
  } catch {
    return null;
  }
}

/** Grants the chain mirror already holds (seen before this run's events were followed). */
function mirroredGrants(store: Store): OperationsEvent[] {
  let rows: Array<{
    grant_id: string;
    service_id: string;
    grantee: string;
    issued_at: string;
    revoked: number;
  }>;
  try {
    rows = store.db
      .prepare('SELECT grant_id, service_id, grantee, issued_at, revoked FROM mirror_grants')
      .all() as typeof rows;
  } catch {
    return []; // no mirror yet (a node without the p2p network)
  }
  return rows.flatMap((r) => {
    const base = {
      kind: 'grant' as const,
      grantId: r.grant_id,
      serviceId: r.service_id,
      serviceName: null,
      grantee: r.grantee,
    };
    const issued = { ...base, action: 'issued' as const, at: Number(r.issued_at) * 1000 };
    return r.revoked === 1 ? [issued, { ...base, action: 'revoked' as const, at: Date.now() }] : [issued];
  });
}

/** The `record` sink of the operations wiring, and the pruning timer; `stop()` ends the timer. */
export function auditTrail(
  audit: AuditLog,
  store: Store,
  log: Logger,
  options: { pruneIntervalMs?: number } = {},
): { record(event: OperationsEvent): void; backfill(): void; stop(): void } {
  const prune = () => {
    try {
      const pruned = audit.prune();
      if (pruned > 0)
        log.info('audit records past their retention pruned', {
          records: pruned,
          retentionDays: audit.retentionMs / 86_400_000,
        });
    } catch (err) {
      log.warn('could not prune the audit trail', { error: err as Error });
    }
  };
  prune();
  const timer = setInterval(prune, options.pruneIntervalMs ?? AUDIT_PRUNE_INTERVAL_MS);
  timer.unref();
  const trail = {
    /** Records the grants the mirror holds that the trail lacks (at start, after the mirror caught up). */
    backfill() {
      for (const event of mirroredGrants(store)) trail.record(event);
    },
    record(event: OperationsEvent) {
      switch (event.kind) {
        case 'grant': {
          const kind = event.action === 'issued' ? 'grant-issued' : 'grant-revoked';
          // The mirror replays cached grants at start: one record per grant and kind.
          if (audit.query({ kind, grantId: event.grantId, limit: 1 }).length > 0) return;
          audit.add({
            kind,
            at: event.at,
            who: event.grantee,
            serviceId: event.serviceId,
            serviceName: event.serviceName,
            grantId: event.grantId,
            outcome: event.action,
          });
          return;
        }
        case 'session-start': {
          const s = event.session;
          audit.add({
            kind: 'session',
            at: s.openedAt,
            who: addressOf(s.peerId),
            peerId: s.peerId,
            serviceId: s.serviceId.toString(),
            serviceName: s.serviceName,
            sessionId: s.id,
            direction: s.direction,
            path: s.path,
            outcome: 'open',
          });
          return;
        }
        case 'session-end':
          audit.endSession(event.session.id, {
            endedAt: event.endedAt,
            bytesIn: event.session.bytesIn,
            bytesOut: event.session.bytesOut,
          });
          return;
        case 'refusal':
          audit.add({
            kind: 'refusal',
            at: Date.now(),
            who: addressOf(event.peer),
            peerId: event.peer,
            direction: event.by === 'us' ? 'inbound' : 'outbound',
            ...(event.serviceId !== undefined ? { serviceId: event.serviceId } : {}),
            outcome: 'refused',
            reason: `${event.code}: ${event.reason}`.slice(0, 500),
          });
          return;
      }
    },
    stop: () => clearInterval(timer),
  };
  return trail;
}
