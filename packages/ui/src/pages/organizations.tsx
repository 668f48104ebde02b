/**
 * Organizations: a switcher over the organizations on chain (this node's first), and for the chosen
 * one its members, nodes, services, grants, token and fleet configuration; its admin adds and
 * removes members and nodes here.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { OrgDetails, OrgGrant, OrgService, OrgSummary } from '../api.ts';
import { ActionButton, Badge, Copyable, Empty, Field, LoadError, Loading, Page } from '../components.tsx';
import { duration, shortHex, tokenAmount, units } from '../format.ts';
import { type Resource, useApp, useNow, useResource } from '../store.ts';

const SELECTED_KEY = 'dibs.organization';
const ROLE_LABEL = { admin: 'admin', member: 'member', node: 'node' } as const;

/** The organization chosen in the switcher, kept across reloads of this tab. */
function useSelected(list: OrgSummary[] | undefined): [string | undefined, (id: string) => void] {
  const [id, setId] = useState<string | undefined>(() => sessionStorage.getItem(SELECTED_KEY) ?? undefined);
  const choose = (next: string) => {
    sessionStorage.setItem(SELECTED_KEY, next);
    setId(next);
  };
  useEffect(() => {
    if (!list || list.length === 0) return;
    if (!id || !list.some((o) => o.id === id)) choose((list.find((o) => o.role) ?? list[0]!).id);
  }, [list]);
  return [id, choose];
}

