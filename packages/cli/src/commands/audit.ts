/**
 * `dibs audit`: the node's audit trail and flow log — grants issued and revoked, refusals with their
 * reason, sessions with who, service, start, end, bytes each way and path. Read from the node's
 * database (the node may be running or not); `--jsonl` exports one JSON object per line.
 */
import { existsSync } from 'node:fs';
import {
  AUDIT_KINDS,
  type AuditKind,
  type AuditRecord,
  auditJsonLines,
  openStore,
  AuditLog,
} from '@dibs/store';
import { Command } from 'commander';
import { commandContext } from '../context.ts';
import { CliError } from '../errors.ts';

/** Parses `--since`: a duration back from now (30s, 15m, 2h, 7d) or an ISO date; returns Unix ms. */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (m)
    return (
      now - Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']
    );
  const t = Date.parse(text);
  if (/^\d{4}-\d\d-\d\d/.test(text) && Number.isFinite(t)) return t;
  throw new CliError(
    'BAD_SINCE',
    `--since "${text.slice(0, 40)}" is neither a duration nor a date`,
    'give a duration back from now (30m, 2h, 7d) or an ISO date (2026-12-05T10:00:00Z)',
  );
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function line(r: AuditRecord): string {
  const who = r.who ?? r.peerId ?? '-';
  const service = r.serviceName ? `${r.serviceName} (${r.serviceId})` : (r.serviceId ?? '-');
  switch (r.kind) {
    case 'session':
      return `${when(r.at)}  session  ${r.direction ?? ''} ${service} ${who} ${r.path ?? ''} until ${when(r.endedAt)} in ${r.bytesIn ?? 0} B out ${r.bytesOut ?? 0} B ${r.outcome}`;
    case 'refusal':
      return `${when(r.at)}  refused  ${who} ${r.reason ?? ''}`;
    default:
      return `${when(r.at)}  ${r.kind}  grant ${r.grantId} on ${service} to ${who}`;
  }
}

export function auditCommand(): Command {
  return new Command('audit')
    .description('the audit trail: grants issued and revoked, refusals, and sessions with bytes each way')
    .option('--since <when>', 'records since a duration back (30m, 2h, 7d) or an ISO date (default 24h)')
    .option('--service <service>', 'only records of this service (id or name)')
    .option('--kind <kind>', `only records of this kind (${AUDIT_KINDS.join(', ')})`)
    .option('--limit <n>', 'newest records at most (default 1000)')
    .option('--jsonl', 'export: one JSON object per line')
    .action(
      (
        opts: { since?: string; service?: string; kind?: string; limit?: string; jsonl?: boolean },
        cmd: Command,
      ) => {
        const ctx = commandContext(cmd);
        if (opts.kind !== undefined && !(AUDIT_KINDS as readonly string[]).includes(opts.kind)) {
          throw new CliError(
            'BAD_KIND',
            `unknown record kind "${opts.kind.slice(0, 32)}"`,
            `use one of ${AUDIT_KINDS.join(', ')}`,
          );
        }
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw new CliError(
            'BAD_LIMIT',
            `--limit "${opts.limit}" is not a positive integer`,
            'give e.g. --limit 100',
          );
        }
        if (!existsSync(ctx.paths.database)) {
          throw new CliError(
            'NO_DATABASE',
            `no node database in ${ctx.paths.root}`,
            'start the node once with `dibs up`',
          );
        }
        const store = openStore(ctx.paths.database);
        try {
          const records = new AuditLog(store).query({
            since: parseSince(opts.since ?? '24h'),
            ...(opts.service ? { service: opts.service } : {}),
            ...(opts.kind ? { kind: opts.kind as AuditKind } : {}),
            ...(limit ? { limit } : {}),
          });
          if (opts.jsonl) {
            process.stdout.write(auditJsonLines(records));
            return;
          }
          ctx.out.result({ records }, () =>
            records.length === 0 ? 'no audit records in that period' : records.map(line).join('\n'),
          );
        } finally {
          store.close();
        }
      },
    );
}
