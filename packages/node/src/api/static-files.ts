/**
 * The web UI's files, served from its build directory by the server's not-found handler: a URL path
 * maps to a regular file below the root (symlinks followed only if they stay inside it, no dot
 * segments, no encoded separators or NUL), with its content type, a weak ETag answered by 304, and
 * the UI's security headers. Hashed assets are cached for a year, everything else is revalidated.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { extname, relative, sep } from 'node:path';
import type { FastifyReply } from 'fastify';
import { UI_SECURITY_HEADERS } from './constants.ts';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** A file found for a URL path. */
export interface UiFile {
  path: string;
  size: number;
  etag: string;
  type: string;
  immutable: boolean;
}

/** The realpath of `dir`, or undefined when it does not exist. */
export function uiRootOf(dir: string): string | undefined {
  try {
    return realpathSync(dir);
  } catch {
    return undefined;
  }
}

/** The regular file `urlPath` (e.g. `/assets/app.js`) names inside `root`, or undefined. */
export function findUiFile(root: string, urlPath: string): UiFile | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter(Boolean);
  if (segments.some((s) => s.startsWith('.'))) return undefined;
  if (segments.length === 0) segments.push('index.html');
  let real: string;
  try {
    real = realpathSync(`${root}${sep}${segments.join(sep)}`);
  } catch {
    return undefined;
  }
  const rel = relative(root, real);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) return undefined;
  const stat = statSync(real, { throwIfNoEntry: false });
  if (!stat?.isFile()) return undefined;
  return {
    path: real,
    size: stat.size,
    etag: `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
    type: TYPES[extname(real).toLowerCase()] ?? 'application/octet-stream',
    immutable: rel.startsWith(`assets${sep}`),
  };
}

/** Answers with `file` (or 304 when the client's ETag matches). */
export function sendUiFile(reply: FastifyReply, file: UiFile, ifNoneMatch: string | undefined) {
  for (const [k, v] of Object.entries(UI_SECURITY_HEADERS)) void reply.header(k, v);
  void reply
    .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('etag', file.etag);
  if (ifNoneMatch?.split(',').some((t) => t.trim() === file.etag)) return reply.code(304).send();
  return reply
    .code(200)
    .type(file.type)
    .header('content-length', file.size)
    .send(createReadStream(file.path));
}
