/** Sessions: open tunnels and proxies with live traffic charts fed by the event stream. */
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../api.ts';
import { ActionButton, Badge, Empty, LoadError, Loading, Page } from '../components.tsx';
import { bytes, clock, duration, rate } from '../format.ts';
import { shortId, useNames } from '../names.ts';
import { HISTORY_SAMPLES, type Sample, useApp, useNow, useResource } from '../store.ts';

/** Per-interval rates (bytes/s) from cumulative samples. */
export function rates(samples: Sample[]): { at: number; in: number; out: number }[] {
  const out: { at: number; in: number; out: number }[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = Math.max(1, b.at - a.at) / 1000;
    out.push({
      at: b.at,
      in: Math.max(0, b.bytesIn - a.bytesIn) / dt,
      out: Math.max(0, b.bytesOut - a.bytesOut) / dt,
    });
  }
  return out;
}

const W = 600;
const H = 120;

/** An SVG line chart of in/out rates; no chart library needed for two lines. */
export function TrafficChart(props: { samples: Sample[] }) {
  const points = rates(props.samples);
  if (points.length < 2) {
    return (
      <div class="chart-empty muted" data-testid="chart-waiting">
        Collecting traffic samples…
      </div>
    );
  }
  const max = Math.max(1, ...points.map((p) => Math.max(p.in, p.out)));
  const step = W / (HISTORY_SAMPLES - 2);
  const x0 = W - (points.length - 1) * step;
  const line = (key: 'in' | 'out') =>
    points
      .map((p, i) => `${(x0 + i * step).toFixed(1)},${(H - 4 - (p[key] / max) * (H - 12)).toFixed(1)}`)
      .join(' ');
  const area = (key: 'in' | 'out') => `${x0.toFixed(1)},${H} ${line(key)} ${W},${H}`;
  const last = points[points.length - 1]!;
  return (
    <div class="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label="Traffic over time"
        data-testid="traffic-chart"
      >
        {[0.25, 0.5, 0.75].map((f) => (
          <line key={f} x1="0" x2={W} y1={H * f} y2={H * f} class="gridline" />
        ))}
        <polygon points={area('in')} class="area-in" />
        <polygon points={area('out')} class="area-out" />
        <polyline points={line('in')} class="line-in" />
        <polyline points={line('out')} class="line-out" />
      </svg>
      <div class="chart-legend">
        <span class="legend-in">▼ in {rate(last.in)}</span>
        <span class="legend-out">▲ out {rate(last.out)}</span>
        <span class="muted">peak {rate(max)}</span>
      </div>
    </div>
  );
}

function SessionCard(props: { s: Session; samples: Sample[]; now: number; onClose: () => Promise<void> }) {
  const { s } = props;
  const names = useNames();
  const latest = props.samples[props.samples.length - 1];
  return (
    <div class="card session" data-testid={`session-${s.id}`}>
      <div class="session-head">
        <div>
          <div class="strong">{s.serviceName}</div>
          <div class="sub">
            {s.direction === 'outbound' ? 'to' : 'from'}{' '}
            <span title={s.peerId}>{names.ofPeer(s.peerId)}</span> · opened {clock(s.openedAt)} ·{' '}
            {duration((props.now - s.openedAt) / 1000)}
          </div>
        </div>
        <div class="session-badges">
          <Badge tone={s.direction === 'outbound' ? 'blue' : 'violet'}>{s.direction}</Badge>
          <Badge tone={s.path === 'direct' ? 'green' : 'amber'}>{s.path}</Badge>
          {s.direction === 'outbound' && (
            <ActionButton small label={`Close session ${s.id}`} onClick={props.onClose}>
              Close
            </ActionButton>
          )}
        </div>
      </div>
      <div class="session-totals">
        <div>
          <div class="field-label">Received</div>
          <div class="total" data-testid="bytes-in">
            {bytes(latest?.bytesIn ?? s.bytesIn)}
          </div>
        </div>
        <div>
          <div class="field-label">Sent</div>
          <div class="total" data-testid="bytes-out">
            {bytes(latest?.bytesOut ?? s.bytesOut)}
          </div>
        </div>
      </div>
      <TrafficChart samples={props.samples} />
    </div>
  );
}

