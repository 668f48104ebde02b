/**
 * Typed client of the node's management API: openapi-fetch over the types generated from the node's
 * OpenAPI document (@dibs/api-types), so a route change that breaks the UI fails the type check.
 * Browser-only: fetch with a bearer token; the event stream is read with fetch so the token
 * travels in a header, never in a URL.
 */

import type {
  AllowlistChange,
  ApiEvents,
  CreateOrg,
  LogLevel,
  PublishService,
  StartProxy,
  UpdatePolicy,
  paths,
} from '@dibs/api-types';
import createClient, { type Client } from 'openapi-fetch';

export type {
  ApiEvents,
  AuditRecord,
  Balance,
  ChainStatus,
  ChainTrust,
  ChangedResource,
  Connection,
  FleetNode,
  Grant,
  Identity,
  LogEntry,
  LogLevel,
  OrgDetails,
  OrgGrant,
  OrgRole,
  OrgService,
  OrgSummary,
  Peer,
  PublishPolicy,
  PublishService,
  Service,
  ServicePolicy,
  ServicePolicyInfo,
  ServiceType,
  Session,
  SocksProxy,
  StartProxy,
  UpdatePolicy,
  VpnSession,
  VpnStatus,
} from '@dibs/api-types';
export type Address = `0x${string}`;

/** The API answered with an error body; `message` is meant for people. */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The node could not be reached at all (stopped, restarting, wrong address). */
export class ApiUnreachableError extends Error {
  override name = 'ApiUnreachableError';
  readonly code = 'UNREACHABLE';
}

const TOKEN_KEY = 'dibs.apiToken';

/**
 * Takes `#token=…` from the address (the node prints that URL at start-up), keeps it for this tab
 * only, and removes it from the address bar and history.
 */
