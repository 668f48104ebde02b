/** Grants: access this node holds and access it issued, with live expiry countdowns and revocation. */
import type { Grant } from '../api.ts';
import { ActionButton, Badge, Empty, LoadError, Loading, Page } from '../components.tsx';
import { duration } from '../format.ts';
import { shortId, useNames } from '../names.ts';
import { useApp, useNow, useResource } from '../store.ts';

function Expiry(props: { g: Grant; now: number }) {
  const { g, now } = props;
  if (g.revoked) return <Badge tone="red">revoked</Badge>;
  const left = g.expiresAt - now / 1000;
  if (left <= 0) return <Badge tone="grey">expired</Badge>;
  const total = Math.max(1, g.expiresAt - g.issuedAt);
  const frac = Math.min(1, left / total);
  const tone = left < 300 ? 'bad' : left < 3600 ? 'warn' : 'ok';
  return (
    <div class="expiry">
      <span class={`countdown text-${tone}`} data-testid="countdown">
        {duration(left)} left
      </span>
      <div class="bar">
        <div class={`bar-fill bar-${tone}`} style={{ width: `${(frac * 100).toFixed(1)}%` }} />
      </div>
    </div>
  );
}

function GrantTable(props: { list: Grant[]; now: number; owner: boolean; reload: () => void }) {
  const { client, notify } = useApp();
  const names = useNames();
  return (
    <div class="card table-card">
      <table class="table">
        <thead>
          <tr>
            <th>Service</th>
            <th>{props.owner ? 'Granted to' : 'Owner'}</th>
            <th>Grant</th>
            <th>Expires</th>
            {props.owner && (
              <th class="actions">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {props.list.map((g) => (
            <tr key={g.id}>
              <td>
                <div class="strong">{g.serviceName || `service ${shortId(g.serviceId)}`}</div>
                <div class="sub mono">service {shortId(g.serviceId)}</div>
              </td>
              <td title={props.owner ? g.grantee : g.owner}>{names.of(props.owner ? g.grantee : g.owner)}</td>
              <td class="mono" title={`grant ${g.id}`}>
                {shortId(g.id)}
              </td>
              <td>
                <Expiry g={g} now={props.now} />
              </td>
              {props.owner && (
                <td class="actions">
                  {!g.revoked && g.expiresAt * 1000 > props.now && (
                    <ActionButton
                      small
                      kind="danger"
                      label={`Revoke grant ${g.id} (${g.serviceName}, ${names.of(g.grantee)})`}
                      onClick={async () => {
                        try {
                          await client.revokeGrant(g.id);
                          notify('success', `Revoked ${names.of(g.grantee)}'s access to “${g.serviceName}”.`);
                          props.reload();
                        } catch (err) {
                          notify('error', (err as Error).message);
                        }
                      }}
                    >
                      Revoke
                    </ActionButton>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function GrantsPage() {
  const { client } = useApp();
  const grants = useResource('grants', client.grants, 30_000);
  const now = useNow(1000);
  const held = (grants.data ?? []).filter((g) => g.role === 'holder');
  const issued = (grants.data ?? []).filter((g) => g.role === 'owner');
  return (
    <Page
      title="Grants"
      subtitle="On-chain access rights: what this node may use, and who may use its services"
    >
      {grants.error && <LoadError error={grants.error} what="grants" retry={grants.reload} />}
      {!grants.data && !grants.error && <Loading />}
      {grants.data && (
        <>
          <h2 class="section-title">
            Held by this node <span class="count">{held.length}</span>
          </h2>
          {held.length === 0 ? (
            <Empty icon="grants" title="No access held yet">
              Request access to a service on the Services page; the grant appears here with its expiry.
            </Empty>
          ) : (
            <GrantTable list={held} now={now} owner={false} reload={grants.reload} />
          )}
          <h2 class="section-title">
            Issued on your services <span class="count">{issued.length}</span>
          </h2>
          {issued.length === 0 ? (
            <Empty icon="grants" title="Nobody has access to your services yet">
              When another wallet requests access to a service you published, its grant shows here and you can
              revoke it.
            </Empty>
          ) : (
            <GrantTable list={issued} now={now} owner reload={grants.reload} />
          )}
        </>
      )}
    </Page>
  );
}