/** Local SOCKS5 proxies: start one on a loopback port, see its open tunnels, stop it. */
function ProxiesCard() {
  const { client, notify } = useApp();
  const proxies = useResource('proxies', client.proxies, 5_000);
  const [listen, setListen] = useState('127.0.0.1:1080');
  const [busy, setBusy] = useState(false);
  return (
    <div class="card" data-testid="proxies">
      <h2 class="card-title">SOCKS5 proxies</h2>
      <form
        class="form-row"
        aria-label="Start a SOCKS5 proxy"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            const p = await client.startProxy({ listen: listen.trim() });
            notify('success', `SOCKS5 proxy listening on ${p.localAddress}.`);
            proxies.reload();
          } catch (err) {
            notify('error', (err as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          <span class="label">Listen on</span>
          <input
            class="input mono"
            name="listen"
            value={listen}
            onInput={(e) => setListen((e.target as HTMLInputElement).value)}
          />
        </label>
        <button class="btn btn-primary" type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Start proxy'}
        </button>
      </form>
      {proxies.error && <LoadError error={proxies.error} what="proxies" retry={proxies.reload} />}
      {proxies.data && proxies.data.length === 0 && (
        <p class="muted">
          No proxy runs. Point a browser or <span class="mono">curl --socks5-hostname</span> at one to reach
          services through DIBS.
        </p>
      )}
      {proxies.data && proxies.data.length > 0 && (
        <table class="table">
          <tbody>
            {proxies.data.map((p) => (
              <tr key={p.id}>
                <td class="mono">{p.localAddress}</td>
                <td>{p.tunnels} open tunnels</td>
                <td class="muted">since {clock(p.openedAt)}</td>
                <td>
                  <ActionButton
                    small
                    label={`Stop proxy ${p.localAddress}`}
                    onClick={async () => {
                      try {
                        await client.stopProxy(p.id);
                        proxies.reload();
                      } catch (err) {
                        notify('error', (err as Error).message);
                      }
                    }}
                  >
                    Stop
                  </ActionButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** L3 VPN sessions (WireGuard): address, peer, path, bytes each way, handshake age. */
function VpnCard() {
  const { client } = useApp();
  const vpn = useResource('sessions', client.vpn, 5_000);
  const services = useResource('services', client.services, 30_000);
  const names = useNames();
  const serviceName = (id: string) =>
    services.data?.find((x) => x.id === id)?.name ?? `service ${shortId(id)}`;
  const data = vpn.data;
  return (
    <div class="card" data-testid="vpn">
      <h2 class="card-title">VPN (L3)</h2>
      {vpn.error && <LoadError error={vpn.error} what="VPN sessions" retry={vpn.reload} />}
      {data && !data.supported && (
        <p class="muted">
          The L3 VPN does not run on this node: {data.reason} {data.hint}
        </p>
      )}
      {data?.supported && data.sessions.length === 0 && (
        <p class="muted">
          No VPN session. <span class="mono">dibs vpn up &lt;service&gt;</span> joins a vpn service's site.
        </p>
      )}
      {data && data.sessions.length > 0 && (
        <table class="table">
          <thead>
            <tr>
              <th>Service</th>
              <th>Role</th>
              <th>Address</th>
              <th>Peer</th>
              <th>Path</th>
              <th>Received</th>
              <th>Sent</th>
              <th>Handshake</th>
            </tr>
          </thead>
          <tbody>
            {data.sessions.map((v) => (
              <tr key={`${v.role}-${v.id}`} data-testid={`vpn-${v.id}`}>
                <td>{serviceName(v.serviceId)}</td>
                <td>{v.role}</td>
                <td class="mono">{v.address}</td>
                <td title={v.peerId}>{names.ofPeer(v.peerId)}</td>
                <td>
                  <Badge tone={v.path === 'direct' ? 'green' : 'amber'}>{v.path}</Badge>
                </td>
                <td>{bytes(v.bytesIn)}</td>
                <td>{bytes(v.bytesOut)}</td>
                <td class="muted">{v.handshakeAgeS === null ? 'none yet' : `${v.handshakeAgeS} s ago`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function SessionsPage() {
  const { client, bus, traffic, notify } = useApp();
  const sessions = useResource('sessions', client.sessions);
  const now = useNow(1000);
  const [, setTick] = useState(0);
  useEffect(() => bus.on('counters', () => setTick((t) => t + 1)), [bus]);
  const services = useResource('services', client.services);
  const connectionOf = (serviceId: string) => services.data?.find((x) => x.id === serviceId)?.connection?.id;
  return (
    <Page title="Sessions" subtitle="Open tunnels, proxies and logins with live traffic">
      {sessions.error && <LoadError error={sessions.error} what="sessions" retry={sessions.reload} />}
      {!sessions.data && !sessions.error && <Loading />}
      {sessions.data && sessions.data.length === 0 && (
        <Empty icon="sessions" title="No open sessions">
          Connect to a service on the Services page, or wait for a client to connect to one of yours. Traffic
          shows here live.
        </Empty>
      )}
      <div class="sessions">
        {(sessions.data ?? []).map((s) => (
          <SessionCard
            key={s.id}
            s={s}
            now={now}
            samples={traffic.samples.get(s.id) ?? []}
            onClose={async () => {
              const id = connectionOf(s.serviceId);
              try {
                if (!id) throw new Error('This session has no local connection to close.');
                await client.disconnect(id);
                sessions.reload();
              } catch (err) {
                notify('error', (err as Error).message);
              }
            }}
          />
        ))}
      </div>
      <VpnCard />
      <ProxiesCard />
    </Page>
  );
}
