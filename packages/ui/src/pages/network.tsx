/** Network map: this node, its direct and relayed peers and the nodes it only knows of, as an SVG graph. */
import type { Identity, Peer } from '../api.ts';
import { colourOf } from '../app.tsx';
import { Empty, LoadError, Loading, Page } from '../components.tsx';
import { shortPeer } from '../format.ts';
import { useNames } from '../names.ts';
import { useApp, useResource } from '../store.ts';

interface Node {
  id: string;
  x: number;
  y: number;
  kind: 'self' | 'direct' | 'relayed' | 'known';
  label: string;
  peer?: Peer;
}

interface Link {
  from: Node;
  to: Node;
  kind: 'direct' | 'relayed';
  rttMs: number | null;
}

const W = 960;
const H = 470;
const CX = W / 2;
const CY = H / 2;

/** Places nodes on two rings: connected directly inside, relayed next to their relay, the rest outside. */
export function layout(
  self: Identity,
  peers: Peer[],
  nameOf: (peerId: string) => string = shortPeer,
): { nodes: Node[]; links: Link[] } {
  const centre: Node = { id: self.peerId, x: CX, y: CY, kind: 'self', label: 'this node' };
  const direct = peers.filter((p) => p.connected && p.path === 'direct');
  const relayed = peers.filter((p) => p.connected && p.path === 'relayed');
  const known = peers.filter((p) => !p.connected);
  const nodes: Node[] = [centre];
  const byId = new Map<string, Node>([[centre.id, centre]]);
  const place = (p: Peer, angle: number, r: number, kind: Node['kind']) => {
    const n: Node = {
      id: p.peerId,
      x: CX + r * Math.cos(angle),
      y: CY + r * Math.sin(angle) * 0.62,
      kind,
      label: nameOf(p.peerId),
      peer: p,
    };
    nodes.push(n);
    byId.set(n.id, n);
    return n;
  };
  const inner = Math.min(230, 170 + direct.length * 6);
  direct.forEach((p, i) => {
    place(p, -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, direct.length), inner, 'direct');
  });
  const outer = [...relayed, ...known];
  outer.forEach((p, i) => {
    const relay = p.relay ? byId.get(p.relay) : undefined;
    const base = relay
      ? Math.atan2((relay.y - CY) / 0.62, relay.x - CX)
      : -Math.PI / 2 + (2 * Math.PI * (i + 0.5)) / Math.max(1, outer.length);
    const spread = relay ? ((i % 3) - 1) * 0.28 : 0;
    place(p, base + spread, 360, p.connected ? 'relayed' : 'known');
  });
  const links: Link[] = [];
  for (const n of nodes) {
    if (!n.peer) continue;
    if (n.kind === 'direct') links.push({ from: centre, to: n, kind: 'direct', rttMs: n.peer.rttMs });
    if (n.kind === 'relayed') {
      links.push({
        from: (n.peer.relay && byId.get(n.peer.relay)) || centre,
        to: n,
        kind: 'relayed',
        rttMs: n.peer.rttMs,
      });
    }
  }
  return { nodes, links };
}

export function NetworkPage() {
  const { client } = useApp();
  const identity = useResource('identity', client.identity);
  const peers = useResource('peers', client.peers, 5_000);
  const error = identity.error ?? peers.error;
  return (
    <Page title="Network map" subtitle="Who this node is connected to, directly or through relays">
      {error && (
        <LoadError
          error={error}
          what="the network"
          retry={() => {
            identity.reload();
            peers.reload();
          }}
        />
      )}
      {(!identity.data || !peers.data) && !error && <Loading />}
      {identity.data && peers.data && peers.data.length === 0 && (
        <Empty icon="network" title="Only this node so far">
          Once this node connects to a bootstrap node, its peers and the relays it uses are drawn here.
        </Empty>
      )}
      {identity.data && peers.data && peers.data.length > 0 && (
        <Graph self={identity.data} peers={peers.data} />
      )}
    </Page>
  );
}

function Graph(props: { self: Identity; peers: Peer[] }) {
  const names = useNames();
  const { nodes, links } = layout(props.self, props.peers, names.ofPeer);
  return (
    <div class="card graph-card">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        class="graph"
        role="img"
        aria-label="Network graph"
        data-testid="network-graph"
      >
        {links.map((l) => (
          <g key={`${l.from.id}-${l.to.id}`}>
            <line x1={l.from.x} y1={l.from.y} x2={l.to.x} y2={l.to.y} class={`link link-${l.kind}`} />
            {l.rttMs !== null && (
              <text
                x={l.from.x + (l.to.x - l.from.x) * 0.55}
                y={l.from.y + (l.to.y - l.from.y) * 0.55 - 6}
                class="link-label"
              >
                {Math.round(l.rttMs)} ms
              </text>
            )}
          </g>
        ))}
        {nodes.map((n) => (
          <g key={n.id} class={`node node-${n.kind}`}>
            <title>
              {n.peer
                ? `${n.peer.peerId}${n.peer.roles.length ? ` (${n.peer.roles.join(', ')})` : ''}`
                : n.id}
            </title>
            <circle
              cx={n.x}
              cy={n.y}
              r={n.kind === 'self' ? 26 : 15}
              style={{ fill: n.kind === 'known' ? undefined : colourOf(n.id) }}
            />
            {n.peer?.roles.includes('relay') && <circle cx={n.x} cy={n.y} r={20} class="ring" />}
            <text x={n.x} y={n.y + (n.kind === 'self' ? 44 : 32)} class="node-label">
              {n.label}
            </text>
          </g>
        ))}
      </svg>
      <div class="legend">
        <span>
          <i class="lg lg-direct" /> direct
        </span>
        <span>
          <i class="lg lg-relayed" /> relayed
        </span>
        <span>
          <i class="lg-dot lg-known" /> known, not connected
        </span>
        <span>
          <i class="lg-dot lg-ring" /> relay node
        </span>
      </div>
    </div>
  );
}
