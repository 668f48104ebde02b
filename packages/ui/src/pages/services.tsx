/** Services: publish one, retire own ones, request access to and connect to reachable ones. */
import { useState } from 'preact/hooks';
import type { PublishPolicy, PublishService, Service, ServiceType } from '../api.ts';
import { ActionButton, Badge, Empty, LoadError, Loading, Page } from '../components.tsx';
import { PolicyEditor } from './service-policy.tsx';
import { shortPeer, tokenAmount } from '../format.ts';
import { useApp, useNow, useResource } from '../store.ts';

const TYPES: ServiceType[] = ['http', 'tcp', 'vpn'];
const POLICIES: { value: PublishPolicy; label: string }[] = [
  { value: 'public', label: 'Public — anyone who pays' },
  { value: 'allowlist', label: 'Allowlist' },
  { value: 'organization', label: 'Organization members' },
];

/** Comma- or space-separated text → list, empty entries dropped. */
function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** The form's fields as the API wants them: only what the chosen type and policy use. */
function toRequest(form: FormState): PublishService {
  const out: PublishService = {
    name: form.name,
    type: form.type,
    price: form.price || '0',
    policy: form.policy,
  };
  if (form.type === 'vpn') out.allow = list(form.allow);
  else out.target = form.target;
  if (form.policy === 'allowlist') out.allowlist = list(form.allowlist);
  if (form.policy === 'organization') out.organizationId = form.organizationId.trim();
  return out;
}

interface FormState {
  name: string;
  type: ServiceType;
  target: string;
  allow: string;
  price: string;
  policy: PublishPolicy;
  allowlist: string;
  organizationId: string;
}

