/**
 * Bad input from an ADMITTED peer on the DIBS protocols it may open: the private Kad-DHT that carries
 * node records, and libp2p's identify and ping under the DIBS prefix. Random bytes, oversized frames and
 * half-open streams end that stream; the node keeps serving everyone else. The last test keeps this
 * file honest: every DIBS protocol id in the p2p constants must be covered here or in bad-input.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import * as admissionConstants from '../src/p2p/admission/constants.ts';
import * as p2pConstants from '../src/p2p/constants.ts';
import { DHT_MAX_MESSAGE_BYTES, DHT_PROTOCOL, PROTOCOL_PREFIX } from '../src/p2p/constants.ts';
import { findNodeRecord, publishNodeRecord } from '../src/p2p/records.ts';
import { ECHO, echo, echoHandler, startHost, TestNetwork, waitFor } from './helpers.ts';

type Host = Awaited<ReturnType<typeof startHost>>;

const IDENTIFY = `/${PROTOCOL_PREFIX}/id/1.0.0`;
const PING = `/${PROTOCOL_PREFIX}/ping/1.0.0`;
/** Protocols whose bad input this file sends from an admitted peer. */
const COVERED_HERE = [DHT_PROTOCOL, IDENTIFY, PING];
/** Covered by bad-input.test.ts (an unadmitted peer may only ever open admission). */
const COVERED_ELSEWHERE = [admissionConstants.ADMISSION_PROTOCOL];
/** Short DHT message timeout so the half-open case ends within the test's bounds. */
const DHT_MESSAGE_TIMEOUT_MS = 1_000;

/** The node is done with the stream: reset it, or closed its side. */
function ended(stream: Stream): Promise<boolean> {
  return waitFor(() => stream.status !== 'open' || stream.remoteWriteStatus !== 'writable', 15_000);
}

describe('bad input from an admitted peer on the DHT and libp2p protocols', () => {
  const net = new TestNetwork();
  let host: Host;
  let friend: Host;
  let evil: Host;

  before(async () => {
    host = await startHost(net, { dht: { messageTimeoutMs: DHT_MESSAGE_TIMEOUT_MS } });
    friend = await startHost(net);
    evil = await startHost(net);
    await host.handle(ECHO, echoHandler);
    await evil.connect(host.multiaddrs()[0]!);
    await friend.connect(host.multiaddrs()[0]!);
    await publishNodeRecord(host, { roles: 0 });
  });
  after(async () => {
    await Promise.all([host.stop(), friend.stop(), evil.stop()]);
  });

  const open = (protocol: string) =>
    evil.libp2p.dialProtocol(host.peerId, protocol, { signal: AbortSignal.timeout(5_000) });

  /** The host still answers others on every protocol that matters. */
  const stillServes = async () => {
    assert.equal(await echo(friend, host.peerId, 'still here'), 'still here');
    const { addressFromPeerId } = await import('@dibs/core');
    const rec = await findNodeRecord(friend, addressFromPeerId(host.peerId), 10_000);
    assert.equal(rec.peerId, host.peerId.toString());
    assert.ok(host.admission.isAdmitted(friend.peerId));
  };

  it('a DHT frame of random bytes ends the stream', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await open(DHT_PROTOCOL);
      const body = randomBytes(64);
      s.send(Uint8Array.of(body.length, ...body));
      assert.ok(await ended(s), 'stream ended');
    }
    await stillServes();
  });

  it('an oversized DHT frame is refused from its length prefix alone, and logged', async () => {
    const s = await open(DHT_PROTOCOL);
    // varint 64 MiB, then a few bytes: libp2p's DHT alone would wait to buffer all of it
    s.send(Uint8Array.of(0x80, 0x80, 0x80, 0x20, 1, 2, 3));
    assert.ok(await ended(s));
    assert.ok(
      await waitFor(() => host.logger.lines.some((l) => l.msg === 'stream reset: frame over the bound')),
    );
    await stillServes();
  });

  it('a DHT frame just over the bound is reset even when its body keeps coming', async () => {
    const s = await open(DHT_PROTOCOL);
    const n = DHT_MAX_MESSAGE_BYTES + 1;
    s.send(Uint8Array.of((n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14));
    for (let i = 0; i < 8 && s.status === 'open'; i++) {
      try {
        if (!s.send(new Uint8Array(32 * 1024))) await s.onDrain({ signal: AbortSignal.timeout(5_000) });
      } catch {
        break;
      }
    }
    assert.ok(await ended(s));
    await stillServes();
  });

  it('a half-open DHT stream is reset after the message timeout', async () => {
    const s = await open(DHT_PROTOCOL);
    s.send(Uint8Array.of(40, 1, 2)); // claims 40 bytes, sends 2, then stalls
    assert.ok(await ended(s));
    await stillServes();
  });

  it('garbage on identify and ping does not stop the node', async () => {
    for (const protocol of [IDENTIFY, PING]) {
      const s = await open(protocol);
      try {
        s.send(randomBytes(200));
        s.send(Uint8Array.of(0x80, 0x80, 0x80, 0x20));
      } catch {} // already reset by the node: fine
      assert.ok(await ended(s), `${protocol} stream ended`);
    }
    await stillServes();
  });

  it('many garbage DHT streams at once leave the node serving', async () => {
    const streams: Stream[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await open(DHT_PROTOCOL).catch(() => undefined);
      if (!s) continue;
      try {
        s.send(randomBytes(1 + (i % 50)));
      } catch {}
      streams.push(s);
    }
    await stillServes();
    for (const s of streams) assert.ok(await ended(s));
  });

  it('every DIBS protocol id in the p2p constants is covered by a bad-input test', () => {
    const values: unknown[] = [...Object.values(p2pConstants), ...Object.values(admissionConstants)];
    const ids = values.filter(
      (v): v is string => typeof v === 'string' && v.startsWith(`/${PROTOCOL_PREFIX}/`),
    );
    assert.ok(ids.length >= 2);
    for (const id of ids) {
      assert.ok([...COVERED_HERE, ...COVERED_ELSEWHERE].includes(id), `${id} has no bad-input test`);
    }
  });
});
