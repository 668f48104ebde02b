/**
 * The payload of the network-namespace beds: a deterministic byte stream (AES-128-CTR keystream of a
 * fixed key), so the receiver can check any prefix it got against the same stream; and, run as a
 * script, an HTTP server of it: `/` answers PAGE, `/big` PAYLOAD_BYTES of the stream. It prints its
 * port as one JSON line, then serves until stdin ends or SIGTERM.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Over 256 MiB, and not a multiple of any frame or chunk size. */
export const PAYLOAD_BYTES = 256 * 1024 * 1024 + 12_345;
export const PAGE = 'hello from a NATed site\n';
const KEY = Buffer.alloc(16, 7);
const IV = Buffer.alloc(16, 0);
const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

/** Yields the first `bytes` bytes of the stream. */
export function* payloadChunks(bytes: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', KEY, IV);
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    const n = Math.min(CHUNK, bytes - sent);
    yield cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
  }
}

/** sha256 (hex) of the first `bytes` bytes of the stream. */
export function payloadSha256(bytes: number): string {
  const h = createHash('sha256');
  for (const c of payloadChunks(bytes)) h.update(c);
  return h.digest('hex');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = createServer((req, res) => {
    if (req.url !== '/big') {
      res.end(PAGE);
      return;
    }
    res.writeHead(200, { 'content-length': PAYLOAD_BYTES });
    const it = payloadChunks(PAYLOAD_BYTES);
    const pump = () => {
      for (let r = it.next(); !r.done; r = it.next()) {
        if (!res.write(r.value)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('error', () => {});
    pump();
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}
