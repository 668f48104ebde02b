/** `dibs org join|leave <id>`: organization networks of the running node (its API), at run time. */
import type { Command } from 'commander';
import { runningApi } from '../api-client.ts';
import { commandContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';

function orgIdText(text: string): string {
  const t = text.trim();
  if (!/^[1-9][0-9]{0,19}$/.test(t)) {
    throw new CliError('BAD_ORG_ID', `"${t.slice(0, 24)}" is not an organization id`, 'see: dibs org list');
  }
  return t;
}

function nodeApi(runtimePath: string) {
  const api = runningApi(runtimePath);
  if (!api) {
    throw new CliError(
      'NOT_RUNNING',
      'no running node with its API to join or leave an organization network',
      'start one with `dibs up` (or start it with `dibs up --org <id>`)',
    );
  }
  return api;
}

/** Adds `join` and `leave` to the `org` command. */
export function addOrgNetworkCommands(org: Command): void {
  org
    .command('join')
    .description(
      "join an organization's network now (own admission, DHT, peers; kept across restarts); the node must be a member or node",
    )
    .argument('<org>', 'organization id')
    .action(async (orgText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const id = orgIdText(orgText);
      const api = nodeApi(ctx.paths.runtime);
      ctx.out.progress(`joining the network of organization ${id}…`);
      const net = await api.call(api.client.POST('/api/v1/orgs/{id}/join', { params: { path: { id } } }));
      ctx.out.result(net, () =>
        [
          `joined the network of organization ${net.orgId} (${net.name})`,
          table([
            ['label', net.label],
            ['protocols', `${net.protocolPrefix}/…`],
            ['network service', net.networkServiceId],
            ['grant', net.grantId],
            ['admitted', net.admitted],
            ...net.multiaddrs.map((a, n) => [n === 0 ? 'listening' : '', a] as [string, unknown]),
          ]),
        ].join('\n'),
      );
    });
  org
    .command('leave')
    .description("leave an organization's network; the node's other networks stay as they are")
    .argument('<org>', 'organization id')
    .action(async (orgText: string, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const id = orgIdText(orgText);
      const api = nodeApi(ctx.paths.runtime);
      const res = await api.call(api.client.POST('/api/v1/orgs/{id}/leave', { params: { path: { id } } }));
      ctx.out.result(res, () =>
        res.left
          ? `left the network of organization ${res.orgId}`
          : `this node was not in the network of organization ${res.orgId}`,
      );
    });
}