/** The organization switcher: yours first, by name. */
function Switcher(props: {
  list: OrgSummary[];
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  const mine = props.list.filter((o) => o.role);
  const others = props.list.filter((o) => !o.role);
  const option = (o: OrgSummary) => (
    <option key={o.id} value={o.id}>
      {o.name}
      {o.role ? ` · ${ROLE_LABEL[o.role]}` : ''}
    </option>
  );
  return (
    <label class="org-switcher">
      <span class="label">Organization</span>
      <select
        class="input"
        aria-label="Organization"
        value={props.selected ?? ''}
        onChange={(e) => props.onSelect((e.target as HTMLSelectElement).value)}
      >
        {mine.length > 0 && <optgroup label="Yours">{mine.map(option)}</optgroup>}
        {others.length > 0 && <optgroup label="Others">{others.map(option)}</optgroup>}
      </select>
    </label>
  );
}

function CreateForm(props: { onDone: (id: string) => void }) {
  const { client, notify } = useApp();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card form"
      aria-label="Create an organization"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        try {
          const org = await client.createOrg({ name: name.trim() });
          notify('success', `Created “${org.name}” with its own network and token; you are its admin.`);
          setName('');
          props.onDone(org.id);
        } catch (err) {
          notify('error', (err as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 class="card-title">Create an organization</h2>
      <div class="org-create-row">
        <label>
          <span class="label">Name</span>
          <input
            class="input"
            required
            maxLength={64}
            placeholder="e.g. Acme Labs"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <button class="btn btn-primary" type="submit" disabled={busy || !name.trim()}>
          {busy ? 'Creating… (3 transactions)' : 'Create'}
        </button>
      </div>
    </form>
  );
}

/** Who an address is, in words: you, the admin, a member, a node. */
function Who(props: { address: string; org: OrgDetails; self: string | undefined; omit?: string }) {
  const a = props.address.toLowerCase();
  const tags: string[] = [];
  if (props.self && a === props.self.toLowerCase()) tags.push('you');
  if (a === props.org.admin.toLowerCase()) tags.push('admin');
  if (props.org.members.some((m) => m.toLowerCase() === a)) tags.push('member');
  if (props.org.nodes.some((n) => n.toLowerCase() === a)) tags.push('node');
  return (
    <span class="who">
      <Copyable value={props.address} display={shortHex(props.address)} />
      {tags
        .filter((t) => t !== props.omit)
        .map((t) => (
          <Badge key={t} tone={t === 'you' ? 'violet' : t === 'admin' ? 'amber' : 'grey'}>
            {t}
          </Badge>
        ))}
    </span>
  );
}

/** Members or nodes, with add and remove for the admin. */
function RoleTable(props: {
  org: OrgDetails;
  kind: 'member' | 'node';
  self: string | undefined;
  reload: () => void;
}) {
  const { client, notify } = useApp();
  const [address, setAddress] = useState('');
  const list = props.kind === 'member' ? props.org.members : props.org.nodes;
  const admin = props.org.role === 'admin';
  const title = props.kind === 'member' ? 'Members' : 'Nodes';
  const change = async (target: string, present: boolean) => {
    try {
      await client.setOrgRole(props.org.id, props.kind, target, present);
      notify(
        'success',
        `${shortHex(target)} ${present ? 'added to' : 'removed from'} “${props.org.name}” as a ${props.kind}.`,
      );
      if (present) setAddress('');
      props.reload();
    } catch (err) {
      notify('error', (err as Error).message);
    }
  };
  return (
    <div class="card table-card" data-testid={`org-${props.kind}s`}>
      <h2 class="card-title">
        {title} <span class="count">{list.length}</span>
      </h2>
      {list.length === 0 ? (
        <p class="muted pad">No {props.kind}s yet.</p>
      ) : (
        <table class="table">
          <tbody>
            {list.map((m) => (
              <tr key={m}>
                <td>
                  <Who address={m} org={props.org} self={props.self} omit={props.kind} />
                </td>
                {admin && (
                  <td class="actions">
                    <ActionButton
                      small
                      kind="danger"
                      label={`Remove ${props.kind} ${m}`}
                      onClick={() => change(m, false)}
                    >
                      Remove
                    </ActionButton>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
        <form
          class="inline-form"
          aria-label={`Add a ${props.kind}`}
          onSubmit={(e) => {
            e.preventDefault();
            void change(address.trim(), true);
          }}
        >
          <input
            class="input mono"
            aria-label={`${props.kind} address`}
            placeholder="0x… wallet address"
            pattern="^0x[0-9a-fA-F]{40}$"
            required
            value={address}
            onInput={(e) => setAddress((e.target as HTMLInputElement).value)}
          />
          <button class="btn btn-small btn-primary" type="submit">
            Add {props.kind}
          </button>
        </form>
      )}
    </div>
  );
}

function price(s: OrgService, org: OrgDetails): string {
  if (s.price === '0') return 'Free';
  if (s.paymentToken.toLowerCase() === org.token.toLowerCase()) {
    return units(s.price, org.tokenInfo.decimals, org.tokenInfo.symbol || 'org token');
  }
  return tokenAmount(s.price);
}

/** A titled table of one organization's list: count, load error, loading, empty state, columns. */
function Listing<T>(props: {
  title: string;
  what: string;
  testId: string;
  list: Resource<T[]>;
  columns: string[];
  empty?: ComponentChildren;
  row: (item: T) => ComponentChildren;
}) {
  const { data, error, reload } = props.list;
  return (
    <>
      <h2 class="section-title">
        {props.title} <span class="count">{data?.length ?? '…'}</span>
      </h2>
      {error && <LoadError error={error} what={props.what} retry={reload} />}
      {!data && !error && <Loading />}
      {data &&
        (data.length === 0 && props.empty ? (
          props.empty
        ) : (
          <div class="card table-card" data-testid={props.testId}>
            <table class="table">
              <thead>
                <tr>
                  {props.columns.map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>{data.map(props.row)}</tbody>
            </table>
          </div>
        ))}
    </>
  );
}

function ServicesTable(props: { org: OrgDetails; self: string | undefined }) {
  const { client } = useApp();
  const services = useResource('organizations', () => client.orgServices(props.org.id));
  return (
    <Listing
      title="Services"
      what="services"
      testId="org-services"
      list={services}
      columns={['Service', 'Who may use it', 'Price', 'Owner', 'Status']}
      row={(s: OrgService) => (
        <tr key={s.id}>
          <td>
            <div class="strong">{s.name}</div>
            <div class="sub">
              {s.type} · service #{s.id}
            </div>
          </td>
          <td>
            {s.audience === 'network' ? (
              <Badge tone="blue">members and nodes (its network)</Badge>
            ) : (
              <Badge tone="green">members</Badge>
            )}
          </td>
          <td>{price(s, props.org)}</td>
          <td>
            <Who address={s.owner} org={props.org} self={props.self} />
          </td>
          <td>{s.active ? <Badge tone="green">active</Badge> : <Badge tone="grey">retired</Badge>}</td>
        </tr>
      )}
    />
  );
}

function GrantExpiry(props: { g: OrgGrant; now: number }) {
  if (props.g.revoked) return <Badge tone="red">revoked</Badge>;
  const left = props.g.expiresAt - props.now / 1000;
  if (left <= 0) return <Badge tone="grey">expired</Badge>;
  return <span>{duration(left)} left</span>;
}

function GrantsTable(props: { org: OrgDetails; self: string | undefined }) {
  const { client } = useApp();
  const grants = useResource('grants', () => client.orgGrants(props.org.id));
  const now = useNow(5000);
  return (
    <Listing
      title="Grants"
      what="grants"
      testId="org-grants"
      list={grants}
      columns={['Service', 'Granted to', 'Issued', 'Expires']}
      empty={
        <Empty icon="grants" title="No grants on its services yet">
          A member who requests access to one of the organization’s services shows up here.
        </Empty>
      }
      row={(g: OrgGrant) => (
        <tr key={g.id}>
          <td>
            <div class="strong">{g.serviceName || `service #${g.serviceId}`}</div>
          </td>
          <td>
            <Who address={g.grantee} org={props.org} self={props.self} />
          </td>
          <td class="nowrap">{new Date(g.issuedAt * 1000).toLocaleString()}</td>
          <td>
            <GrantExpiry g={g} now={now} />
          </td>
        </tr>
      )}
    />
  );
}

function OrganizationView(props: { id: string; self: string | undefined }) {
  const { client } = useApp();
  const org = useResource('organizations', () => client.org(props.id));
  if (org.error) return <LoadError error={org.error} what="the organization" retry={org.reload} />;
  if (!org.data) return <Loading />;
  const o = org.data;
  const env = Object.entries(o.env);
  return (
    <div data-testid="organization" data-org={o.id}>
      <div class="card">
        <h2 class="card-title">
          {o.name} {o.role ? <Badge tone="violet">you: {ROLE_LABEL[o.role]}</Badge> : null}
        </h2>
        <div class="fields fields-4">
          <Field label="Network label" mono>
            {o.networkLabel}
          </Field>
          <Field label="Admin">
            <Who address={o.admin} org={o} self={props.self} />
          </Field>
          <Field label="Token">
            {o.tokenInfo.symbol || 'token'} · <Copyable value={o.token} display={shortHex(o.token)} />
            <div class="sub">
              you hold {units(o.tokenInfo.balance, o.tokenInfo.decimals, o.tokenInfo.symbol)} of{' '}
              {units(o.tokenInfo.totalSupply, o.tokenInfo.decimals, o.tokenInfo.symbol)}
            </div>
          </Field>
          <Field label="Network service">
            {o.networkService ? `${o.networkService.name} · ${price(o.networkService, o)}` : 'none'}
          </Field>
        </div>
      </div>
      <div class="grid-2">
        <RoleTable org={o} kind="member" self={props.self} reload={org.reload} />
        <RoleTable org={o} kind="node" self={props.self} reload={org.reload} />
      </div>
      <ServicesTable org={o} self={props.self} />
      <GrantsTable org={o} self={props.self} />
      <h2 class="section-title">
        Fleet configuration <span class="count">{env.length}</span>
      </h2>
      {env.length === 0 ? (
        <p class="muted">No keys set. Its admin sets them with dibs org env set.</p>
      ) : (
        <div class="card table-card">
          <table class="table">
            <tbody>
              {env.map(([k, v]) => (
                <tr key={k}>
                  <td class="mono strong">{k}</td>
                  <td class="mono">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function OrganizationsPage() {
  const { client } = useApp();
  const orgs = useResource('organizations', () => client.orgs(), 30_000);
  const identity = useResource('identity', client.identity);
  const [selected, select] = useSelected(orgs.data);
  const [creating, setCreating] = useState(false);
  const self = identity.data?.address;
  return (
    <Page
      title="Organizations"
      subtitle="Each organization has its own network, token and services; its admin decides who is in"
      actions={
        <>
          {orgs.data && orgs.data.length > 0 && (
            <Switcher list={orgs.data} selected={selected} onSelect={select} />
          )}
          <button type="button" class="btn btn-primary" onClick={() => setCreating(!creating)}>
            {creating ? 'Cancel' : '+ Create'}
          </button>
        </>
      }
    >
      {creating && (
        <CreateForm
          onDone={(id) => {
            setCreating(false);
            select(id);
            orgs.reload();
          }}
        />
      )}
      {orgs.error && <LoadError error={orgs.error} what="organizations" retry={orgs.reload} />}
      {!orgs.data && !orgs.error && <Loading />}
      {orgs.data && orgs.data.length === 0 && !creating && (
        <Empty icon="orgs" title="No organizations yet">
          Create one here or with dibs org create; it gets its own network service and token.
        </Empty>
      )}
      {orgs.data && selected && orgs.data.some((o) => o.id === selected) && (
        <OrganizationView key={selected} id={selected} self={self} />
      )}
    </Page>
  );
}
