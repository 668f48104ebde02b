/**
 * Mounts the management API on a running daemon: the bearer token kept in the data directory, the
 * v1 routes over the real node, live counters and log lines on the event stream, and the web UI.
 */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertUsableToken, generateApiToken } from '../api/auth.ts';
import { registerDibsApi } from '../api/dibs-api.ts';
import { registerOrgApi } from '../api/orgs-api.ts';
import { createApiServer } from '../api/server.ts';
import { API_COUNTERS_INTERVAL_MS, API_TOKEN_FILE } from './api-constants.ts';
import { DaemonApiError } from './api-errors.ts';
import { type ApiHandlerDeps, createApiHandlers } from './api-handlers.ts';
import type { Logger } from './log.ts';
import { createOrgHandlers } from './org-handlers.ts';

/** API settings of the daemon (config `api.*`, flag `--api-port`). */
export interface ApiSettings {
  /** Loopback port; 0 (default) lets the OS pick. */
  port?: number | undefined;
  /** Built UI (index.html + assets); default packages/ui/dist of this checkout. */
  staticDir?: string | undefined;
}

/** The running API of a daemon. */
export interface MountedApi {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  /** The UI address with the token in its fragment (shown once to the operator, never logged). */
  uiUrl: string;
  /** Where the token is kept, for other commands on this machine. */
  tokenFile: string;
  /** Whether the web UI is served (it is missing until `npm run build`). */
  ui: boolean;
  close(): Promise<void>;
}

/** Where `npm run build` puts the web UI in this checkout. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../ui/dist/', import.meta.url));

/**
 * The API token of a data directory: read from `<dataDir>/api-token`, or generated once and written
 * there with mode 0600. A token file others can read is tightened to 0600.
 */
export function loadOrCreateApiToken(dataDir: string): { token: string; file: string } {
  const file = join(dataDir, API_TOKEN_FILE);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    try {
      assertUsableToken(token);
    } catch {
      throw new DaemonApiError(
        'BAD_API_TOKEN',
        `the API token file ${file} does not hold a usable token`,
        `delete ${file}; the node writes a new one at its next start`,
      );
    }
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { token, file };
  }
  const token = generateApiToken();
  // 'wx': never overwrite a token another starting process wrote a moment ago.
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, file };
}

/** Starts the API server for a daemon and wires its live events. */
export async function mountApi(params: {
  dataDir: string;
  settings: ApiSettings;
  deps: Omit<ApiHandlerDeps, 'changed'>;
  log: Logger;
}): Promise<MountedApi> {
  const log = params.log.child('api');
  const { token, file } = loadOrCreateApiToken(params.dataDir);
  const uiDir = params.settings.staticDir ?? DEFAULT_UI_DIR;
  const ui = existsSync(join(uiDir, 'index.html'));
  if (!ui) {
    log.warn('the web UI is not built, so only the API is served', {
      hint: 'run `npm run build` in the DIBS checkout, then restart the node',
      uiDir,
    });
  }
  const server = createApiServer({
    port: params.settings.port ?? 0,
    token,
    log,
    ...(ui ? { staticDir: uiDir } : {}),
    info: { title: 'DIBS node API' },
  });
  let events: ReturnType<typeof registerDibsApi> | undefined;
  const handlers = createApiHandlers({
    ...params.deps,
    changed: (resource) => events?.send('changed', { resource }),
  });
  events = registerDibsApi(server, handlers);
  const stream = events;
  registerOrgApi(
    server,
    createOrgHandlers(params.deps.chain, () => stream.send('changed', { resource: 'organizations' })),
  );

  // A log line sent to the stream may itself log (e.g. a dropped slow client): never recurse.
  let forwarding = false;
  const unsubscribe = params.deps.logs.subscribe((line) => {
    if (forwarding || stream.clientCount === 0) return;
    forwarding = true;
    try {
      stream.send('log', line);
    } catch {
      // A line the schema refuses is not worth breaking the stream for.
    } finally {
      forwarding = false;
    }
  });
  const counters = setInterval(() => {
    if (stream.clientCount === 0) return;
    Promise.resolve()
      .then(() => handlers.sessions())
      .then((sessions) =>
        stream.send('counters', {
          at: Date.now(),
          sessions: sessions.map((x) => ({ id: x.id, bytesIn: x.bytesIn, bytesOut: x.bytesOut })),
        }),
      )
      .catch((err: Error) => log.debug('could not send session counters', { error: err }));
  }, API_COUNTERS_INTERVAL_MS);
  counters.unref();

  let address: Awaited<ReturnType<typeof server.listen>>;
  try {
    address = await server.listen();
  } catch (err) {
    clearInterval(counters);
    unsubscribe();
    const code = (err as NodeJS.ErrnoException).code;
    throw new DaemonApiError(
      'API_LISTEN_FAILED',
      `the management API could not listen on 127.0.0.1:${params.settings.port ?? 0}: ${code ?? (err as Error).message}`,
      code === 'EADDRINUSE'
        ? 'another program uses that port: pick another with --api-port (0 lets the system choose)'
        : 'check the api.port setting',
      { cause: err },
    );
  }
  return {
    url: address.url,
    uiUrl: server.uiUrl(),
    tokenFile: file,
    ui,
    async close() {
      clearInterval(counters);
      unsubscribe();
      await server.close();
    },
  };
}
