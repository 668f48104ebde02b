/** The application frame: token gate, left navigation, header with identity and network status. */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  ApiClient,
  ApiUnreachableError,
  type ChainStatus,
  type Identity,
  forgetToken,
  saveToken,
} from './api.ts';
import { Banner, Copyable } from './components.tsx';
import { shortHex } from './format.ts';
import { Icon, type IconName } from './icons.tsx';
import { AuditPage } from './pages/audit.tsx';
import { DashboardPage } from './pages/dashboard.tsx';
import { FleetPage } from './pages/fleet.tsx';
import { GrantsPage } from './pages/grants.tsx';
import { LogsPage } from './pages/logs.tsx';
import { NetworkPage } from './pages/network.tsx';
import { OrganizationsPage } from './pages/organizations.tsx';
import { PeersPage } from './pages/peers.tsx';
import { ServicesPage } from './pages/services.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { navigate, usePath } from './router.ts';
import { type AppContext, Ctx, EventBus, TrafficHistory, useApp, useResource } from './store.ts';

interface NavItem {
  path: string;
  label: string;
  icon: IconName;
  page: () => ComponentChildren;
}

const NAV: NavItem[] = [
  { path: '/', label: 'Dashboard', icon: 'dashboard', page: () => <DashboardPage /> },
  { path: '/fleet', label: 'Fleet', icon: 'fleet', page: () => <FleetPage /> },
  { path: '/peers', label: 'Peers', icon: 'peers', page: () => <PeersPage /> },
  { path: '/services', label: 'Services', icon: 'services', page: () => <ServicesPage /> },
  { path: '/grants', label: 'Grants', icon: 'grants', page: () => <GrantsPage /> },
  { path: '/sessions', label: 'Sessions', icon: 'sessions', page: () => <SessionsPage /> },
  { path: '/orgs', label: 'Organizations', icon: 'orgs', page: () => <OrganizationsPage /> },
  { path: '/network', label: 'Network map', icon: 'network', page: () => <NetworkPage /> },
  { path: '/audit', label: 'Audit', icon: 'audit', page: () => <AuditPage /> },
  { path: '/logs', label: 'Logs', icon: 'logs', page: () => <LogsPage /> },
];

/** The whole UI; `initialToken` comes from the URL fragment or this tab's storage. */
export function App(props: { initialToken: string | null }) {
  const [token, setToken] = useState(props.initialToken);
  const [refused, setRefused] = useState<string | undefined>();
  if (!token) {
    return (
      <TokenGate
        refused={refused}
        onToken={(t) => {
          saveToken(t);
          setRefused(undefined);
          setToken(t);
        }}
      />
    );
  }
  return (
    <Shell
      key={token}
      token={token}
      onUnauthorized={(message) => {
        forgetToken();
        setRefused(message);
        setToken(null);
      }}
    />
  );
}

function TokenGate(props: { refused?: string; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <div class="gate">
      <form
        class="gate-card"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) props.onToken(value.trim());
        }}
      >
        <div class="brand brand-large">
          <span class="brand-mark">D</span> DIBS node
        </div>
        <h1>Connect to this node</h1>
        <p class="muted">
          Open the address the node printed when it started (it ends in <code>#token=…</code>), or paste the
          API token from the node's data directory.
        </p>
        {props.refused && (
          <Banner kind="error" title="The node refused the token">
            {props.refused}
          </Banner>
        )}
        <label class="label" for="token">
          API token
        </label>
        <input
          id="token"
          class="input mono"
          type="password"
          autoComplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button class="btn btn-primary" type="submit" disabled={!value.trim()}>
          Connect
        </button>
      </form>
    </div>
  );
}

