/** App-wide live state: the API client, the event stream fan-out and per-session traffic history. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { type ApiClient, type ApiEvents, ApiRequestError, type ChangedResource } from './api.ts';

type Listener<K extends keyof ApiEvents> = (data: ApiEvents[K]) => void;

/** Fan-out of server events to whichever pages are mounted. */
export class EventBus {
  private readonly listeners: { [K in keyof ApiEvents]: Set<Listener<K>> } = {
    counters: new Set(),
    changed: new Set(),
    log: new Set(),
  };
  on<K extends keyof ApiEvents>(event: K, fn: Listener<K>): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }
  emit<K extends keyof ApiEvents>(event: K, data: ApiEvents[K]): void {
    for (const fn of this.listeners[event]) fn(data);
  }
}

/** One traffic sample of a session: cumulative byte counts at a time. */
export interface Sample {
  at: number;
  bytesIn: number;
  bytesOut: number;
}

/** Samples kept per session for the live chart. */
export const HISTORY_SAMPLES = 60;

/** Keeps the last samples of every session from `counters` events, across page changes. */
export class TrafficHistory {
  readonly samples = new Map<string, Sample[]>();
  add(event: ApiEvents['counters']): void {
    const live = new Set<string>();
    for (const s of event.sessions) {
      live.add(s.id);
      const list = this.samples.get(s.id) ?? [];
      list.push({ at: event.at, bytesIn: s.bytesIn, bytesOut: s.bytesOut });
      if (list.length > HISTORY_SAMPLES) list.splice(0, list.length - HISTORY_SAMPLES);
      this.samples.set(s.id, list);
    }
    for (const id of this.samples.keys()) if (!live.has(id)) this.samples.delete(id);
  }
}

/** What every page can reach. */
export interface AppContext {
  client: ApiClient;
  bus: EventBus;
  traffic: TrafficHistory;
  /** Shows a message in the page banner (errors from actions). */
  notify(kind: 'error' | 'success', message: string): void;
  /** Called when the API refuses the token. */
  unauthorized(message: string): void;
}

export const Ctx = createContext<AppContext | null>(null);

/** The app context; pages render only inside the provider. */
export function useApp(): AppContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error('useApp outside the app provider');
  return ctx;
}

/** State of a list loaded from the API. */
export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Loads `load()` on mount, again whenever the node announces a change of `resource`, and every
 * `pollMs` when given (values such as RTT or head block change without events).
 */
export function useResource<T>(
  resource: ChangedResource | null,
  load: () => Promise<T>,
  pollMs?: number,
): Resource<T> {
  const { bus, unauthorized } = useApp();
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    load().then(
      (data) => alive && setState({ data, error: undefined, loading: false }),
      (error: Error) => {
        if (!alive) return;
        if (error instanceof ApiRequestError && error.status === 401) unauthorized(error.message);
        setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
    return () => {
      alive = false;
    };
  }, [tick]);
  useEffect(() => {
    const off = bus.on('changed', (e) => {
      if (e.resource === resource) setTick((t) => t + 1);
    });
    const timer = pollMs ? setInterval(() => setTick((t) => t + 1), pollMs) : undefined;
    return () => {
      off();
      if (timer) clearInterval(timer);
    };
  }, [resource]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Re-renders every `ms` and returns the current time (countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
