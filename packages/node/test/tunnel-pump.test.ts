/**
 * The data path between a data channel and a TCP socket (SecureChannel.pumpFrom / pumpTo, one shared
 * read buffer per process): many tunnels at once over real loopback sockets, both directions, with
 * backpressure, half-close and truncation, and the fast read mode kept on for the pinned runtime.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CHANNEL_SOCKET_OPTIONS, DATA_KEY_BYTES } from '../src/tunnel/constants.ts';
import { readInto, userBufferReads } from '../src/tunnel/read-buffer.ts';
import { RecordOpener, RecordSealer } from '../src/tunnel/record.ts';
import { releasedBytes } from '../src/tunnel/release.ts';
import { SecureChannel } from '../src/tunnel/secure-channel.ts';
import { splice } from '../src/tunnel/splice.ts';
import { readAll, waitFor } from './helpers.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ...CHANNEL_SOCKET_OPTIONS }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * A whole tunnel on loopback: app socket ⇄ [client channel] ⇄ data connection ⇄ [host channel] ⇄
 * target socket, the two channel ends spliced to their sockets exactly as forward and server do;
 * `relayed`, the data connection crosses a socket-to-socket splice on the way, as at a relay's
 * rendezvous.
 */
class Bed {
  readonly relayed: boolean;
  constructor(relayed: boolean) {
    this.relayed = relayed;
  }

  readonly sockets = new Set<Socket>();
  readonly #servers: Server[] = [];
  #dataPort = 0;
  #entryPort = 0;
  #targetPort = 0;
  readonly hostChannels: SecureChannel[] = [];
  readonly clientChannels: SecureChannel[] = [];
  /** What the target does with each connection. */
  onTarget: (s: Socket) => void = (s) => s.pipe(s);

