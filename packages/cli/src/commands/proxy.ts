import { readRuntimeInfo, resolveService } from '@dibs/node';
import { Command } from 'commander';
import { runningApi } from '../api-client.ts';
import { commandContext } from '../context.ts';
import { CliError } from '../errors.ts';
import { table } from '../output.ts';
import {
  holdUntilStopped,
  noRunningNode,
  parseLocalListen,
  resolveServiceRef,
  untilStopSignal,
  withLocalNode,
} from './connect.ts';

/** What `dibs proxy --json` prints. */
export interface ProxyResult {
  id: string;
  localAddress: string;
  /** The vpn service for destinations that are not `<service>.dibs`. */
  via: { id: string; name: string } | null;
  /** `node`: the running node holds the listener; `process`: a node started by this command. */
  servedBy: 'node' | 'process';
}

/** The options of `dibs proxy`. */
interface ProxyOptions {
  socks: string;
  via?: string;
  detach?: boolean;
  startNode?: boolean;
}

/** `dibs proxy --socks addr [--via svc]`: a local SOCKS5 proxy into DIBS. */
export function proxyCommand(): Command {
  return new Command('proxy')
    .description(
      'a local SOCKS5 proxy: <service>.dibs:port reaches a service, other hosts go through a vpn service',
    )
    .option(
      '--socks <addr>',
      'local address of the SOCKS5 listener (port 0 picks a free one)',
      '127.0.0.1:1080',
    )
    .option('--via <service>', 'vpn service (id or name) for destinations that are not <service>.dibs')
    .option('--detach', 'leave the proxy in the running node and return at once')
    .option('--start-node', 'when no node runs for the data dir, run one inside this command until Ctrl-C')
    .action(async (opts: ProxyOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      const listen = parseLocalListen(opts.socks, '--socks');
      const listenText = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
      const print = (r: ProxyResult, stopHint: string) =>
        ctx.out.result(r, () =>
          table([
            ['SOCKS5', r.localAddress],
            ...(r.via ? ([['via', `${r.via.id} ${r.via.name}`]] as Array<[string, unknown]>) : []),
            ['', `e.g. curl --socks5-hostname ${r.localAddress} http://<service>.dibs/`],
            ['', stopHint],
          ]),
        );
      const api = runningApi(ctx.paths.runtime);
      if (api) {
        if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$|^localhost$/.test(listen.host)) {
          throw new CliError(
            'BAD_LISTEN',
            `the running node opens SOCKS5 listeners on loopback only, not ${listen.host}`,
            `use --socks 127.0.0.1:${listen.port}`,
          );
        }
        const via = opts.via === undefined ? undefined : await resolveServiceRef(ctx, opts.via);
        const stop = opts.detach ? undefined : untilStopSignal();
        const p = await api.call(
          api.client.POST('/api/v1/proxies', {
            body: { listen: listenText, ...(via ? { via: via.id.toString() } : {}) },
          }),
        );
        const path = `/api/v1/proxies/${p.id}`;
        print(
          {
            id: p.id,
            localAddress: p.localAddress,
            via: via ? { id: via.id.toString(), name: via.name } : null,
            servedBy: 'node',
          },
          opts.detach
            ? `held by the running node (${api.url}); close it with DELETE ${path}`
            : 'held by the running node · Press Ctrl-C to close it.',
        );
        const close = () =>
          api.call(api.client.DELETE('/api/v1/proxies/{id}', { params: { path: { id: p.id } } }));
        if (stop) await holdUntilStopped(ctx, api, { close }, stop);
        return;
      }
      if (opts.detach) {
        throw new CliError(
          'NOT_RUNNING',
          `--detach needs a running node for ${ctx.paths.root}`,
          'start one with `dibs up` or `dibs node start`, or drop --detach',
        );
      }
      if (!opts.startNode && !readRuntimeInfo(ctx.paths.runtime)) throw noRunningNode(ctx, 'dibs proxy');
      await withLocalNode(ctx, async (services, dir) => {
        const via = opts.via === undefined ? undefined : await resolveService(dir, opts.via);
        const p = await services.startProxy({ listen: listenText, ...(via ? { via: via.id } : {}) });
        print(
          {
            id: p.id,
            localAddress: p.localAddress,
            via: via ? { id: via.id.toString(), name: via.name } : null,
            servedBy: 'process',
          },
          'Press Ctrl-C to stop.',
        );
        return () => {
          const s = services.sessions().filter((x) => x.direction === 'outbound');
          const inB = s.reduce((a, x) => a + x.bytesIn, 0);
          const outB = s.reduce((a, x) => a + x.bytesOut, 0);
          ctx.out.progress(`${s.length} open · ${outB} B out · ${inB} B in`);
        };
      });
    });
}