export function adoptTokenFromLocation(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
    history.replaceState(history.state, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Stores a token typed in by the user. */
export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

/** Forgets the token (after a 401). */
export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Typed calls to every route the UI uses. */
export class ApiClient {
  readonly token: string;
  readonly base: string;
  constructor(token: string, base = '') {
    this.token = token;
    this.base = base;
    this.client = createClient<paths>({
      baseUrl: base || window.location.origin,
      headers: { authorization: `Bearer ${token}` },
    });
  }

  private readonly client: Client<paths>;

  /** Awaits an openapi-fetch call: its data, or a typed error a page can show. */
  private async call<T>(
    request: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  ): Promise<T> {
    let result: { data?: T; error?: unknown; response: Response };
    try {
      result = await request();
    } catch {
      throw new ApiUnreachableError('The node is not answering. Is it running? Start it with `dibs up`.');
    }
    const { response } = result;
    if (response.status === 204) return undefined as T;
    if (!response.ok) {
      const err = (result.error as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiRequestError(
        response.status,
        err?.code ?? 'HTTP_ERROR',
        err?.message ?? `The node answered ${response.status}.`,
      );
    }
    return result.data as T;
  }

  private readonly byId = (id: string) => ({ params: { path: { id } } });

  identity = () => this.call(() => this.client.GET('/api/v1/identity'));
  chain = () => this.call(() => this.client.GET('/api/v1/chain'));
  balance = () => this.call(() => this.client.GET('/api/v1/balance'));
  proxies = async () => (await this.call(() => this.client.GET('/api/v1/proxies'))).proxies;
  startProxy = (input: StartProxy) => this.call(() => this.client.POST('/api/v1/proxies', { body: input }));
  stopProxy = (id: string) => this.call(() => this.client.DELETE('/api/v1/proxies/{id}', this.byId(id)));
  peers = async () => (await this.call(() => this.client.GET('/api/v1/peers'))).peers;
  services = async () => (await this.call(() => this.client.GET('/api/v1/services'))).services;
  publishService = (input: PublishService) =>
    this.call(() => this.client.POST('/api/v1/services', { body: input }));
  retireService = (id: string) => this.call(() => this.client.DELETE('/api/v1/services/{id}', this.byId(id)));
  servicePolicy = (id: string) =>
    this.call(() => this.client.GET('/api/v1/services/{id}/policy', this.byId(id)));
  updatePolicy = (id: string, body: UpdatePolicy) =>
    this.call(() => this.client.PATCH('/api/v1/services/{id}/policy', { ...this.byId(id), body }));
  changeAllowlist = (id: string, body: AllowlistChange) =>
    this.call(() => this.client.POST('/api/v1/services/{id}/allowlist', { ...this.byId(id), body }));
  fleet = async () => (await this.call(() => this.client.GET('/api/v1/fleet'))).nodes;
  setNodeLabel = (address: string, label: string) =>
    this.call(() =>
      this.client.PUT('/api/v1/fleet/{address}/label', { params: { path: { address } }, body: { label } }),
    );
  grants = async () => (await this.call(() => this.client.GET('/api/v1/grants'))).grants;
  requestGrant = (serviceId: string) =>
    this.call(() => this.client.POST('/api/v1/grants', { body: { serviceId } }));
  revokeGrant = (id: string) => this.call(() => this.client.DELETE('/api/v1/grants/{id}', this.byId(id)));
  sessions = async () => (await this.call(() => this.client.GET('/api/v1/sessions'))).sessions;
  vpn = () => this.call(() => this.client.GET('/api/v1/vpn'));
  connect = (serviceId: string, localPort?: number) =>
    this.call(() =>
      this.client.POST('/api/v1/connections', {
        body: localPort ? { serviceId, localPort } : { serviceId },
      }),
    );
  disconnect = (id: string) => this.call(() => this.client.DELETE('/api/v1/connections/{id}', this.byId(id)));
  orgs = async (mine = false) =>
    (await this.call(() => this.client.GET('/api/v1/orgs', { params: { query: mine ? { mine } : {} } })))
      .organizations;
  org = (id: string) => this.call(() => this.client.GET('/api/v1/orgs/{id}', this.byId(id)));
  createOrg = (input: CreateOrg) => this.call(() => this.client.POST('/api/v1/orgs', { body: input }));
  orgServices = async (id: string) =>
    (await this.call(() => this.client.GET('/api/v1/orgs/{id}/services', this.byId(id)))).services;
  orgGrants = async (id: string) =>
    (await this.call(() => this.client.GET('/api/v1/orgs/{id}/grants', this.byId(id)))).grants;
  /** Adds (`present`) or removes a member or a node of an organization; admin only. */
  setOrgRole = (id: string, role: 'member' | 'node', address: string, present: boolean) => {
    const path = { params: { path: { id, address } } };
    if (role === 'member') {
      return present
        ? this.call(() =>
            this.client.POST('/api/v1/orgs/{id}/members', { ...this.byId(id), body: { address } }),
          )
        : this.call(() => this.client.DELETE('/api/v1/orgs/{id}/members/{address}', path));
    }
    return present
      ? this.call(() => this.client.POST('/api/v1/orgs/{id}/nodes', { ...this.byId(id), body: { address } }))
      : this.call(() => this.client.DELETE('/api/v1/orgs/{id}/nodes/{address}', path));
  };
  audit = async (query: { since?: number; service?: string; limit?: number } = {}) =>
    (await this.call(() => this.client.GET('/api/v1/audit', { params: { query } }))).records;
  logs = async (limit = 200, level?: LogLevel) =>
    (
      await this.call(() =>
        this.client.GET('/api/v1/logs', { params: { query: level ? { limit, level } : { limit } } }),
      )
    ).entries;

  /**
   * Follows GET /api/v1/events, reconnecting with back-off; `onStatus` reports whether the stream is
   * live. Returns a function that stops it.
   */
  events(
    onEvent: <K extends keyof ApiEvents>(event: K, data: ApiEvents[K]) => void,
    onStatus: (live: boolean, error?: Error) => void,
  ): () => void {
    const stop = new AbortController();
    const run = async () => {
      let delay = 1000;
      while (!stop.signal.aborted) {
        try {
          const res = await fetch(`${this.base}/api/v1/events`, {
            headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
            signal: stop.signal,
          }).catch((err: unknown) => {
            if (stop.signal.aborted) throw err;
            throw new ApiUnreachableError(
              'The node is not answering. Is it running? Start it with `dibs up`.',
            );
          });
          if (!res.ok || !res.body) {
            const body = (await res.json().catch(() => undefined)) as
              | { error?: { code: string; message: string } }
              | undefined;
            throw new ApiRequestError(
              res.status,
              body?.error?.code ?? 'HTTP_ERROR',
              body?.error?.message ?? `events: ${res.status}`,
            );
          }
          onStatus(true);
          delay = 1000;
          await readStream(res.body, onEvent);
          onStatus(false);
        } catch (err) {
          if (stop.signal.aborted) return;
          onStatus(false, err instanceof Error ? err : new Error(String(err)));
          if (err instanceof ApiRequestError && err.status === 401) return;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 15_000);
      }
    };
    void run();
    return () => stop.abort();
  }
}

/** Largest single event the UI buffers; anything bigger means a broken stream. */
const MAX_EVENT_CHARS = 1024 * 1024;

async function readStream(
  body: ReadableStream<Uint8Array>,
  onEvent: <K extends keyof ApiEvents>(event: K, data: ApiEvents[K]) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    if (buffer.length > MAX_EVENT_CHARS) throw new Error('event stream sent an oversized event');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = '';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (event && data) {
        try {
          onEvent(event as keyof ApiEvents, JSON.parse(data));
        } catch {
          // A malformed event is skipped; the next list refresh repairs any state it would have changed.
        }
      }
      end = buffer.indexOf('\n\n');
    }
  }
}
