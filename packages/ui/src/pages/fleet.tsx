/** Fleet: every node registered on chain — its name, roles, whether it is online, RTT and services. */
import { useState } from 'preact/hooks';
import type { FleetNode } from '../api.ts';
import { ActionButton, Badge, Copyable, Empty, LoadError, Loading, Page } from '../components.tsx';
import { duration, shortHex } from '../format.ts';
import { shortId } from '../names.ts';
import { useApp, useNow, useResource } from '../store.ts';
import { RoleBadges, RttBadge } from './peers.tsx';

function NameCell(props: { n: FleetNode; reload: () => void }) {
  const { client, notify } = useApp();
  const { n } = props;
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(n.label ?? '');
  const name = n.label ?? (n.self ? 'this node' : undefined);
  if (editing) {
    return (
      <form
        class="inline-edit"
        aria-label={`Name ${n.address}`}
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await client.setNodeLabel(n.address, value);
            setEditing(false);
            props.reload();
          } catch (err) {
            notify('error', (err as Error).message);
          }
        }}
      >
        <input
          class="input input-small"
          aria-label="Node name"
          maxLength={64}
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <button class="btn btn-small btn-primary" type="submit">
          Save
        </button>
      </form>
    );
  }
  return (
    <div>
      <div class="strong">
        {name ?? <span class="muted">unnamed</span>}
        <button
          type="button"
          class="link-button"
          aria-label={`Rename ${n.address}`}
          onClick={() => {
            setValue(n.label ?? '');
            setEditing(true);
          }}
        >
          rename
        </button>
      </div>
      <Copyable value={n.address} display={shortHex(n.address)} />
    </div>
  );
}

function Status(props: { n: FleetNode; now: number }) {
  const { n, now } = props;
  const age = n.recordAt === null ? null : Math.max(0, (now - n.recordAt) / 1000);
  return (
    <div>
      {n.online ? <Badge tone="green">online</Badge> : <Badge tone="grey">offline</Badge>}
      <div class="sub">
        {n.self
          ? 'this node'
          : [
              n.connected ? 'connected' : undefined,
              age !== null
                ? `DHT record ${duration(age)} old`
                : n.connected
                  ? undefined
                  : 'no DHT record found',
            ]
              .filter(Boolean)
              .join(' · ')}
      </div>
    </div>
  );
}

export function FleetPage() {
  const { client } = useApp();
  const fleet = useResource('fleet', client.fleet, 15_000);
  const now = useNow(5000);
  const list = [...(fleet.data ?? [])].sort(
    (a, b) => Number(b.self) - Number(a.self) || Number(b.online) - Number(a.online),
  );
  const online = list.filter((n) => n.online).length;
  return (
    <Page
      title="Fleet"
      subtitle={
        fleet.data
          ? `${list.length} nodes registered on chain · ${online} online`
          : 'Every node registered on chain'
      }
    >
      {fleet.error && <LoadError error={fleet.error} what="the fleet" retry={fleet.reload} />}
      {!fleet.data && !fleet.error && <Loading />}
      {fleet.data && list.length === 0 && (
        <Empty icon="fleet" title="No nodes registered">
          Nodes appear here once they register on chain (`dibs up` does it).
        </Empty>
      )}
      {list.length > 0 && (
        <div class="card table-card">
          <table class="table" data-testid="fleet-table">
            <thead>
              <tr>
                <th>Node</th>
                <th>Status</th>
                <th class="num">RTT</th>
                <th>Roles</th>
                <th>Services</th>
              </tr>
            </thead>
            <tbody>
              {list.map((n) => (
                <tr key={n.address} data-address={n.address.toLowerCase()} data-online={String(n.online)}>
                  <td>
                    <NameCell n={n} reload={fleet.reload} />
                  </td>
                  <td>
                    <Status n={n} now={now} />
                  </td>
                  <td class="num">
                    <RttBadge ms={n.rttMs} />
                  </td>
                  <td>
                    <RoleBadges roles={n.roles} />
                  </td>
                  <td>
                    {n.services.length === 0 ? (
                      <span class="muted">—</span>
                    ) : (
                      n.services.map((s) => (
                        <Badge key={s.id} tone="blue" title={`service ${s.id}`}>
                          {s.name ?? shortId(s.id)}
                        </Badge>
                      ))
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="muted small">
        Online: connected to this node now, or its signed DHT record was issued within the last two republish
        periods. Names are kept on this node only.
      </p>
      <ActionButton small label="Refresh the fleet" onClick={async () => fleet.reload()}>
        Refresh
      </ActionButton>
    </Page>
  );
}
