/** Logs: recent lines from the node, followed live, filterable by level and text. */
import { useEffect, useState } from 'preact/hooks';
import type { LogEntry, LogLevel } from '../api.ts';
import { Badge, Empty, LoadError, Loading, Page } from '../components.tsx';
import { useApp, useResource } from '../store.ts';

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const TONE = { debug: 'grey', info: 'blue', warn: 'amber', error: 'red' } as const;
/** Lines kept on screen; older ones are dropped as new ones arrive. */
const MAX_LINES = 1000;

export function LogsPage() {
  const { client, bus } = useApp();
  const [level, setLevel] = useState<LogLevel>('info');
  const [filter, setFilter] = useState('');
  const loaded = useResource(null, () => client.logs(500));
  const [live, setLive] = useState<LogEntry[]>([]);
  useEffect(() => bus.on('log', (e) => setLive((l) => [...l, e].slice(-MAX_LINES))), [bus]);
  const seen = new Set<number>();
  const all = [...(loaded.data ?? []), ...live].filter((e) => {
    if (seen.has(e.seq)) return false;
    seen.add(e.seq);
    return true;
  });
  const min = LEVELS.indexOf(level);
  const needle = filter.trim().toLowerCase();
  const shown = all
    .filter((e) => LEVELS.indexOf(e.level) >= min)
    .filter(
      (e) =>
        !needle ||
        `${e.component ?? ''} ${e.message} ${Object.values(e.fields).join(' ')}`
          .toLowerCase()
          .includes(needle),
    )
    .slice(-MAX_LINES)
    .reverse();
  return (
    <Page
      title="Logs"
      subtitle="What the node is doing, newest first"
      actions={
        <div class="filters">
          <input
            class="input"
            placeholder="Filter…"
            aria-label="Filter logs"
            value={filter}
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          />
          <select
            class="input"
            aria-label="Minimum level"
            value={level}
            onChange={(e) => setLevel((e.target as HTMLSelectElement).value as LogLevel)}
          >
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l} and above
              </option>
            ))}
          </select>
        </div>
      }
    >
      {loaded.error && <LoadError error={loaded.error} what="logs" retry={loaded.reload} />}
      {!loaded.data && !loaded.error && <Loading />}
      {loaded.data && shown.length === 0 && (
        <Empty icon="logs" title={all.length === 0 ? 'No log lines yet' : 'No lines match'}>
          {all.length === 0 ? 'Lines appear here as the node works.' : 'Lower the level or clear the filter.'}
        </Empty>
      )}
      {shown.length > 0 && (
        <div class="card table-card logs">
          <table class="table table-dense">
            <tbody>
              {shown.map((e) => (
                <tr key={e.seq} class={`log-${e.level}`}>
                  <td class="mono muted nowrap">{e.time.slice(11, 19)}</td>
                  <td>
                    <Badge tone={TONE[e.level]}>{e.level}</Badge>
                  </td>
                  <td class="mono muted nowrap">{e.component ?? ''}</td>
                  <td>
                    {e.message}
                    {Object.entries(e.fields).map(([k, v]) => (
                      <span key={k} class="kv">
                        {k}=<span class="mono">{v}</span>
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