  async start(): Promise<void> {
    const track = (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    };
    const target = createServer({ allowHalfOpen: true }, (s) => {
      track(s);
      this.onTarget(s);
    });
    this.#targetPort = await listen(target);
    const keys = [randomBytes(DATA_KEY_BYTES), randomBytes(DATA_KEY_BYTES)] as const;
    // Host: accepted data connection → channel ⇄ target.
    const host = createServer({ allowHalfOpen: true }, (data) => {
      track(data);
      const channel = new SecureChannel({
        socket: data,
        sealer: new RecordSealer(keys[1]),
        opener: new RecordOpener(keys[0]),
      });
      this.hostChannels.push(channel);
      void dial(this.#targetPort).then((t) => {
        track(t);
        splice(channel, t, () => {});
      });
    });
    this.#dataPort = await listen(host);
    if (this.relayed) {
      const hostPort = this.#dataPort;
      const relay = createServer({ allowHalfOpen: true }, (a) => {
        track(a);
        a.pause();
        void dial(hostPort).then((b) => {
          track(b);
          splice(a, b, () => {});
        });
      });
      this.#dataPort = await listen(relay);
      this.#servers.push(relay);
    }
    // Client: accepted app connection → channel over a dialled data connection.
    const entry = createServer({ allowHalfOpen: true }, (app) => {
      track(app);
      app.pause();
      void dial(this.#dataPort).then((data) => {
        track(data);
        const channel = new SecureChannel({
          socket: data,
          sealer: new RecordSealer(keys[0]),
          opener: new RecordOpener(keys[1]),
        });
        this.clientChannels.push(channel);
        splice(app, channel, () => {});
      });
    });
    this.#entryPort = await listen(entry);
    this.#servers.push(target, host, entry);
  }

  /** A connection of the application, through the tunnel. */
  open(): Promise<Socket> {
    return dial(this.#entryPort).then((s) => {
      s.on('error', () => {});
      return s;
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.#servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

test('data-channel keys are an AES-128 key and a ChaCha20 key: any other length is refused', () => {
  for (const n of [0, 16, 32, DATA_KEY_BYTES - 1, DATA_KEY_BYTES + 1]) {
    assert.throws(() => new RecordSealer(randomBytes(n)), { code: 'INTERNAL' });
    assert.throws(() => new RecordOpener(randomBytes(n)), { code: 'INTERNAL' });
  }
  const key = randomBytes(DATA_KEY_BYTES);
  const [record] = new RecordSealer(key).seal(Buffer.from('x'));
  assert.deepEqual(new RecordOpener(key).push(record!)[0]?.plaintext, Buffer.from('x'));
});

for (const relayed of [false, true])
  describe(`tunnel data path: channel ⇄ socket pumps${relayed ? ', through a relay splice' : ''}`, () => {
    const bed = new Bed(relayed);
    before(() => bed.start());
    after(() => bed.stop());

    test('this runtime reads accepted and dialled sockets into the shared buffer', async () => {
      const server = createServer();
      const accepted = new Promise<Socket>((r) => server.once('connection', r));
      const dialled = await dial(await listen(server));
      const peer = await accepted;
      try {
        assert.ok(userBufferReads(dialled), 'a dialled socket can read into the shared buffer');
        assert.ok(userBufferReads(peer), 'an accepted socket can read into the shared buffer');
        const got: Buffer[] = [];
        const views = new Set<ArrayBufferLike>();
        assert.equal(
          readInto(peer, (c) => {
            got.push(Buffer.from(c));
            views.add(c.buffer);
            return true;
          }),
          true,
        );
        dialled.write('one ');
        dialled.end('two');
        assert.ok(await waitFor(() => Buffer.concat(got).toString() === 'one two'));
        assert.equal(views.size, 1, 'every read landed in the one shared buffer');
      } finally {
        dialled.destroy();
        peer.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    test('32 tunnels at once, random sizes both ways, every byte intact', async () => {
      bed.onTarget = (s) => s.pipe(s);
      const sizes = Array.from({ length: 32 }, (_, i) => (i % 4 === 0 ? 1 : (i * 97_531) % (3 << 20)) + 1);
      const releasedBefore = releasedBytes();
      const results = await Promise.all(
        sizes.map(async (n) => {
          const s = await bed.open();
          const data = randomBytes(n);
          const echoed = readAll(s);
          // Odd write sizes, so reads and records split anywhere.
          for (let at = 0; at < n; at += 77_777) s.write(data.subarray(at, at + 77_777));
          s.end();
          return { sent: sha(data), got: sha(await echoed) };
        }),
      );
      for (const r of results) assert.equal(r.got, r.sent);
      // Every byte was sealed and opened twice (there and back) in this process; the bulk records'
      // buffers were freed as they were written, not left to the garbage collector (release.ts).
      const total = sizes.reduce((a, b) => a + b, 0);
      assert.ok(
        releasedBytes() - releasedBefore >= 2 * total,
        `released ${releasedBytes() - releasedBefore} bytes of record buffers for ${total} bytes each way`,
      );
      assert.ok(await waitFor(() => bed.sockets.size === 0, 5_000), `${bed.sockets.size} sockets left open`);
    });

    test('a target that stops reading stops the sender; nothing is lost when it reads again', async () => {
      let held: Socket | undefined;
      let received = 0;
      const done = new Promise<string>((resolve) => {
        bed.onTarget = (s) => {
          held = s;
          s.pause();
          const chunks: Buffer[] = [];
          s.on('data', (c: Buffer) => {
            chunks.push(c);
            received += c.length;
          });
          s.once('end', () => {
            const all = Buffer.concat(chunks);
            s.end(sha(all));
            resolve(sha(all));
          });
        };
      });
      const s = await bed.open();
      const data = randomBytes(48 << 20);
      const reply = readAll(s);
      let blocked = false;
      for (let at = 0; at < data.length; at += 1 << 20) {
        if (!s.write(data.subarray(at, at + (1 << 20)))) blocked = true;
      }
      s.end();
      assert.ok(await waitFor(() => held !== undefined));
      // Held back: the paused target takes nothing, so the writer's side fills up and waits.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(received, 0);
      assert.ok(blocked || s.writableLength > 0, 'the application was pushed back');
      held!.resume();
      assert.equal(await done, sha(data));
      assert.equal((await reply).toString(), sha(data));
      // Both ends finished politely: every socket of the path closes (none left half-open).
      assert.ok(await waitFor(() => bed.sockets.size === 0, 5_000), `${bed.sockets.size} sockets left open`);
    });

    test('half-close: the application ends, the target still answers after its end', async () => {
      bed.onTarget = (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        s.once('end', () => {
          setTimeout(() => s.end(`got ${Buffer.concat(chunks).length}`), 50);
        });
      };
      const s = await bed.open();
      const reply = readAll(s);
      s.end(randomBytes(100_000));
      assert.equal((await reply).toString(), 'got 100000');
      assert.ok(await waitFor(() => bed.sockets.size === 0, 5_000), `${bed.sockets.size} sockets left open`);
    });

    test('a data connection cut mid-stream resets the target, not a clean end', async () => {
      let outcome: Promise<string> | undefined;
      bed.onTarget = (s) => {
        outcome = new Promise((resolve) => {
          s.on('data', () => {});
          s.once('end', () => resolve('end'));
          s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        });
      };
      const count = bed.clientChannels.length;
      const s = await bed.open();
      s.write(randomBytes(4 << 20));
      assert.ok(await waitFor(() => outcome !== undefined && bed.clientChannels.length > count));
      // The client's data connection ends (TCP FIN) without its final record: a truncation.
      bed.clientChannels.at(-1)!.socket.destroy();
      assert.equal(await outcome, 'ECONNRESET');
      s.destroy();
    });
  });
