/**
 * What the suites on real nodes share: a node started with its UI served from a built folder, and a
 * local HTTP server whose `/stream` is a slow, bounded download that keeps a tunnel busy.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Wallet } from '@dibs/core';
import { createLogger, type Daemon, startDaemon } from '@dibs/node';

/** Starts a node in `<work>/<name>` on loopback (p2p on, API on a free port serving `uiDir`). */
export async function startUiNode(
  work: string,
  name: string,
  chain: Parameters<typeof startDaemon>[0]['chain'],
  uiDir: string,
): Promise<Daemon> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  return startDaemon({
    dataDir: dir,
    databasePath: join(dir, 'dibs.db'),
    runtimePath: join(dir, 'run', 'node.json'),
    chain,
    wallet: Wallet.generate(),
    log: createLogger({ console: null, component: name }),
    p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    api: { port: 0, staticDir: uiDir },
  });
}

/**
 * A target on 127.0.0.1: `/stream` sends `chunks` chunks of `chunkBytes` every `everyMs` (bounded
 * even if nobody stops it), anything else `hello`.
 */
export async function startTarget(
  hello: string,
  stream: { chunks: number; chunkBytes: number; everyMs: number },
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const chunk = Buffer.alloc(stream.chunkBytes, 0x61);
  const server = createServer((req, res) => {
    if (req.url !== '/stream') {
      res.end(hello);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let sent = 0;
    const timer = setInterval(() => {
      if (sent++ >= stream.chunks || res.destroyed) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(chunk);
    }, stream.everyMs);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as { port: number }).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
