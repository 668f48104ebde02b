/**
 * `dibs vpn`: the L3 VPN through the running node. `up` joins a vpn service (WireGuard keyed by the
 * service ticket; the node holds the session until `down`), `site` joins it as a site (this node's
 * LAN reaches the other site), `status` lists hosted and joined sessions.
 */
import type { VpnSession, VpnStatus } from '@dibs/api-types';
import { Command } from 'commander';
import { type ApiClient, runningApi } from '../api-client.ts';
import { type CommandContext, commandContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import { resolveServiceRef } from './connect.ts';

/** What GET /api/v1/vpn answers and `dibs vpn status --json` prints. */
export type VpnStatusOut = VpnStatus;
type VpnSessionOut = VpnSession;

function nodeApi(ctx: CommandContext): ApiClient {
  const api = runningApi(ctx.paths.runtime);
  if (!api) {
    throw new CliError(
      'NOT_RUNNING',
      `no DIBS node with an API runs for ${ctx.paths.root}; the VPN lives in the running node`,
      'start it as root with `dibs up` (or `dibs node start`), then run this again',
    );
  }
  return api;
}

function sessionRows(s: VpnSessionOut): Array<[string, unknown]> {
  return [
    ['service', s.serviceId],
    ['role', s.role],
    ['interface', s.interface],
    ['address', s.role === 'host' ? `${s.address} (peer)` : s.address],
    ['gateway', s.gateway],
    ['routes', s.routes.join(', ') || '(none)'],
    ['peer', s.peerId],
    ['path', `${s.path}${s.endpoint ? ` via ${s.endpoint}` : ''}`],
    ['bytes', `${s.bytesOut} out · ${s.bytesIn} in`],
    ['handshake', s.handshakeAgeS === null ? 'none yet' : `${s.handshakeAgeS} s ago`],
  ];
}

function upCommand(name: 'up' | 'site'): Command {
  const mode = name === 'site' ? 'site' : 'client';
  return new Command(name)
    .description(
      name === 'up'
        ? 'join a vpn service at L3: its site subnets are routed through WireGuard keyed by your ticket'
        : "link this node's site to another: hosts on this node's LAN reach the service's site (masqueraded); the other site runs `dibs vpn site` towards yours for the way back",
    )
    .argument('<service>', 'the vpn service: id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const api = nodeApi(ctx);
      const service = await resolveServiceRef(ctx, ref);
      if (service.type !== 'vpn') {
        throw new CliError(
          'NOT_A_VPN',
          `service ${service.id} (${service.name}) is a ${service.type} service, not a vpn`,
          `use \`dibs connect ${service.name}\``,
        );
      }
      ctx.out.progress(`joining ${service.name} (service ${service.id}): grant, ticket, WireGuard…`);
      const started = Date.now();
      const s = await api.call(
        api.client.POST('/api/v1/vpn', { body: { serviceId: service.id.toString(), mode } }),
      );
      ctx.out.result({ ...s, serviceName: service.name, tookMs: Date.now() - started }, () =>
        [
          table(sessionRows(s)),
          '',
          `up in ${Date.now() - started} ms · \`dibs vpn down ${service.name}\` leaves it`,
        ].join('\n'),
      );
    });
}

function downCommand(): Command {
  return new Command('down')
    .description('leave a joined VPN (or every one): its interface, routes and rules are removed')
    .argument('[service]', 'the vpn service: id or name (default: all)')
    .action(async (ref: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const api = nodeApi(ctx);
      let ids: string[];
      if (ref === undefined) {
        const status = await api.call(api.client.GET('/api/v1/vpn'));
        ids = status.sessions.filter((s) => s.role !== 'host').map((s) => s.serviceId);
      } else {
        ids = [(await resolveServiceRef(ctx, ref)).id.toString()];
      }
      for (const id of ids)
        await api.call(api.client.DELETE('/api/v1/vpn/{id}', { params: { path: { id } } }));
      ctx.out.result({ down: ids }, () =>
        ids.length === 0 ? 'no VPN was up' : `down: service ${ids.join(', ')}`,
      );
    });
}

function statusCommand(): Command {
  return new Command('status')
    .description('VPN sessions this node hosts and joined: address, peer, path, bytes, handshake age')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const status = await (() => {
        const api = nodeApi(ctx);
        return api.call(api.client.GET('/api/v1/vpn'));
      })();
      ctx.out.result(status, () => {
        const parts: string[] = [];
        if (!status.supported)
          parts.push(`L3 VPN unavailable here: ${status.reason ?? ''}`, `  ${status.hint ?? ''}`, '');
        if (status.sessions.length === 0) parts.push('no VPN sessions');
        for (const s of status.sessions) parts.push(table(sessionRows(s)), '');
        for (const e of status.ended.slice(0, 5)) {
          parts.push(`ended: service ${e.serviceId} at ${new Date(e.at).toISOString()}: ${e.reason}`);
        }
        return parts.join('\n').trimEnd();
      });
    });
}

/** `dibs vpn …` */
export function vpnCommands(): Command {
  return new Command('vpn')
    .description(
      'the L3 VPN: WireGuard keyed by DIBS tickets (needs root; `dibs proxy` is the L4 alternative)',
    )
    .addCommand(upCommand('up'))
    .addCommand(downCommand())
    .addCommand(statusCommand())
    .addCommand(upCommand('site'));
}
