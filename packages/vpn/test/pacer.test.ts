/** The bridge's delivery window: never more in the receiver's buffer than the window, nothing lost. */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DeliveryPacer, trueSize, udpReceiveQueue } from '../src/pacer.ts';

/** A receiver like the kernel's socket buffer: it drops what arrives over its capacity. */
class FakeReceiver {
  queue = 0;
  received: number[] = [];
  dropped = 0;
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  deliver(d: Buffer): void {
    if (this.queue >= this.capacity) {
      this.dropped++;
      return;
    }
    this.queue += trueSize(d.length);
    this.received.push(d.readUInt32BE(0));
  }
  drain(bytes: number): void {
    this.queue = Math.max(0, this.queue - bytes);
  }
}

const datagram = (seq: number, length: number) => {
  const d = Buffer.alloc(length);
  d.writeUInt32BE(seq, 0);
  return d;
};

describe('delivery pacer', () => {
  it('loses nothing to a slow reader and keeps order, whatever the bursts', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Bursts of up to 400 datagrams: several times the receiver's buffer.
        fc.array(
          fc.array(fc.integer({ min: 32, max: 1452 }), { minLength: 1, maxLength: 400, size: 'max' }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.integer({ min: 0, max: 50_000 }),
        async (bursts, drainPerTick) => {
          const receiver = new FakeReceiver(212_992);
          const fullCalls: boolean[] = [];
          const pacer = new DeliveryPacer({
            send: (d) => receiver.deliver(d),
            onFull: (full) => fullCalls.push(full),
            windowBytes: 160_000,
            queueBytes: 64 * 1024,
            receiverQueue: () => receiver.queue,
            retryMs: 1,
          });
          let seq = 0;
          for (const burst of bursts) for (const length of burst) pacer.push(datagram(seq++, length));
          // The reader takes a little each tick, and now and then (after a stall) everything.
          for (let tick = 1; pacer.queued > 0 && tick < 2000; tick++) {
            await new Promise((r) => setTimeout(r, 1));
            receiver.drain(tick % 20 === 0 ? 1 << 20 : drainPerTick);
          }
          pacer.close();
          assert.equal(receiver.dropped, 0);
          assert.deepEqual(
            receiver.received,
            Array.from({ length: seq }, (_, i) => i),
          );
          // Backpressure was asked for and released in turn.
          for (let i = 0; i < fullCalls.length; i++) assert.equal(fullCalls[i], i % 2 === 0);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('sends at once while the receiver has room (no wait for interactive traffic)', () => {
    const sent: Buffer[] = [];
    const pacer = new DeliveryPacer({
      send: (d) => sent.push(d),
      onFull: () => {},
      windowBytes: 160_000,
      queueBytes: 1 << 20,
      receiverQueue: () => 0,
      retryMs: 1,
    });
    pacer.push(datagram(1, 100));
    assert.equal(sent.length, 1);
    assert.equal(pacer.delayed, 0);
    pacer.close();
  });

  it('reads a real socket receive queue from /proc/net/udp', async (t) => {
    const receiver = createSocket('udp4');
    await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', () => r()));
    const port = receiver.address().port;
    const probe = udpReceiveQueue(port);
    t.after(() => {
      probe.close();
      receiver.close();
    });
    // The L3 VPN runs on Linux only, where procfs lists every UDP socket of the namespace.
    assert.notEqual(probe.read(), undefined, 'the bound socket is found in /proc/net/udp');
    const sender = createSocket('udp4');
    await new Promise<void>((r) => sender.connect(port, '127.0.0.1', () => r()));
    // Sent on a connected socket, the datagrams reach the receiver's buffer before this turn ends,
    // and the receiver cannot read them before it does.
    for (let i = 0; i < 10; i++) sender.send(Buffer.alloc(1400));
    const queued = probe.read();
    sender.close();
    assert.ok(queued !== undefined && queued >= 10 * 1400, `rx_queue ${queued}`);
    assert.ok(queued <= 10 * trueSize(1400), `rx_queue ${queued} over the estimate`);
    assert.equal(udpReceiveQueue(1).read(), undefined, 'no socket on port 1');
  });
});
