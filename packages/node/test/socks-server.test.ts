import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  encodeRequest,
  REPLY_CONNECTION_REFUSED,
  REPLY_NOT_ALLOWED,
  REPLY_SUCCEEDED,
  type SocksDestination,
  SocksError,
  SocksServer,
} from '../src/socks/index.ts';
import { waitFor } from './helpers.ts';

/** Resolves when `s` closes, or after `ms` at the latest. */
async function closed(s: Socket, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([once(s, 'close'), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Connects to the proxy, sends `bytes`, and collects everything until the proxy closes. */
async function exchange(port: number, bytes: Uint8Array): Promise<Buffer> {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  s.write(bytes);
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  await closed(s, 10_000);
  s.destroy();
  return Buffer.concat(chunks);
}

/** A SOCKS5 CONNECT; resolves with the socket after a successful reply, or the reply code. */
async function socksConnect(port: number, d: SocksDestination): Promise<{ socket: Socket; reply: number }> {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  s.write(Uint8Array.of(5, 1, 0));
  s.write(encodeRequest(d));
  let buf = Buffer.alloc(0);
  for (let i = 0; i < 100 && buf.length < 12; i++) {
    const [chunk] = (await Promise.race([
      once(s, 'data'),
      once(s, 'close').then(() => [Buffer.alloc(0)]),
    ])) as [Buffer];
    if (chunk.length === 0) break;
    buf = Buffer.concat([buf, chunk]);
  }
  assert.deepEqual([...buf.subarray(0, 2)], [5, 0], 'method reply: no authentication');
  return { socket: s, reply: buf[3]! };
}

describe('SOCKS5 server over real sockets', () => {
  let echo: Server;
  let echoPort: number;
  let proxy: SocksServer;
  let port: number;
  const failures: string[] = [];

  before(async () => {
    echo = createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as { port: number }).port;
    proxy = new SocksServer({
      host: '127.0.0.1',
      port: 0,
      async connect(d) {
        if (d.host === 'forbidden.example') throw new SocksError('NOT_ALLOWED', 'no', REPLY_NOT_ALLOWED);
        if (d.host === 'echo.test') {
          const up = connect(echoPort, '127.0.0.1');
          await once(up, 'connect');
          return up;
        }
        throw new SocksError('REFUSED', 'nothing there', REPLY_CONNECTION_REFUSED);
      },
      onFailure: (err) => failures.push((err as SocksError).code),
      handshakeTimeoutMs: 2_000,
    });
    port = (await proxy.start()).port;
  });

  after(async () => {
    await proxy.close();
    echo.close();
  });

  it('relays a CONNECT by name, while garbage and refused requests on other clients get their codes', async () => {
    const good = await socksConnect(port, { type: 'domain', host: 'echo.test', port: 7 });
    assert.equal(good.reply, REPLY_SUCCEEDED);

    const garbage = await exchange(port, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    assert.deepEqual([...garbage], [5, 0xff], 'a non-SOCKS client gets "no acceptable method" and is closed');
    const userPass = await exchange(port, Uint8Array.of(5, 1, 2));
    assert.deepEqual([...userPass], [5, 0xff]);
    const bind = await exchange(port, Uint8Array.of(5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80));
    assert.equal(bind[3], 0x07, 'BIND is not supported');
    const atyp = await exchange(port, Uint8Array.of(5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80));
    assert.equal(atyp[3], 0x08, 'unknown address type');
    const denied = await socksConnect(port, { type: 'domain', host: 'forbidden.example', port: 80 });
    assert.equal(denied.reply, REPLY_NOT_ALLOWED);
    const refused = await socksConnect(port, { type: 'ipv4', host: '10.9.9.9', port: 80 });
    assert.equal(refused.reply, REPLY_CONNECTION_REFUSED);
    denied.socket.destroy();
    refused.socket.destroy();

    // The first client still works after all that.
    good.socket.write('still here');
    const [back] = (await once(good.socket, 'data')) as [Buffer];
    assert.equal(back.toString(), 'still here');
    good.socket.destroy();
    assert.ok(await waitFor(() => proxy.clients() === 0), 'every client socket closed');
    assert.ok(failures.includes('NOT_ALLOWED') && failures.includes('COMMAND_NOT_SUPPORTED'));
  });

  it('drops a client that never finishes the handshake', async () => {
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.write(Uint8Array.of(5, 1));
    await closed(s, 15_000);
    assert.ok(s.destroyed || s.readableEnded, 'the half-greeting client was closed');
    s.destroy();
    assert.ok(await waitFor(() => proxy.clients() === 0));
  });
});
