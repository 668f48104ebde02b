/**
 * The node's Prometheus metrics (prom-client): counters the node's parts increment as things happen
 * (admissions, refusals by reason, sessions and their bytes), and gauges read from the running parts
 * at scrape time through named sources the daemon sets (peers, open sessions, grant-cache size, chain
 * lag, relay reservations, transaction queue depth).
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { METRIC_PREFIX, METRIC_SOURCE_TIMEOUT_MS, PROMETHEUS_CONTENT_TYPE } from './constants.ts';
import { ObserveError } from './errors.ts';

/** Gauges read at scrape time; each source returns the current value (or undefined: not known now). */
export const GAUGE_SOURCES = {
  peers: 'Connected peers this node admitted',
  peersConnected: 'Peers with an open connection (admitted or not)',
  sessionsOpen: 'Open tunnel, proxy and login sessions',
  grantCacheGrants: 'Grants held in the grant cache (fed from chain events)',
  grantCacheServices: 'Services held in the grant cache',
  chainHeadBlock: 'Head block of the chain as last read',
  chainLagBlocks: 'Blocks the chain mirror is behind the chain head',
  relayReservations: 'Circuit-relay reservations this node holds for others (relay role)',
  txQueueDepth: "Chain transactions of this node's wallet waiting in its queue to be sent",
  txInFlight: "Chain transactions of this node's wallet sent and awaiting their receipt",
} as const;

/** Names of the scrape-time gauges. */
export type GaugeSource = keyof typeof GAUGE_SOURCES;

/** How a session ended, for the sessions counter. */
export type SessionOutcome = 'closed' | 'refused' | 'failed' | 'revoked';

/** The node's metrics: increment the counters, set the gauge sources, scrape with `text()`. */
export interface NodeMetrics {
  readonly registry: Registry;
  admission(): void;
  refusal(reason: string): void;
  sessionStarted(direction: 'inbound' | 'outbound'): void;
  sessionEnded(
    direction: 'inbound' | 'outbound',
    outcome: SessionOutcome,
    bytesIn: number,
    bytesOut: number,
  ): void;
  grantEvent(kind: 'issued' | 'revoked'): void;
  /** Sets (or with undefined removes) the function a scrape reads gauge `name` from. */
  setSource(
    name: GaugeSource,
    source: (() => number | undefined | Promise<number | undefined>) | undefined,
  ): void;
  /** The Prometheus text exposition of every metric. */
  text(): Promise<string>;
  readonly contentType: string;
}

/** Options of {@link createNodeMetrics}. */
export interface NodeMetricsOptions {
  /** Also export Node.js process metrics (CPU, RSS, heap, event loop lag); default true. */
  processMetrics?: boolean;
}

/** Bounds a label value (reasons come from peers and errors: never let them grow the series). */
function label(text: string): string {
  const t = text.replace(/[^A-Za-z0-9_:.-]/g, '_').slice(0, 48);
  return t || 'unknown';
}

/** Creates a registry with every DIBS metric. */
export function createNodeMetrics(options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const sources = new Map<GaugeSource, () => number | undefined | Promise<number | undefined>>();

  const admissions = new Counter({
    name: `${METRIC_PREFIX}admissions_total`,
    help: 'Peers admitted to the network after their ticket checked out',
    registers: [registry],
  });
  const refusals = new Counter({
    name: `${METRIC_PREFIX}refusals_total`,
    help: 'Admissions and sessions refused, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const sessionsStarted = new Counter({
    name: `${METRIC_PREFIX}sessions_started_total`,
    help: 'Sessions started, by direction',
    labelNames: ['direction'],
    registers: [registry],
  });
  const sessionsEnded = new Counter({
    name: `${METRIC_PREFIX}sessions_ended_total`,
    help: 'Sessions ended, by direction and outcome',
    labelNames: ['direction', 'outcome'],
    registers: [registry],
  });
  const bytes = new Counter({
    name: `${METRIC_PREFIX}session_bytes_total`,
    help: 'Bytes carried by ended sessions, by direction of the data (in: received, out: sent)',
    labelNames: ['direction'],
    registers: [registry],
  });
  const grants = new Counter({
    name: `${METRIC_PREFIX}grant_events_total`,
    help: 'Grant events seen on chain, by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const [name, help] of Object.entries(GAUGE_SOURCES) as [GaugeSource, string][]) {
    const metric = snake(name);
    new Gauge({
      name: `${METRIC_PREFIX}${metric}`,
      help,
      registers: [registry],
      async collect() {
        const source = sources.get(name);
        this.reset();
        if (!source) return;
        const value = await withTimeout(source);
        if (value !== undefined && Number.isFinite(value)) this.set(value);
      },
    });
  }
  bytes.inc({ direction: 'in' }, 0);
  bytes.inc({ direction: 'out' }, 0);
  admissions.inc(0);

  return {
    registry,
    contentType: PROMETHEUS_CONTENT_TYPE,
    admission: () => admissions.inc(),
    refusal: (reason) => refusals.inc({ reason: label(reason) }),
    sessionStarted: (direction) => sessionsStarted.inc({ direction }),
    sessionEnded(direction, outcome, bytesIn, bytesOut) {
      sessionsEnded.inc({ direction, outcome });
      if (bytesIn > 0) bytes.inc({ direction: 'in' }, bytesIn);
      if (bytesOut > 0) bytes.inc({ direction: 'out' }, bytesOut);
    },
    grantEvent: (kind) => grants.inc({ kind }),
    setSource(name, source) {
      if (!(name in GAUGE_SOURCES)) {
        throw new ObserveError(
          'UNKNOWN_METRIC_SOURCE',
          `no gauge named ${name}`,
          `use one of ${Object.keys(GAUGE_SOURCES).join(', ')}`,
        );
      }
      if (source) sources.set(name, source);
      else sources.delete(name);
    },
    text: () => registry.metrics(),
  };
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

async function withTimeout(
  source: () => number | undefined | Promise<number | undefined>,
): Promise<number | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(source),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), METRIC_SOURCE_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
