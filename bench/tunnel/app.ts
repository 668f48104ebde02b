/**
 * bench/tunnel helper, run as a child process: the application end of every measured path (what
 * curl or a database client would be), in a process of its own like a real one, so each forwarder
 * (ssh, `dibs connect`) runs beside it and not in its thread. Over IPC: {throughput: {port, bytes}}
 * sends `bytes` in 1 MiB writes and waits for the sink's 8-byte count, answering {mbps};
 * {rtt: {port, rounds}} ping-pongs one byte with an echo target, answering {us: [...]}.
 */
import { connect, type Socket } from 'node:net';

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

async function throughput(port: number, bytes: number): Promise<number> {
  const s = await tcp(port);
  const block = Buffer.alloc(1 << 20, 7);
  let failed: Error | undefined;
  const reply = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('close', () => reject(failed ?? new Error('the connection closed before the sink answered')));
    s.on('error', (err) => {
      failed ??= err;
    });
  });
  reply.catch(() => {});
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < bytes; sent += block.length) {
    if (failed || s.destroyed) throw failed ?? new Error('the connection closed mid-transfer');
    if (!s.write(block)) {
      await new Promise<void>((r) => {
        const done = () => {
          s.off('drain', done);
          s.off('close', done);
          r();
        };
        s.once('drain', done);
        s.once('close', done);
      });
    }
  }
  s.end();
  const got = (await reply).readBigUInt64BE(0);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  s.destroy();
  if (got !== BigInt(bytes)) throw new Error(`sink counted ${got} bytes, sent ${bytes}`);
  return bytes / 1e6 / secs;
}

async function rtt(port: number, rounds: number): Promise<number[]> {
  const s = await tcp(port);
  const out: number[] = [];
  const one = Buffer.of(1);
  let fail: ((err: Error) => void) | undefined;
  s.on('error', () => {});
  s.once('close', () => fail?.(new Error('the echo connection closed')));
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    const got = new Promise((resolve, reject) => {
      fail = reject;
      s.once('data', resolve);
    });
    s.write(one);
    await got;
    out.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  s.destroy();
  return out;
}

process.on(
  'message',
  (msg: { throughput?: { port: number; bytes: number }; rtt?: { port: number; rounds: number } }) => {
    const job = msg.throughput
      ? throughput(msg.throughput.port, msg.throughput.bytes).then((mbps) => ({ mbps }))
      : msg.rtt
        ? rtt(msg.rtt.port, msg.rtt.rounds).then((us) => ({ us }))
        : undefined;
    job?.then(
      (result) => process.send?.(result),
      (err: Error) => process.send?.({ error: err.message }),
    );
  },
);
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