function PublishForm(props: { onDone: () => void }) {
  const { client, notify } = useApp();
  const [form, setForm] = useState<FormState>({
    name: '',
    type: 'http',
    target: '127.0.0.1:8080',
    allow: '10.0.0.0/8',
    price: '0',
    policy: 'public',
    allowlist: '',
    organizationId: '',
  });
  const [busy, setBusy] = useState(false);
  const set = (k: keyof FormState) => (e: Event) =>
    setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  return (
    <form
      class="card form"
      aria-label="Publish a service"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        try {
          const svc = await client.publishService(toRequest(form));
          notify('success', `Published “${svc.name}”. Other nodes can now request access to it.`);
          setForm({ ...form, name: '' });
          props.onDone();
        } catch (err) {
          notify('error', (err as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 class="card-title">Publish a service</h2>
      <div class="form-row">
        <label>
          <span class="label">Name</span>
          <input
            class="input"
            name="name"
            required
            maxLength={64}
            placeholder="e.g. team-wiki"
            value={form.name}
            onInput={set('name')}
          />
        </label>
        <label>
          <span class="label">Type</span>
          <select class="input" name="type" value={form.type} onChange={set('type')}>
            {TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {form.type === 'vpn' ? (
          <label>
            <span class="label">Allow (cidr[:ports])</span>
            <input
              class="input mono"
              name="allow"
              required
              placeholder="10.0.0.0/8:80-443"
              value={form.allow}
              onInput={set('allow')}
            />
          </label>
        ) : (
          <label>
            <span class="label">Target (host:port)</span>
            <input class="input mono" name="target" required value={form.target} onInput={set('target')} />
          </label>
        )}
        <label>
          <span class="label">Price (wei)</span>
          <input
            class="input mono"
            name="price"
            inputMode="numeric"
            value={form.price}
            onInput={set('price')}
          />
        </label>
        <label>
          <span class="label">Who may access</span>
          <select class="input" name="policy" value={form.policy} onChange={set('policy')}>
            {POLICIES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        {form.policy === 'allowlist' && (
          <label>
            <span class="label">Allowed addresses</span>
            <input
              class="input mono"
              name="allowlist"
              required
              placeholder="0x…, 0x…"
              value={form.allowlist}
              onInput={set('allowlist')}
            />
          </label>
        )}
        {form.policy === 'organization' && (
          <label>
            <span class="label">Organization id</span>
            <input
              class="input mono"
              name="organizationId"
              required
              inputMode="numeric"
              value={form.organizationId}
              onInput={set('organizationId')}
            />
            <span class="muted">
              Served and reached in that organization's network only: this node must have joined it.
            </span>
          </label>
        )}
        <button class="btn btn-primary" type="submit" disabled={busy}>
          {busy ? 'Publishing…' : 'Publish'}
        </button>
      </div>
    </form>
  );
}

function ServiceRow(props: { s: Service; hasGrant: boolean; reload: () => void }) {
  const { client, notify } = useApp();
  const s = props.s;
  const [editing, setEditing] = useState(false);
  const act = (fn: () => Promise<unknown>, ok: string) => async () => {
    try {
      await fn();
      notify('success', ok);
      props.reload();
    } catch (err) {
      notify('error', (err as Error).message);
    }
  };
  return (
    <>
      <tr>
        <td>
          <div class="strong">{s.name}</div>
          <div class="sub mono">#{s.id}</div>
        </td>
        <td>
          <Badge tone="blue">{s.type}</Badge>
        </td>
        <td class="mono">
          {s.own ? (s.target ?? '—') : s.host ? shortPeer(s.host) : <span class="muted">no host online</span>}
        </td>
        <td>{tokenAmount(s.price)}</td>
        <td>
          <Badge tone="violet">{s.policy}</Badge>
        </td>
        <td>
          {!s.active ? (
            <Badge tone="grey">retired</Badge>
          ) : s.connection ? (
            <Badge tone="green">connected · {s.connection.localAddress}</Badge>
          ) : s.own ? (
            <Badge tone="green">published</Badge>
          ) : s.reachable ? (
            <Badge tone="blue">reachable</Badge>
          ) : (
            <Badge tone="amber">offline</Badge>
          )}
        </td>
        <td class="actions">
          {s.own ? (
            s.active && (
              <>
                <button
                  type="button"
                  class="btn btn-small"
                  aria-expanded={editing}
                  aria-label={`Policy of ${s.name}`}
                  onClick={() => setEditing(!editing)}
                >
                  {editing ? 'Close policy' : 'Policy'}
                </button>{' '}
                <ActionButton
                  small
                  kind="danger"
                  label={`Retire ${s.name}`}
                  onClick={act(() => client.retireService(s.id), `Retired “${s.name}”.`)}
                >
                  Retire
                </ActionButton>
              </>
            )
          ) : s.connection ? (
            <ActionButton
              small
              label={`Disconnect ${s.name}`}
              onClick={act(() => client.disconnect(s.connection!.id), `Disconnected from “${s.name}”.`)}
            >
              Disconnect
            </ActionButton>
          ) : props.hasGrant ? (
            <ActionButton
              small
              kind="primary"
              label={`Connect ${s.name}`}
              onClick={async () => {
                try {
                  const c = await client.connect(s.id);
                  notify('success', `Connected to “${s.name}”: open ${c.localAddress} to reach it.`);
                  props.reload();
                } catch (err) {
                  notify('error', (err as Error).message);
                }
              }}
            >
              Connect
            </ActionButton>
          ) : (
            <ActionButton
              small
              label={`Request access to ${s.name}`}
              onClick={act(() => client.requestGrant(s.id), `Access to “${s.name}” granted.`)}
            >
              Request access
            </ActionButton>
          )}
        </td>
      </tr>
      {editing && (
        <tr class="policy-row">
          <td colSpan={7}>
            <PolicyEditor service={s} onChanged={props.reload} />
          </td>
        </tr>
      )}
    </>
  );
}

function ServiceTable(props: { list: Service[]; grantIds: Set<string>; reload: () => void }) {
  return (
    <div class="card table-card">
      <table class="table">
        <thead>
          <tr>
            <th>Service</th>
            <th>Type</th>
            <th>Target / host</th>
            <th>Price</th>
            <th>Policy</th>
            <th>Status</th>
            <th class="actions">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.list.map((s) => (
            <ServiceRow key={s.id} s={s} hasGrant={props.grantIds.has(s.id)} reload={props.reload} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ServicesPage() {
  const { client } = useApp();
  const services = useResource('services', client.services);
  const grants = useResource('grants', client.grants);
  const now = useNow(5000);
  const [showForm, setShowForm] = useState(false);
  const grantIds = new Set(
    (grants.data ?? [])
      .filter((g) => g.role === 'holder' && !g.revoked && g.expiresAt * 1000 > now)
      .map((g) => g.serviceId),
  );
  const own = (services.data ?? []).filter((s) => s.own);
  const remote = (services.data ?? []).filter((s) => !s.own);
  const reload = () => {
    services.reload();
    grants.reload();
  };
  return (
    <Page
      title="Services"
      subtitle="Published on chain, advertised on the network"
      actions={
        <button type="button" class="btn btn-primary" onClick={() => setShowForm(!showForm)}>
          {showForm ? 'Close' : '+ Publish a service'}
        </button>
      }
    >
      {services.error && <LoadError error={services.error} what="services" retry={services.reload} />}
      {showForm && <PublishForm onDone={reload} />}
      {!services.data && !services.error && <Loading />}
      {services.data && (
        <>
          <h2 class="section-title">
            Published by this node <span class="count">{own.length}</span>
          </h2>
          {own.length === 0 ? (
            <Empty
              icon="services"
              title="No services yet — publish one"
              action={
                !showForm && (
                  <button type="button" class="btn btn-primary" onClick={() => setShowForm(true)}>
                    Publish a service
                  </button>
                )
              }
            >
              A service makes something on this machine (a web app, SSH, a SOCKS proxy) reachable to the
              wallets you allow — no open ports, no VPN server.
            </Empty>
          ) : (
            <ServiceTable list={own} grantIds={grantIds} reload={reload} />
          )}
          <h2 class="section-title">
            Reachable on the network <span class="count">{remote.length}</span>
          </h2>
          {remote.length === 0 ? (
            <Empty icon="search" title="No other services found">
              Services published by other nodes appear here once this node has found their hosts.
            </Empty>
          ) : (
            <ServiceTable list={remote} grantIds={grantIds} reload={reload} />
          )}
        </>
      )}
    </Page>
  );
}
