import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { noise } from '@libp2p/noise';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import * as lp from 'it-length-prefixed';
import { createLibp2p } from 'libp2p';
import { ADMISSION_PROTOCOL } from '../src/p2p/admission/constants.ts';
import { ECHO, echo, echoHandler, startHost, TestNetwork, waitFor, walletKey } from './helpers.ts';

// Every case dials with `force`: the host drops the attacker's previous connection after each bad
// exchange, and a plain dial could hand back that connection while it is still closing.

type Host = Awaited<ReturnType<typeof startHost>>;

async function attacker(): Promise<Libp2p> {
  return createLibp2p({
    privateKey: privateKeyFromRaw(walletKey()),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
  });
}

function ended(stream: Stream): Promise<boolean> {
  return waitFor(() => stream.status !== 'open', 8_000);
}

describe('bad input on the admission protocol', () => {
  const net = new TestNetwork();
  let host: Host;
  let friend: Host;
  let evil: Libp2p;
  let conn: Connection;

  before(async () => {
    host = await startHost(net, { admissionTimeoutMs: 20_000, messageTimeoutMs: 1_000 });
    friend = await startHost(net);
    await host.handle(ECHO, echoHandler);
    evil = await attacker();
    conn = await evil.dial(host.multiaddrs()[0]!, { force: true });
  });
  after(async () => {
    await Promise.all([host.stop(), friend.stop(), evil.stop()]);
  });

  const stillServes = async () => {
    await friend.connect(host.multiaddrs()[0]!);
    assert.equal(await echo(friend, host.peerId, 'still here'), 'still here');
  };
  const logged = (pattern: RegExp) =>
    host.logger.lines.some((l) => l.msg === 'admission refused' && pattern.test(String(l.fields?.reason)));

  it('a complete frame of random bytes resets the stream and is logged', async () => {
    const stream = await conn.newStream(ADMISSION_PROTOCOL);
    stream.send(lp.encode.single(randomBytes(64)));
    assert.ok(await ended(stream));
    assert.ok(await waitFor(() => logged(/malformed|not supported/)));
    await stillServes();
  });

  it('raw random bytes reset the stream, whatever length they seem to announce', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await evil.dial(host.multiaddrs()[0]!, { force: true });
      const stream = await c.newStream(ADMISSION_PROTOCOL);
      stream.send(randomBytes(64));
      assert.ok(await ended(stream));
    }
    await stillServes();
  });

  it('an oversized frame is refused from its length prefix alone', async () => {
    const conn2 = await evil.dial(host.multiaddrs()[0]!, { force: true });
    const stream = await conn2.newStream(ADMISSION_PROTOCOL);
    // varint length 16 MiB, then a little body: the reader must not wait for or buffer 16 MiB
    stream.send(Uint8Array.of(0x80, 0x80, 0x80, 0x08, 1, 2, 3));
    assert.ok(await ended(stream));
    assert.ok(await waitFor(() => logged(/larger than/)));
    await stillServes();
  });

  it('a half-open slowloris stream is reset after the message timeout', async () => {
    const conn3 = await evil.dial(host.multiaddrs()[0]!, { force: true });
    const stream = await conn3.newStream(ADMISSION_PROTOCOL);
    stream.send(Uint8Array.of(40, 1, 2)); // claims 40 bytes, sends 2, then stalls
    assert.ok(await ended(stream));
    assert.ok(await waitFor(() => logged(/no complete/)));
    await stillServes();
  });

  it('many garbage streams at once do not stop the node', async () => {
    const streams: Stream[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await evil.dial(host.multiaddrs()[0]!, { force: true }).catch(() => undefined);
      if (!c) continue;
      const s = await c.newStream(ADMISSION_PROTOCOL).catch(() => undefined);
      if (!s) continue;
      try {
        s.send(randomBytes(1 + (i % 50)));
      } catch {} // already reset by the node: that is the point
      streams.push(s);
    }
    await stillServes();
    for (const s of streams) assert.ok(await ended(s));
  });
});
