/**
 * A service's policy, edited in place: who may request access (public, allowlist, organization,
 * organization network, token holders with their token and threshold), the price, and the allowlist's
 * entries one by one. Every
 * change is a transaction from this node's wallet (the owner); the chain's answer is shown as it is.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Service, ServicePolicy, ServicePolicyInfo, UpdatePolicy } from '../api.ts';
import { ActionButton, Banner, Loading } from '../components.tsx';
import { shortHex, tokenAmount } from '../format.ts';
import { useNames } from '../names.ts';
import { useApp } from '../store.ts';

const POLICIES: { value: ServicePolicy; label: string }[] = [
  { value: 'public', label: 'Public — anyone who pays' },
  { value: 'allowlist', label: 'Allowlist' },
  { value: 'organization', label: 'Organization members' },
  { value: 'organization-network', label: 'Organization members and nodes' },
  { value: 'token-holders', label: 'Token holders' },
];

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function PolicyEditor(props: { service: Service; onChanged: () => void }) {
  const { client, notify } = useApp();
  const names = useNames();
  const s = props.service;
  const [info, setInfo] = useState<ServicePolicyInfo | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [form, setForm] = useState({
    policy: s.policy,
    organizationId: '',
    holderToken: '',
    tokenThreshold: '',
    price: s.price,
  });
  const [adding, setAdding] = useState('');

  const adopt = (p: ServicePolicyInfo) => {
    setInfo(p);
    setForm({
      policy: p.policy,
      organizationId: p.organizationId ?? '',
      holderToken: p.holderToken ?? '',
      tokenThreshold: p.holderThreshold ?? '',
      price: p.price,
    });
  };
  useEffect(() => {
    client.servicePolicy(s.id).then(adopt, (err: Error) => setError(err.message));
  }, [s.id]);

  /** Runs a change; the chain's refusal is shown in the editor and in the page banner. */
  const run = async (fn: () => Promise<ServicePolicyInfo>, ok: string) => {
    setError(undefined);
    try {
      adopt(await fn());
      notify('success', ok);
      props.onChanged();
    } catch (err) {
      setError((err as Error).message);
      notify('error', (err as Error).message);
    }
  };

  if (!info) return error ? <Banner kind="error">{error}</Banner> : <Loading />;
  const set = (k: keyof typeof form) => (e: Event) =>
    setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const change = (): UpdatePolicy => {
    const body: UpdatePolicy = { policy: form.policy };
    if (form.price !== info.price) body.price = form.price.trim();
    if (form.policy === 'organization' || form.policy === 'organization-network')
      body.organizationId = form.organizationId.trim();
    if (form.policy === 'token-holders' && form.holderToken.trim())
      body.holderToken = form.holderToken.trim();
    const threshold = form.tokenThreshold.trim();
    if (form.policy === 'token-holders' && threshold && threshold !== info.holderThreshold)
      body.tokenThreshold = threshold;
    return body;
  };
  return (
    <section class="policy-editor" aria-label={`Policy of ${s.name}`}>
      {error && (
        <div style={{ gridColumn: '1 / -1' }}>
          <Banner kind="error" title="The change did not go through" onClose={() => setError(undefined)}>
            {error}
          </Banner>
        </div>
      )}
      <form
        class="form"
        aria-label={`Terms of ${s.name}`}
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => client.updatePolicy(s.id, change()), `Policy of “${s.name}” updated on chain.`);
        }}
      >
        <h3>Who may request access</h3>
        <label>
          <span class="label">Policy</span>
          <select class="input" name="policy" value={form.policy} onChange={set('policy')}>
            {POLICIES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        {(form.policy === 'organization' || form.policy === 'organization-network') && (
          <label>
            <span class="label">Organization id</span>
            <input
              class="input mono"
              name="organizationId"
              inputMode="numeric"
              required
              value={form.organizationId}
              onInput={set('organizationId')}
            />
          </label>
        )}
        {form.policy === 'token-holders' && (
          <label>
            <span class="label">Token holders must hold (ERC-20)</span>
            <input
              class="input mono"
              name="holderToken"
              placeholder="0x… ERC-20 address"
              required={info.policy !== 'token-holders'}
              value={form.holderToken}
              onInput={set('holderToken')}
            />
          </label>
        )}
        {form.policy === 'token-holders' && (
          <label>
            <span class="label">
              At least (in the token’s units)
              {info.holderThreshold !== null &&
                ` · now ${info.holderThreshold} = ${info.holderThresholdBaseUnits} base unit${info.holderThresholdBaseUnits === '1' ? '' : 's'}`}
            </span>
            <input
              class="input mono"
              name="tokenThreshold"
              inputMode="decimal"
              pattern="\d+(\.\d+)?"
              placeholder="e.g. 2.5 (empty: one base unit)"
              value={form.tokenThreshold}
              onInput={set('tokenThreshold')}
            />
          </label>
        )}
        <label>
          <span class="label">Price (wei) · now {tokenAmount(info.price)}</span>
          <input
            class="input mono"
            name="price"
            inputMode="numeric"
            value={form.price}
            onInput={set('price')}
          />
        </label>
        <button class="btn btn-primary btn-small" type="submit">
          Save policy
        </button>
      </form>
      <div>
        <h3>
          Allowlist <span class="count">{info.allowlist.length}</span>
          {info.policy !== 'allowlist' && <span class="muted small"> (used by the allowlist policy)</span>}
        </h3>
        <ul class="allowlist" aria-label={`Allowlist of ${s.name}`}>
          {info.allowlist.length === 0 && <li class="muted">nobody</li>}
          {info.allowlist.map((a) => (
            <li key={a} data-address={a.toLowerCase()}>
              <span>
                <span class="strong">{names.label(a) ?? shortHex(a)}</span>{' '}
                <span class="sub mono" title={a}>
                  {names.label(a) ? shortHex(a) : ''}
                </span>
              </span>
              <ActionButton
                small
                kind="danger"
                label={`Remove ${a} from ${s.name}`}
                onClick={() =>
                  run(
                    () => client.changeAllowlist(s.id, { remove: [a] }),
                    `Removed ${names.of(a)} from the allowlist of “${s.name}”; its live tunnels end.`,
                  )
                }
              >
                Remove
              </ActionButton>
            </li>
          ))}
        </ul>
        <form
          class="inline-edit"
          aria-label={`Add to the allowlist of ${s.name}`}
          onSubmit={(e) => {
            e.preventDefault();
            const list = adding.split(/[\s,]+/).filter(Boolean);
            const bad = list.find((a) => !ADDRESS.test(a));
            if (list.length === 0 || bad) {
              setError(
                bad
                  ? `“${bad}” is not an address: use 0x followed by 40 hex digits.`
                  : 'Type an address to add.',
              );
              return;
            }
            void run(
              () => client.changeAllowlist(s.id, { add: list }),
              `Added ${list.length === 1 ? names.of(list[0]) : `${list.length} accounts`} to the allowlist of “${s.name}”.`,
            ).then(() => setAdding(''));
          }}
        >
          <input
            class="input input-small mono"
            aria-label="Address to allow"
            placeholder="0x…"
            value={adding}
            onInput={(e) => setAdding((e.target as HTMLInputElement).value)}
          />
          <button class="btn btn-small" type="submit">
            Add
          </button>
        </form>
      </div>
    </section>
  );
}
