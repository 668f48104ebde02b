/** Dashboard: identity, chain and a summary of the network, services, grants and sessions. */
import type { ChainTrust } from '../api.ts';
import { Copyable, Field, LoadError, Loading, Page, Stat } from '../components.tsx';
import { duration, shortHex, units } from '../format.ts';
import { useApp, useNow, useResource } from '../store.ts';

export function DashboardPage() {
  const { client } = useApp();
  const identity = useResource('identity', client.identity);
  const chain = useResource('chain', client.chain, 10_000);
  const balance = useResource('balance', client.balance, 15_000);
  const peers = useResource('peers', client.peers, 15_000);
  const services = useResource('services', client.services);
  const grants = useResource('grants', client.grants);
  const sessions = useResource('sessions', client.sessions);
  const now = useNow(1000);
  const connected = peers.data?.filter((p) => p.connected) ?? [];
  const relayed = connected.filter((p) => p.path === 'relayed').length;
  const activeGrants = grants.data?.filter((g) => !g.revoked && g.expiresAt * 1000 > now).length;
  const own = services.data?.filter((s) => s.own).length;
  return (
    <Page title="Dashboard" subtitle="This node, its chain and the network it sees">
      {identity.error && <LoadError error={identity.error} what="the identity" retry={identity.reload} />}
      <div class="stats">
        <Stat
          label="Network size"
          value={peers.data ? peers.data.length : '—'}
          hint={peers.data ? `${connected.length} connected · ${relayed} relayed` : 'known nodes'}
        />
        <Stat
          label="Services"
          value={services.data ? services.data.length : '—'}
          hint={own !== undefined ? `${own} published here` : ' '}
        />
        <Stat label="Active grants" value={activeGrants ?? '—'} hint="held or issued" />
        <Stat
          label="Open sessions"
          value={sessions.data ? sessions.data.length : '—'}
          hint="tunnels and proxies"
        />
      </div>
      <div class="grid-2">
        <div class="card">
          <h2 class="card-title">Identity</h2>
          {identity.data ? (
            <div class="fields">
              <Field label="Address">
                <Copyable value={identity.data.address} />
              </Field>
              <Field label="DID">
                <Copyable value={identity.data.did} display={shortHex(identity.data.did, 24, 6)} />
              </Field>
              <Field label="PeerId">
                <Copyable value={identity.data.peerId} display={shortHex(identity.data.peerId, 12, 8)} />
              </Field>
              <Field label="Balance">
                {balance.data ? (
                  <span data-testid="balance">
                    {units(balance.data.native, 18, balance.data.nativeSymbol)}
                    <span class="muted"> · </span>
                    {units(
                      balance.data.token.balance,
                      balance.data.token.decimals,
                      balance.data.token.symbol,
                    )}
                  </span>
                ) : balance.error ? (
                  <span class="text-bad">unavailable: {balance.error.message}</span>
                ) : (
                  <span class="muted">…</span>
                )}
              </Field>
              <Field label="Version">{identity.data.version}</Field>
              <Field label="Uptime">{duration((now - identity.data.startedAt) / 1000)}</Field>
              <Field label="Listening on" mono>
                {identity.data.listenAddresses.length === 0 ? (
                  <span class="muted">not listening</span>
                ) : (
                  identity.data.listenAddresses.slice(0, 3).map((a) => <div key={a}>{a}</div>)
                )}
              </Field>
            </div>
          ) : identity.error ? (
            <p class="muted">Identity unavailable.</p>
          ) : (
            <Loading />
          )}
        </div>
        <div class="card">
          <h2 class="card-title">Chain</h2>
          {chain.error && <LoadError error={chain.error} what="the chain status" retry={chain.reload} />}
          {chain.data ? (
            <div class="fields">
              <Field label="RPC">
                <span class="mono">{chain.data.rpcUrl}</span>{' '}
                {chain.data.embedded && <span class="badge badge-violet">embedded anvil</span>}
              </Field>
              <Field label="Chain id">{chain.data.chainId}</Field>
              <Field label="Head block">
                {chain.data.reachable ? (
                  <>
                    #{chain.data.headBlock?.toLocaleString() ?? '—'}
                    {chain.data.headTime !== null && (
                      <span class="muted"> · {duration(now / 1000 - chain.data.headTime)} ago</span>
                    )}
                  </>
                ) : (
                  <span class="text-bad">RPC unreachable</span>
                )}
              </Field>
              {chain.data.view && (
                <Field label="Chain view">
                  {chain.data.view.state === 'fresh' ? (
                    <span class="text-ok">in sync</span>
                  ) : (
                    <span class={chain.data.view.state === 'stale' ? 'text-warn' : 'text-bad'}>
                      {chain.data.view.code}:{' '}
                      {chain.data.view.state === 'stale'
                        ? 'new tickets refused'
                        : 'new tickets refused, live sessions closed'}
                    </span>
                  )}
                  <span class="muted">
                    {' '}
                    · #{chain.data.view.syncedBlock.toLocaleString()} applied, {chain.data.view.lagBlocks}{' '}
                    behind, {duration(chain.data.view.lagMs / 1000)}
                  </span>
                  {chain.data.view.reason && <div class="muted">{chain.data.view.reason}</div>}
                </Field>
              )}
              {chain.data.trust && <TrustFields trust={chain.data.trust} now={now} />}
              <Field label="Contracts">
                {chain.data.contracts.length === 0 ? (
                  <span class="muted">not deployed yet</span>
                ) : (
                  <table class="mini">
                    <tbody>
                      {chain.data.contracts.map((c) => (
                        <tr key={c.name}>
                          <td>{c.name}</td>
                          <td>
                            <Copyable value={c.address} display={shortHex(c.address, 10, 6)} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </Field>
            </div>
          ) : (
            !chain.error && <Loading />
          )}
        </div>
      </div>
    </Page>
  );
}

/** The chain-trust rows: mode, the accepted (or signed) checkpoint, its signers, refused RPC answers. */
function TrustFields({ trust, now }: { trust: ChainTrust; now: number }) {
  return (
    <>
      <Field label="Mode">
        {trust.mode === 'light' ? (
          <span class="badge badge-violet">light: proven state only</span>
        ) : (
          <span class="badge">full</span>
        )}
      </Field>
      <Field label={trust.mode === 'light' ? 'Accepted checkpoint' : 'Signed checkpoint'}>
        {trust.checkpoint ? (
          <>
            #{Number(trust.checkpoint.number).toLocaleString()}{' '}
            <Copyable
              value={trust.checkpoint.blockHash}
              display={shortHex(trust.checkpoint.blockHash, 10, 6)}
            />
          </>
        ) : (
          <span class="muted">none yet</span>
        )}
      </Field>
      <Field label="Signers">
        {trust.signers.length === 0 ? (
          <span class="muted">pinned (genesis)</span>
        ) : (
          trust.signers.map((a) => (
            <div key={a}>
              <Copyable value={a} display={shortHex(a, 10, 6)} />
            </div>
          ))
        )}
        {trust.mode === 'light' && (
          <div class="muted">
            {trust.required} of {trust.nodeSet.length} trusted full nodes must sign
          </div>
        )}
      </Field>
      {trust.mode === 'light' && (
        <Field label="Refused RPC answers">
          {trust.refusedCount === 0 ? (
            <span class="muted">none</span>
          ) : (
            <>
              <span class="text-bad">{trust.refusedCount}</span>
              <table class="mini">
                <tbody>
                  {trust.refusedAnswers
                    .slice(-5)
                    .reverse()
                    .map((r) => (
                      <tr key={`${r.at}-${r.url}-${r.what}`} title={r.reason}>
                        <td>{duration(Math.max(0, now - r.at) / 1000)} ago</td>
                        <td class="mono">{r.url}</td>
                        <td>{r.what}</td>
                        <td>{r.code}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </>
          )}
          {trust.lastRefusal && <div class="muted">last checkpoint refused: {trust.lastRefusal}</div>}
        </Field>
      )}
    </>
  );
}
