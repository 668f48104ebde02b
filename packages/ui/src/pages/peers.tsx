/** Peers: every known node with its connection path and round-trip time. */
import { Badge, Copyable, Empty, LoadError, Loading, Page } from '../components.tsx';
import { clock, shortHex, shortPeer } from '../format.ts';
import { useNames } from '../names.ts';
import { useApp, useResource } from '../store.ts';

/** Colour for an RTT: green when fast, amber when slow, red when very slow. */
export function rttTone(ms: number | null): 'green' | 'amber' | 'red' | 'grey' {
  if (ms === null) return 'grey';
  return ms < 50 ? 'green' : ms < 250 ? 'amber' : 'red';
}

/** A peer's round-trip time as a coloured badge, or a dash before it is measured. */
export function RttBadge(props: { ms: number | null }) {
  const { ms } = props;
  if (ms === null) return <span class="muted">—</span>;
  return <Badge tone={rttTone(ms)}>{ms.toFixed(ms < 10 ? 1 : 0)} ms</Badge>;
}

/** Registry roles as badges, or a dash. */
export function RoleBadges(props: { roles: readonly string[] }) {
  if (props.roles.length === 0) return <span class="muted">—</span>;
  return (
    <>
      {props.roles.map((r) => (
        <Badge key={r} tone="violet">
          {r}
        </Badge>
      ))}
    </>
  );
}

export function PeersPage() {
  const { client } = useApp();
  const peers = useResource('peers', client.peers, 5_000);
  const names = useNames();
  const list = [...(peers.data ?? [])].sort(
    (a, b) => Number(b.connected) - Number(a.connected) || (a.rttMs ?? 1e9) - (b.rttMs ?? 1e9),
  );
  return (
    <Page title="Peers" subtitle="Nodes this node knows, how it reaches them and how fast">
      {peers.error && <LoadError error={peers.error} what="peers" retry={peers.reload} />}
      {!peers.data && !peers.error && <Loading />}
      {peers.data && list.length === 0 && (
        <Empty icon="peers" title="No peers yet">
          This node has not met any other node. It joins the network through the bootstrap nodes listed on
          chain; check that one is running and that this node holds a network ticket.
        </Empty>
      )}
      {list.length > 0 && (
        <div class="card table-card">
          <table class="table">
            <thead>
              <tr>
                <th>Peer</th>
                <th>Node</th>
                <th>Status</th>
                <th>Path</th>
                <th class="num">RTT</th>
                <th>Roles</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.peerId}>
                  <td>
                    <Copyable value={p.peerId} display={shortPeer(p.peerId)} />
                    {p.remoteAddress && <div class="sub mono">{p.remoteAddress}</div>}
                  </td>
                  <td class="nowrap" title={p.address ?? undefined}>
                    {p.address ? (
                      (names.label(p.address) ?? <span class="mono">{shortHex(p.address)}</span>)
                    ) : (
                      <span class="muted">unknown</span>
                    )}
                  </td>
                  <td>
                    {p.connected ? <Badge tone="green">connected</Badge> : <Badge tone="grey">known</Badge>}
                  </td>
                  <td>
                    {p.path === 'direct' ? (
                      <Badge tone="blue">direct</Badge>
                    ) : (
                      <Badge tone="amber" title={p.relay ? `via ${p.relay}` : undefined}>
                        relayed{p.relay ? ` via ${shortPeer(p.relay)}` : ''}
                      </Badge>
                    )}
                  </td>
                  <td class="num">
                    <RttBadge ms={p.rttMs} />
                  </td>
                  <td>
                    <RoleBadges roles={p.roles} />
                  </td>
                  <td class="muted">{p.since ? clock(p.since) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
