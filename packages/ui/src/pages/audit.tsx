/**
 * Audit: the node's audit trail and flow log — grants issued and revoked, refusals with their reason,
 * sessions with who, service, start, end, bytes each way and path — filtered by period and service,
 * exported as JSON lines. Services and grants are named where the node knows their names.
 */
import { useMemo, useState } from 'preact/hooks';
import type { AuditRecord } from '../api.ts';
import { Badge, Empty, LoadError, Loading, Page } from '../components.tsx';
import { bytes, clock, shortHex } from '../format.ts';
import { shortId, useNames } from '../names.ts';
import { useApp, useResource } from '../store.ts';

const PERIODS: [string, number][] = [
  ['1 hour', 3_600_000],
  ['24 hours', 86_400_000],
  ['7 days', 7 * 86_400_000],
  ['90 days', 90 * 86_400_000],
];

function kindBadge(r: AuditRecord) {
  switch (r.kind) {
    case 'session':
      return (
        <Badge tone={r.endedAt === null ? 'green' : 'grey'}>
          {r.endedAt === null ? 'session · open' : 'session'}
        </Badge>
      );
    case 'refusal':
      return <Badge tone="red">refused</Badge>;
    case 'grant-revoked':
      return <Badge tone="amber">grant revoked</Badge>;
    default:
      return <Badge tone="blue">grant issued</Badge>;
  }
}

export function AuditPage() {
  const { client } = useApp();
  const [period, setPeriod] = useState(PERIODS[1]![1]);
  const [service, setService] = useState('');
  const since = useMemo(() => Date.now() - period, [period]);
  const audit = useResource('grants', () => client.audit({ since, limit: 1000 }), 5_000);
  const services = useResource('services', client.services, 30_000);
  const names = useMemo(
    () => new Map((services.data ?? []).map((s) => [s.id, s.name] as const)),
    [services.data],
  );
  const people = useNames();
  const nameOf = (r: AuditRecord) => r.serviceName ?? (r.serviceId ? names.get(r.serviceId) : undefined);
  const shown = (audit.data ?? [])
    .filter((r) => !service || r.serviceId === service || nameOf(r) === service)
    .slice()
    .reverse();
  const exportLines = () => {
    const text = shown
      .slice()
      .reverse()
      .map((r) => `${JSON.stringify(r)}\n`)
      .join('');
    const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `dibs-audit-${new Date().toISOString().slice(0, 19)}.jsonl`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <Page title="Audit" subtitle="Who reached what: grants, refusals and every session with its bytes">
      <div class="toolbar">
        <label>
          Period{' '}
          <select
            value={String(period)}
            onChange={(e) => setPeriod(Number((e.target as HTMLSelectElement).value))}
          >
            {PERIODS.map(([label, ms]) => (
              <option key={label} value={String(ms)}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service{' '}
          <select value={service} onChange={(e) => setService((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {[...names].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn" onClick={exportLines} disabled={shown.length === 0}>
          Export JSON lines
        </button>
      </div>
      {audit.error && <LoadError error={audit.error} what="the audit trail" retry={audit.reload} />}
      {!audit.data && !audit.error && <Loading />}
      {audit.data &&
        (shown.length === 0 ? (
          <Empty icon="audit" title="Nothing recorded in this period">
            Grants, refusals and sessions of this node appear here as they happen.
          </Empty>
        ) : (
          <div class="card table-card">
            <table class="table" data-testid="audit-table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>What</th>
                  <th>Who</th>
                  <th>Service</th>
                  <th>Details</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((r) => (
                  <tr key={r.id} data-kind={r.kind}>
                    <td class="mono nowrap">{clock(r.at)}</td>
                    <td>{kindBadge(r)}</td>
                    <td title={r.who ?? r.peerId ?? ''}>
                      {r.who ? (
                        (people.label(r.who) ?? <span class="mono">{shortHex(r.who)}</span>)
                      ) : r.peerId ? (
                        <span class="mono">{shortHex(r.peerId, 8, 4)}</span>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>
                      {nameOf(r) ? <span class="strong">{nameOf(r)}</span> : '—'}
                      {r.serviceId && <div class="sub mono">service {shortId(r.serviceId)}</div>}
                    </td>
                    <td class="sub">
                      {r.kind === 'session' &&
                        `${r.direction ?? ''} · ${r.path ?? ''} · ↓ ${bytes(r.bytesIn ?? 0)} ↑ ${bytes(r.bytesOut ?? 0)}${r.endedAt ? ` · ended ${clock(r.endedAt)}` : ''}`}
                      {r.kind === 'refusal' && r.reason}
                      {r.kind.startsWith('grant') && r.grantId && `grant ${shortId(r.grantId)}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </Page>
  );
}
