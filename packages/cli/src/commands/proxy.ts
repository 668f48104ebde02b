import { Command } from 'commander';
import { runningApi } from '../api-client.ts';
import { commandContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import { withLocalNode } from './connect.ts';

/** `dibs proxy --socks addr [--via svc]`: a local SOCKS5 proxy into DIBS. */
export function proxyCommand(): Command {
  return new Command('proxy')
    .description(
      'a local SOCKS5 proxy: <service>.dibs:port reaches a service, other hosts go through a vpn service',
    )
    .option('--socks <addr>', 'local address of the SOCKS5 listener', '127.0.0.1:1080')
    .option('--via <service>', 'vpn service id for destinations that are not <service>.dibs')
    .action(async (opts: { socks: string; via?: string }, cmd: Command) => {
      const ctx = commandContext(cmd);
      if (opts.via !== undefined && !/^[1-9]\d{0,20}$/.test(opts.via)) {
        throw new CliError(
          'BAD_ARGUMENT',
          `--via "${opts.via}" is not a service id`,
          'see `dibs service list`',
        );
      }
      const api = runningApi(ctx.paths.runtime);
      if (api) {
        const p = await api.post<{ id: string; localAddress: string }>('/api/v1/proxies', {
          listen: opts.socks,
          ...(opts.via ? { via: opts.via } : {}),
        });
        ctx.out.result(p, () =>
          table([
            ['proxy', p.id],
            ['SOCKS5', p.localAddress],
            ['served by', `the running node (${api.url}); stop with DELETE /api/v1/proxies/${p.id}`],
          ]),
        );
        return;
      }
      await withLocalNode(ctx, async (services) => {
        const p = await services.startProxy({
          listen: opts.socks,
          ...(opts.via ? { via: BigInt(opts.via) } : {}),
        });
        ctx.out.result(p, () =>
          table([
            ['SOCKS5', p.localAddress],
            ['', `e.g. curl --socks5-hostname ${p.localAddress} http://<service>.dibs/`],
            ['', 'Press Ctrl-C to stop.'],
          ]),
        );
        return () => {
          const s = services.sessions().filter((x) => x.direction === 'outbound');
          const inB = s.reduce((a, x) => a + x.bytesIn, 0);
          const outB = s.reduce((a, x) => a + x.bytesOut, 0);
          ctx.out.progress(`${s.length} tunnels · ${outB} B out · ${inB} B in`);
        };
      });
    });
}
