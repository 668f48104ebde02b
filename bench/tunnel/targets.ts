/**
 * bench/tunnel helper, run as a grandchild: an echo target in a process of its own, so the host
 * node's memory per tunnel counts the tunnel (data socket, target socket, channel), not the service's
 * own sockets. Answers {port} over IPC.
 */
import { createServer } from 'node:net';

const echo = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
  s.pipe(s);
  s.on('error', () => {});
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
process.send?.({ port: (echo.address() as { port: number }).port });
process.on('disconnect', () => process.exit(0));
