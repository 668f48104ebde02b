/**
 * bench/tunnel helper, run as a grandchild: the services behind the host node, in a process of their
 * own as a real service would be. A sink counts bytes and answers the total (8 bytes) when the sender
 * ends; an echo sends everything back. Every path (raw TCP, ssh -L, DIBS) reaches these same two, and
 * the host node's memory per tunnel counts the tunnel, not the service's sockets. Answers
 * {sinkPort, echoPort} over IPC.
 */
import { createServer, type Server } from 'node:net';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

const sink = createServer({ allowHalfOpen: true }, (s) => {
  let n = 0;
  s.on('data', (c: Buffer) => {
    n += c.length;
  });
  s.on('end', () => {
    const out = Buffer.alloc(8);
    out.writeBigUInt64BE(BigInt(n));
    s.end(out);
  });
  s.on('error', () => {});
});
const echo = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
  s.setNoDelay(true);
  s.pipe(s);
  s.on('error', () => {});
});
process.send?.({ sinkPort: await listen(sink), echoPort: await listen(echo) });
process.on('disconnect', () => process.exit(0));
