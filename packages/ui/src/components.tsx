/** Shared building blocks: page frame, banners, empty states, tables, badges, buttons. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiUnreachableError } from './api.ts';
import { Icon, type IconName } from './icons.tsx';

/** Title row plus content of one page. */
export function Page(props: {
  title: string;
  subtitle?: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="page">
      <header class="page-head">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle && <p class="muted">{props.subtitle}</p>}
        </div>
        {props.actions && <div class="page-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

/** A message across the top of the content: errors from the API, confirmations of actions. */
export function Banner(props: {
  kind: 'error' | 'success' | 'info';
  title?: string;
  children: ComponentChildren;
  onClose?: () => void;
  action?: ComponentChildren;
}) {
  return (
    <div class={`banner banner-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      <span class="banner-icon" aria-hidden="true">
        {props.kind === 'error' ? '!' : props.kind === 'success' ? '✓' : 'i'}
      </span>
      <div class="banner-body">
        {props.title && <strong>{props.title}</strong>}
        <div>{props.children}</div>
      </div>
      {props.action}
      {props.onClose && (
        <button type="button" class="banner-close" aria-label="Dismiss" onClick={props.onClose}>
          ×
        </button>
      )}
    </div>
  );
}

/** A load failure shown as a banner a person can act on. */
export function LoadError(props: { error: Error; what: string; retry: () => void }) {
  const unreachable = props.error instanceof ApiUnreachableError;
  return (
    <Banner
      kind="error"
      title={unreachable ? 'Cannot reach the node' : `Could not load ${props.what}`}
      action={
        <button type="button" class="btn btn-small" onClick={props.retry}>
          Retry
        </button>
      }
    >
      {props.error.message}
    </Banner>
  );
}

/** What a page shows when a list is empty: what it means and what to do. */
export function Empty(props: {
  icon: IconName;
  title: string;
  children?: ComponentChildren;
  action?: ComponentChildren;
}) {
  return (
    <div class="empty">
      <div class="empty-icon" aria-hidden="true">
        <Icon name={props.icon} size={26} />
      </div>
      <h2>{props.title}</h2>
      {props.children && <p class="muted">{props.children}</p>}
      {props.action}
    </div>
  );
}

/** Placeholder rows while the first answer is on its way. */
export function Loading() {
  return (
    <div class="card loading" aria-busy="true">
      <div class="skeleton" />
      <div class="skeleton" />
      <div class="skeleton short" />
    </div>
  );
}

/** A small coloured label. */
export function Badge(props: {
  tone: 'green' | 'blue' | 'amber' | 'red' | 'grey' | 'violet';
  children: ComponentChildren;
  title?: string;
}) {
  return (
    <span class={`badge badge-${props.tone}`} title={props.title}>
      {props.children}
    </span>
  );
}

/** A labelled value in a card. */
export function Field(props: { label: string; children: ComponentChildren; mono?: boolean }) {
  return (
    <div class="field">
      <div class="field-label">{props.label}</div>
      <div class={props.mono ? 'field-value mono' : 'field-value'}>{props.children}</div>
    </div>
  );
}

/** A value with a copy button (addresses, DIDs, PeerIds). */
export function Copyable(props: { value: string; display?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span class="copyable">
      <span class="mono" title={props.value}>
        {props.display ?? props.value}
      </span>
      <button
        type="button"
        class="copy"
        aria-label="Copy"
        onClick={() => {
          void navigator.clipboard?.writeText(props.value).then(() => {
            setCopied(true);
            setTimeout(() => setCopied(false), 1200);
          });
        }}
      >
        {copied ? 'copied' : 'copy'}
      </button>
    </span>
  );
}

/** A button that disables itself while its async action runs. */
export function ActionButton(props: {
  onClick: () => Promise<unknown>;
  children: ComponentChildren;
  kind?: 'primary' | 'danger' | 'ghost';
  small?: boolean;
  label?: string;
}) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      aria-label={props.label}
      class={`btn ${props.kind ? `btn-${props.kind}` : ''} ${props.small ? 'btn-small' : ''}`}
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await props.onClick();
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? '…' : props.children}
    </button>
  );
}

/** A statistic tile on the dashboard. */
export function Stat(props: {
  label: string;
  value: ComponentChildren;
  hint?: ComponentChildren;
  tone?: string;
}) {
  return (
    <div class={`stat ${props.tone ? `stat-${props.tone}` : ''}`}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.hint && <div class="stat-hint">{props.hint}</div>}
    </div>
  );
}
