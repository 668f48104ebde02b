import type { ChainTrust, Session, SocksProxy } from '@dibs/api-types';
import { readRuntimeInfo } from '@dibs/node';
import { Command } from 'commander';
import { runningApi } from '../api-client.ts';
import { commandContext } from '../context.ts';
import { type ConnectListenerOut, listenerLine, sessionsOf } from './connect.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import type { VpnStatusOut } from './vpn.ts';

type SessionOut = Session;
type ProxyOut = SocksProxy;

/** `dibs status`: the node, its peers and its sessions with bytes each way. */
export function statusCommand(): Command {
  return new Command('status')
    .description('the running node: identity, peers, and tunnel sessions with bytes each way')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const info = readRuntimeInfo(ctx.paths.runtime);
      if (!info) {
        throw new CliError(
          'NOT_RUNNING',
          `no DIBS node runs for ${ctx.paths.root}`,
          'start one with `dibs up` or `dibs node start`',
        );
      }
      const api = runningApi(ctx.paths.runtime);
      let sessions: SessionOut[] | null = null;
      let connections: ConnectListenerOut[] | null = null;
      let proxies: ProxyOut[] | null = null;
      let vpn: VpnStatusOut | null = null;
      let trust: ChainTrust | null = null;
      // The runtime file is rewritten at most every few seconds: the API has the live list.
      let orgs = info.p2p?.orgs ?? [];
      if (api) {
        const [s, p, v, c, o] = await Promise.all([
          sessionsOf(api),
          api.call(api.client.GET('/api/v1/proxies')),
          api.call(api.client.GET('/api/v1/vpn')),
          api.call(api.client.GET('/api/v1/chain')),
          api.call(api.client.GET('/api/v1/org-networks')),
        ]);
        orgs = o.networks;
        sessions = s.sessions as SessionOut[];
        connections = s.connections ?? [];
        proxies = p.proxies;
        vpn = v;
        trust = c.trust ?? null;
      }
      const p2p = info.p2p;
      const result = {
        running: true,
        pid: info.pid,
        startedAt: info.startedAt,
        address: info.address,
        chainId: info.chainId,
        peerId: p2p?.peerId ?? null,
        peers: p2p?.peers ?? [],
        trust,
        sessions,
        connections,
        proxies,
        vpn,
        /** Organization networks besides the public one (own host, admission, DHT, peers each). */
        orgs,
        orgsLeft: p2p?.orgsLeft ?? [],
      };
      ctx.out.result(result, () =>
        [
          table([
            ['address', info.address],
            ['PeerId', p2p?.peerId ?? '(no p2p network)'],
            ['started', info.startedAt],
            ['peers', `${p2p?.admitted ?? 0} admitted of ${p2p?.peers.length ?? 0} connected`],
            ...result.orgs.map(
              (o) =>
                [
                  `org ${o.orgId}`,
                  `${o.name} · ${o.protocolPrefix} · ${o.admitted} admitted · ${o.routingTable} in its DHT`,
                ] as [string, unknown],
            ),
            ...result.orgsLeft.map((o) => [`org ${o.orgId}`, `left: ${o.reason}`] as [string, unknown]),
            ...(trust
              ? ([
                  [
                    'chain trust',
                    `${trust.mode} · checkpoint ${trust.checkpoint ? `#${trust.checkpoint.number}` : 'none yet'} · signed by ${trust.signers.join(', ') || 'nobody'}${trust.refusedCount > 0 ? ` · ${trust.refusedCount} RPC answers refused` : ''}`,
                  ],
                ] as Array<[string, unknown]>)
              : []),
          ]),
          '',
          sessions === null
            ? 'sessions: the node announces no API to ask'
            : sessions.length === 0
              ? 'no sessions'
              : table(
                  sessions.map(
                    (s) =>
                      [
                        `${s.direction} ${s.serviceId} ${s.serviceName}`,
                        `${s.peerId} · ${s.path} · since ${new Date(s.openedAt).toISOString()} · ${s.bytesOut} B out · ${s.bytesIn} B in`,
                      ] as [string, unknown],
                  ),
                ),
          ...(connections && connections.length > 0
            ? [
                '',
                table(
                  connections.map(
                    (c) =>
                      [
                        `connect ${c.localAddress}`,
                        `→ ${c.serviceId} ${c.serviceName} · since ${new Date(c.openedAt).toISOString()} · ${listenerLine(c)}`,
                      ] as [string, unknown],
                  ),
                ),
              ]
            : []),
          ...(proxies && proxies.length > 0
            ? [
                '',
                table(
                  proxies.map(
                    (p) =>
                      [
                        `SOCKS5 ${p.localAddress}`,
                        `since ${new Date(p.openedAt).toISOString()} · ${p.tunnels} open`,
                      ] as [string, unknown],
                  ),
                ),
              ]
            : []),
          ...(vpn && vpn.sessions.length > 0
            ? [
                '',
                table(
                  vpn.sessions.map(
                    (v) =>
                      [
                        `vpn ${v.role} ${v.serviceId} ${v.address}`,
                        `${v.peerId} · ${v.path} · ${v.bytesOut} B out · ${v.bytesIn} B in · handshake ${v.handshakeAgeS ?? '-'} s ago`,
                      ] as [string, unknown],
                  ),
                ),
              ]
            : []),
        ].join('\n'),
      );
    });
}