function Shell(props: { token: string; onUnauthorized: (message: string) => void }) {
  const path = usePath();
  const [notice, setNotice] = useState<{ kind: 'error' | 'success'; message: string } | undefined>();
  const [live, setLive] = useState<boolean | undefined>(undefined);
  const [down, setDown] = useState(false);
  const ctx = useMemo<AppContext>(
    () => ({
      client: new ApiClient(props.token),
      bus: new EventBus(),
      traffic: new TrafficHistory(),
      notify: (kind, message) => setNotice({ kind, message }),
      unauthorized: props.onUnauthorized,
    }),
    [props.token],
  );
  useEffect(() => {
    const stop = ctx.client.events(
      (event, data) => {
        if (event === 'counters') ctx.traffic.add(data as Parameters<TrafficHistory['add']>[0]);
        ctx.bus.emit(event, data);
      },
      (isLive, error) => {
        setLive(isLive);
        setDown(!isLive && error instanceof ApiUnreachableError);
        if (error && 'status' in error && error.status === 401) props.onUnauthorized(error.message);
      },
    );
    return stop;
  }, [ctx]);
  useEffect(() => setNotice(undefined), [path]);
  const item = NAV.find((n) => n.path === path) ?? NAV[0]!;
  return (
    <Ctx.Provider value={ctx}>
      <div class="layout">
        <nav class="sidebar" aria-label="Main">
          <div class="brand">
            <span class="brand-mark">D</span> DIBS
          </div>
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <a
                  href={n.path}
                  class={n.path === item.path ? 'active' : ''}
                  aria-current={n.path === item.path ? 'page' : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(n.path);
                  }}
                >
                  <Icon name={n.icon} class="nav-icon" />
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
          <div class="sidebar-foot muted">Management UI · localhost only</div>
        </nav>
        <div class="main">
          <TopBar live={live} down={down} />
          <main class="content">
            {notice && (
              <Banner kind={notice.kind} onClose={() => setNotice(undefined)}>
                {notice.message}
              </Banner>
            )}
            {item.page()}
          </main>
        </div>
      </div>
    </Ctx.Provider>
  );
}

function TopBar(props: { live: boolean | undefined; down: boolean }) {
  const { client } = useApp();
  const identity = useResource<Identity>('identity', client.identity);
  const chain = useResource<ChainStatus>('chain', client.chain, 10_000);
  const peers = useResource('peers', client.peers, 15_000);
  const connected = peers.data?.filter((p) => p.connected).length;
  const nodeDown = props.down;
  return (
    <header class="topbar">
      <div class="topbar-id">
        {identity.data ? (
          <>
            <span class="avatar" aria-hidden="true" style={{ background: colourOf(identity.data.address) }} />
            <div>
              <div class="topbar-title">This node</div>
              <Copyable value={identity.data.address} display={shortHex(identity.data.address)} />
            </div>
          </>
        ) : (
          <div class="topbar-title muted">
            {identity.error ? 'Identity unavailable' : 'Loading identity…'}
          </div>
        )}
      </div>
      <div class="topbar-status">
        {chain.data && (
          <span class={`pill ${chain.data.reachable ? 'pill-ok' : 'pill-bad'}`} title={chain.data.rpcUrl}>
            <span class="dot" /> Chain {chain.data.chainId}
            {chain.data.headBlock !== null && (
              <span class="pill-sub">#{chain.data.headBlock.toLocaleString()}</span>
            )}
          </span>
        )}
        <span class={`pill ${nodeDown ? 'pill-bad' : props.live ? 'pill-ok' : 'pill-warn'}`}>
          <span class="dot" />
          {nodeDown ? 'Node unreachable' : props.live ? 'Live' : 'Connecting…'}
          {!nodeDown && connected !== undefined && (
            <span class="pill-sub">
              {connected} {connected === 1 ? 'peer' : 'peers'}
            </span>
          )}
        </span>
      </div>
    </header>
  );
}

/** A stable colour per address, so a node is recognisable at a glance. */
export function colourOf(value: string): string {
  let h = 0;
  for (let i = 0; i < value.length; i++) h = (h * 31 + value.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 62% 52%)`;
}
