/**
 * What an operator watches on a running node: the metrics' counters and gauges wired to the node's
 * parts, a log line for every grant event, session start and end, refusal and relay change, and the
 * readiness report of GET /readyz. Sessions are followed by diffing the services' session list every
 * OPERATIONS_POLL_MS (the tunnel keeps no history), so a session's end is seen within that period and
 * its bytes are those counted at its last sighting.
 */
import { transactionQueueFor } from '@dibs/chain';
import type { NodeMetrics } from '@dibs/observe';
import type { SessionView } from '../services/types.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import { OPERATIONS_POLL_MS, READY_CHAIN_TIMEOUT_MS } from './constants.ts';
import type { Logger } from './log.ts';
import type { NetworkRuntime } from './network.ts';

/** What the node's parts report to, besides the log: metrics and (optionally) the audit trail. */
export interface OperationsSinks {
  metrics: NodeMetrics;
  /** Called for every grant event, session start/end and refusal (the audit trail). */
  record?: (event: OperationsEvent) => void;
}

/** One thing worth keeping a record of. */
export type OperationsEvent =
  | {
      kind: 'grant';
      action: 'issued' | 'revoked';
      /** Unix ms: the grant's issue time on chain, or when the revocation was seen. */
      at: number;
      grantId: string;
      serviceId: string;
      serviceName: string | null;
      grantee: string | null;
    }
  | { kind: 'session-start'; session: SessionView }
  | { kind: 'session-end'; session: SessionView; endedAt: number }
  | {
      kind: 'refusal';
      peer: string;
      by: 'us' | 'remote';
      code: string;
      reason: string;
      /** A tunnel refusal names the service when the ticket got that far. */
      serviceId?: string;
    };

/** The answer of GET /readyz. */
export interface ReadyReport {
  ready: boolean;
  checks: { chain: boolean; network: boolean | null; api: boolean };
}

/** The running wiring; `stop()` removes every timer and listener. */
export interface Operations {
  ready(): Promise<ReadyReport>;
  stop(): void;
}

