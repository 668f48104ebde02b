/**
 * Typed client of the node's management API (GET /api/v1/openapi.json documents the same routes).
 * Browser-only: fetch with a bearer token; the event stream is read with fetch so the token
 * travels in a header, never in a URL.
 */

export type Address = `0x${string}`;
export type ServicePolicy =
  | 'public'
  | 'allowlist'
  | 'organization'
  | 'organization-network'
  | 'token-holders';
export type ServiceType = 'tcp' | 'http' | 'vpn';
export type PublishPolicy = 'public' | 'allowlist' | 'organization';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type ChangedResource =
  | 'identity'
  | 'chain'
  | 'balance'
  | 'peers'
  | 'services'
  | 'grants'
  | 'sessions'
  | 'proxies';

/** GET /api/v1/identity */
export interface Identity {
  address: string;
  did: string;
  peerId: string;
  version: string;
  startedAt: number;
  listenAddresses: string[];
}

/** GET /api/v1/chain */
export interface ChainStatus {
  rpcUrl: string;
  chainId: number;
  embedded: boolean;
  reachable: boolean;
  headBlock: number | null;
  headTime: number | null;
  contracts: { name: string; address: string }[];
  /** The chain mirror's lag; null without the p2p network. Not fresh = tickets refused (CHAIN_STALE). */
  view: {
    state: 'fresh' | 'stale' | 'closing';
    code: 'CHAIN_STALE' | null;
    headBlock: number | null;
    syncedBlock: number;
    lagBlocks: number;
    lagMs: number;
    reason: string | null;
  } | null;
  /** How the node trusts its chain (absent without the p2p network). */
  trust?: ChainTrust;
}

/** Full node (believes its chain, signs checkpoints) or light node (admits on proven state only). */
export interface ChainTrust {
  mode: 'full' | 'light';
  checkpoint: { number: string; blockHash: string; stateRoot: string } | null;
  signers: string[];
  nodeSet: string[];
  required: number;
  lastRefusal: string | null;
  refusedCount: number;
  refusedAnswers: { at: number; url: string; what: string; code: string; reason: string }[];
}

/** GET /api/v1/balance: amounts in the smallest unit, as decimal strings */
export interface Balance {
  address: string;
  native: string;
  nativeSymbol: string;
  token: { address: string; symbol: string; decimals: number; balance: string };
}

/** One entry of GET /api/v1/peers */
export interface Peer {
  peerId: string;
  address: string | null;
  connected: boolean;
  path: 'direct' | 'relayed';
  relay: string | null;
  rttMs: number | null;
  roles: ('bootstrap' | 'relay' | 'service-host')[];
  remoteAddress: string | null;
  since: number | null;
}

/** One entry of GET /api/v1/services */
export interface Service {
  id: string;
  name: string;
  type: string;
  owner: string;
  own: boolean;
  host: string | null;
  target: string | null;
  price: string;
  token: string | null;
  policy: ServicePolicy;
  active: boolean;
  reachable: boolean;
  connection: { id: string; localAddress: string } | null;
}

/** Body of POST /api/v1/services */
export interface PublishService {
  name: string;
  type: ServiceType;
  target?: string;
  allow?: string[];
  price?: string;
  policy?: PublishPolicy;
  allowlist?: string[];
  organizationId?: string;
}

/** One entry of GET /api/v1/grants */
export interface Grant {
  id: string;
  serviceId: string;
  serviceName: string;
  grantee: string;
  owner: string;
  role: 'holder' | 'owner';
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
}

/** One entry of GET /api/v1/sessions */
export interface Session {
  id: string;
  serviceId: string;
  serviceName: string;
  peerId: string;
  direction: 'inbound' | 'outbound';
  path: 'direct' | 'relayed';
  openedAt: number;
  bytesIn: number;
  bytesOut: number;
}

/** Answer of POST /api/v1/connections */
export interface Connection {
  id: string;
  serviceId: string;
  localAddress: string;
  sessionId: string | null;
}

/** One entry of GET /api/v1/proxies */
export interface SocksProxy {
  id: string;
  localAddress: string;
  openedAt: number;
  tunnels: number;
}

/** Body of POST /api/v1/proxies */
export interface StartProxy {
  listen?: string;
  via?: string;
}

/** One entry of GET /api/v1/logs */
export interface LogEntry {
  seq: number;
  time: string;
  level: LogLevel;
  component: string | null;
  message: string;
  fields: Record<string, string>;
}

/** Events of GET /api/v1/events */
export interface ApiEvents {
  counters: { at: number; sessions: { id: string; bytesIn: number; bytesOut: number }[] };
  changed: { resource: ChangedResource; id?: string };
  log: LogEntry;
}

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
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiUnreachableError('The node is not answering. Is it running? Start it with `dibs up`.');
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiRequestError(
        res.status,
        'BAD_ANSWER',
        `The node answered ${res.status} with something that is not JSON.`,
      );
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiRequestError(
        res.status,
        err?.code ?? 'HTTP_ERROR',
        err?.message ?? `The node answered ${res.status}.`,
      );
    }
    return json as T;
  }

  identity = () => this.call<Identity>('GET', '/api/v1/identity');
  chain = () => this.call<ChainStatus>('GET', '/api/v1/chain');
  balance = () => this.call<Balance>('GET', '/api/v1/balance');
  proxies = async () => (await this.call<{ proxies: SocksProxy[] }>('GET', '/api/v1/proxies')).proxies;
  startProxy = (input: StartProxy) => this.call<SocksProxy>('POST', '/api/v1/proxies', input);
  stopProxy = (id: string) => this.call<void>('DELETE', `/api/v1/proxies/${encodeURIComponent(id)}`);
  peers = async () => (await this.call<{ peers: Peer[] }>('GET', '/api/v1/peers')).peers;
  services = async () => (await this.call<{ services: Service[] }>('GET', '/api/v1/services')).services;
  publishService = (input: PublishService) => this.call<Service>('POST', '/api/v1/services', input);
  retireService = (id: string) => this.call<void>('DELETE', `/api/v1/services/${encodeURIComponent(id)}`);
  grants = async () => (await this.call<{ grants: Grant[] }>('GET', '/api/v1/grants')).grants;
  requestGrant = (serviceId: string) => this.call<Grant>('POST', '/api/v1/grants', { serviceId });
  revokeGrant = (id: string) => this.call<void>('DELETE', `/api/v1/grants/${encodeURIComponent(id)}`);
  sessions = async () => (await this.call<{ sessions: Session[] }>('GET', '/api/v1/sessions')).sessions;
  connect = (serviceId: string, localPort?: number) =>
    this.call<Connection>(
      'POST',
      '/api/v1/connections',
      localPort ? { serviceId, localPort } : { serviceId },
    );
  disconnect = (id: string) => this.call<void>('DELETE', `/api/v1/connections/${encodeURIComponent(id)}`);
  logs = async (limit = 200, level?: LogLevel) =>
    (
      await this.call<{ entries: LogEntry[] }>(
        'GET',
        `/api/v1/logs?limit=${limit}${level ? `&level=${level}` : ''}`,
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
