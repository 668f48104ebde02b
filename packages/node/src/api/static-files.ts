/** Serves the UI's built files: known content types, no way out of the root, SPA fallback to index.html. */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { ApiError } from './errors.ts';

/** Content types by file extension; anything else is served as an opaque download. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Headers on every UI response: no framing, no sniffing, scripts and styles only from this origin. */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/**
 * Resolves a URL pathname to a path below `root`, or throws BAD_PATH. Each segment is decoded on its
 * own so `%2e%2e`, `..%2f`, backslashes and NUL bytes cannot smuggle a step outside the root.
 */
export function resolveStaticPath(root: string, pathname: string): string {
  const parts: string[] = [];
  for (const raw of pathname.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new ApiError(400, 'BAD_PATH', 'the path is not valid percent-encoding');
    }
    if (seg === '.' || seg === '..' || /[/\\\0]/.test(seg) || seg.startsWith('.')) {
      throw new ApiError(404, 'NOT_FOUND', 'no such file');
    }
    parts.push(seg);
  }
  const full = join(root, ...parts);
  const rel = relative(root, full);
  if (rel.startsWith(`..${sep}`) || rel === '..') throw new ApiError(404, 'NOT_FOUND', 'no such file');
  return full;
}

/** A handler serving GET/HEAD requests from `dir`; the caller has already routed away /api paths. */
export function createStaticHandler(
  dir: string,
): (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<void> {
  let rootPromise: Promise<string> | undefined;
  const root = () => {
    rootPromise ??= realpath(dir);
    return rootPromise;
  };

  const send = async (req: IncomingMessage, res: ServerResponse, file: string, immutable: boolean) => {
    const info = await stat(file);
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, {
      ...UI_SECURITY_HEADERS,
      'content-type': type,
      'content-length': info.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(file);
      stream.on('error', reject);
      res.on('close', resolve);
      stream.pipe(res);
    });
  };

  /** The real path of `candidate` if it is a regular file inside the root (symlinks cannot escape). */
  const existing = async (base: string, candidate: string): Promise<string | undefined> => {
    try {
      const real = await realpath(candidate);
      const rel = relative(base, real);
      if (rel.startsWith(`..${sep}`) || rel === '..' || rel.startsWith(sep)) return undefined;
      return (await stat(real)).isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  };

  return async (req, res, pathname) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on UI files; use GET`);
    }
    const base = await root();
    const target = resolveStaticPath(base, pathname);
    const file = await existing(base, target);
    if (file) {
      await send(req, res, file, pathname.startsWith('/assets/'));
      return;
    }
    // Client-side routes (/peers, /services/12) have no extension: they all load the app shell.
    if (extname(target) === '') {
      const index = await existing(base, join(base, 'index.html'));
      if (index) {
        await send(req, res, index, false);
        return;
      }
      throw new ApiError(
        404,
        'NOT_FOUND',
        'the UI is not built: run `npm run build -w @dibs/ui` (index.html is missing from the UI directory)',
      );
    }
    throw new ApiError(404, 'NOT_FOUND', `no such file: ${pathname.slice(0, 200)}`);
  };
}