/** Wires metrics sources, event counters and the event log lines onto a running node. */
export function startOperations(params: {
  chain: ChainRuntime;
  network: NetworkRuntime | undefined;
  log: Logger;
  sinks: OperationsSinks;
}): Operations {
  const { chain, network, sinks } = params;
  const { metrics } = sinks;
  const log = params.log.child('ops');
  const record = (event: OperationsEvent) => {
    try {
      sinks.record?.(event);
    } catch (err) {
      log.warn('could not record an audit event', { kind: event.kind, error: err as Error });
    }
  };
  const cleanups: Array<() => void> = [];
  const headBlock = async (): Promise<bigint | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        chain.clients.publicClient.getBlockNumber({ cacheTime: 0 }),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), READY_CHAIN_TIMEOUT_MS);
        }),
      ]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  };
  // The node's own writes (identity, roles, grants, publishing) share one queue per wallet and chain.
  const txQueue = chain.clients.account ? transactionQueueFor(chain.clients) : undefined;
  metrics.setSource('txQueueDepth', () => txQueue?.depth);
  metrics.setSource('txInFlight', () => txQueue?.inFlight);
  metrics.setSource('chainHeadBlock', async () => {
    const head = await headBlock();
    return head === undefined ? undefined : Number(head);
  });

  if (network) {
    const { host, cache } = network;
    const services = () => network.services;
    metrics.setSource('peers', () => host.admission.admittedPeers().length);
    metrics.setSource(
      'peersConnected',
      () => new Set(host.libp2p.getConnections().map((c) => c.remotePeer.toString())).size,
    );
    metrics.setSource('sessionsOpen', () => services()?.sessions().length);
    metrics.setSource('grantCacheGrants', () => cache.grantCount);
    metrics.setSource('grantCacheServices', () => cache.serviceCount);
    metrics.setSource('chainLagBlocks', async () => {
      const head = await headBlock();
      if (head === undefined || cache.syncedBlock < 0n) return undefined;
      return Number(head > cache.syncedBlock ? head - cache.syncedBlock : 0n);
    });
    metrics.setSource('relayReservations', () => {
      const relay = (host.libp2p.services as { relay?: { reservations?: { size: number } } }).relay;
      return relay?.reservations?.size;
    });

    host.admission.onAdmitted(() => metrics.admission());
    host.admission.onRefused((r) => {
      metrics.refusal(r.code);
      record({ kind: 'refusal', peer: r.peer, by: r.by, code: r.code, reason: r.reason });
    });
    // Tunnels refused or ended on chain state (a revoked grant, an account off the allowlist).
    cleanups.push(
      network.services.onRefused((r) => {
        metrics.refusal(r.code);
        record({
          kind: 'refusal',
          peer: r.peer,
          by: 'us',
          code: r.code,
          reason: r.reason,
          ...(r.serviceId !== undefined ? { serviceId: r.serviceId.toString() } : {}),
        });
      }),
    );

    cleanups.push(
      cache.subscribe((event) => {
        if (event.type !== 'grantIssued' && event.type !== 'grantRevoked') return;
        const g = cache.grant(event.grantId);
        const action = event.type === 'grantRevoked' ? 'revoked' : 'issued';
        if (action === 'issued' && g?.revoked) return;
        const fields = {
          grantId: event.grantId.toString(),
          serviceId: event.serviceId.toString(),
          grantee: g?.grantee ?? null,
        };
        log.info(action === 'issued' ? 'grant issued' : 'grant revoked', fields);
        metrics.grantEvent(action);
        const issuedMs = g ? Number(g.issuedAt) * 1000 : Date.now();
        // Names are joined in by readers (the services list); the chain event carries none.
        const serviceName = null;
        record({
          kind: 'grant',
          action,
          at: action === 'issued' ? issuedMs : Date.now(),
          serviceName,
          ...fields,
        });
      }),
    );

    // Relay change: the circuit addresses this node can be reached through.
    let relays = '';
    const onSelfUpdate = () => {
      const now = [
        ...new Set(
          host
            .multiaddrs()
            .map((a) => a.toString())
            .filter((a) => a.includes('/p2p-circuit'))
            .map((a) => a.slice(0, a.indexOf('/p2p-circuit'))),
        ),
      ]
        .sort()
        .join(' ');
      if (now === relays) return;
      log.info(now ? 'relay changed' : 'relay dropped', {
        relays: now || 'none',
        previous: relays || 'none',
      });
      relays = now;
    };
    host.libp2p.addEventListener('self:peer:update', onSelfUpdate);
    cleanups.push(() => host.libp2p.removeEventListener('self:peer:update', onSelfUpdate));

    // Sessions: start and end seen by diffing the list.
    const open = new Map<string, SessionView>();
    const poll = () => {
      let list: SessionView[];
      try {
        list = services()?.sessions() ?? [];
      } catch {
        return;
      }
      const seen = new Set<string>();
      for (const s of list) {
        seen.add(s.id);
        if (!open.has(s.id)) {
          log.info('session started', sessionFields(s));
          metrics.sessionStarted(s.direction);
          record({ kind: 'session-start', session: s });
        }
        open.set(s.id, s);
      }
      for (const [id, s] of open) {
        if (seen.has(id)) continue;
        open.delete(id);
        log.info('session ended', { ...sessionFields(s), bytesIn: s.bytesIn, bytesOut: s.bytesOut });
        metrics.sessionEnded(s.direction, 'closed', s.bytesIn, s.bytesOut);
        record({ kind: 'session-end', session: s, endedAt: Date.now() });
      }
    };
    const timer = setInterval(poll, OPERATIONS_POLL_MS);
    timer.unref();
    cleanups.push(() => {
      clearInterval(timer);
      poll();
    });
  }

  return {
    async ready() {
      const chainOk = (await headBlock()) !== undefined;
      const status = network?.status();
      const networkOk = network ? status?.leftNetwork === undefined : null;
      return {
        ready: chainOk && networkOk !== false,
        checks: { chain: chainOk, network: networkOk, api: true },
      };
    },
    stop() {
      for (const c of cleanups.splice(0).reverse()) c();
      for (const name of [
        'peers',
        'peersConnected',
        'sessionsOpen',
        'grantCacheGrants',
        'grantCacheServices',
        'chainLagBlocks',
        'relayReservations',
        'chainHeadBlock',
        'txQueueDepth',
        'txInFlight',
      ] as const)
        metrics.setSource(name, undefined);
    },
  };
}

function sessionFields(s: SessionView): Record<string, unknown> {
  return {
    session: s.id,
    serviceId: s.serviceId.toString(),
    service: s.serviceName,
    peer: s.peerId,
    direction: s.direction,
    path: s.path,
  };
}
