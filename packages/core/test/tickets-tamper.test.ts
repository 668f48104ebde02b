import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashTicket, TicketError } from '../src/tickets/index.ts';
import { makeWorld, TCP_SERVICE } from './tickets-helpers.ts';

describe('tampering', () => {
  it('changing any single byte of a ticket gets it rejected', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    let rejected = 0;
    for (let pos = 0; pos < t.ticket.length; pos++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const bad = t.ticket.slice();
        bad[pos]! ^= flip;
        // The authenticator covers the tampered bytes, so only the ticket's own protection can catch it.
        const authenticator = w.auth({ ticketHash: hashTicket(bad), sessionKey: t.sessionKey });
        assert.throws(
          () => w.verifier.verify({ ticket: bad, authenticator, remotePeerId: w.client.peerId }),
          (err: unknown) => err instanceof TicketError,
          `byte ${pos} ^ ${flip} was accepted`,
        );
        rejected++;
      }
      // Control: the untouched ticket still verifies with a fresh authenticator.
      if (pos % 32 === 0)
        assert.ok(
          w.verifier.verify({ ticket: t.ticket, authenticator: w.auth(t), remotePeerId: w.client.peerId }),
        );
    }
    assert.equal(rejected, t.ticket.length * 3);
  });

  it('truncated or extended tickets are rejected', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    for (let len = 0; len < t.ticket.length; len++) {
      const bad = t.ticket.slice(0, len);
      const authenticator = w.auth({ ticketHash: hashTicket(bad), sessionKey: t.sessionKey });
      assert.throws(
        () => w.verifier.verify({ ticket: bad, authenticator, remotePeerId: w.client.peerId }),
        TicketError,
      );
    }
    const longer = new Uint8Array(t.ticket.length + 1);
    longer.set(t.ticket);
    const authenticator = w.auth({ ticketHash: hashTicket(longer), sessionKey: t.sessionKey });
    assert.throws(
      () => w.verifier.verify({ ticket: longer, authenticator, remotePeerId: w.client.peerId }),
      TicketError,
    );
  });

  it('changing any single byte of an authenticator gets it rejected', async () => {
    const w = await makeWorld();
    const t = w.issue('service', TCP_SERVICE);
    const challenge = new Uint8Array(16).fill(3);
    const probe = w.auth(t, { challenge });
    for (let pos = 0; pos < probe.length; pos++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        // A fresh authenticator per attempt, so a rejection cannot come from the replay cache.
        const bad = w.auth(t, { challenge });
        bad[pos]! ^= flip;
        assert.throws(
          () =>
            w.verifier.verify({
              ticket: t.ticket,
              authenticator: bad,
              remotePeerId: w.client.peerId,
              challenge,
            }),
          (err: unknown) => err instanceof TicketError && err.code !== 'REPLAY',
          `authenticator byte ${pos} ^ ${flip} was accepted`,
        );
      }
      const good = w.auth(t, { challenge });
      assert.ok(
        w.verifier.verify({
          ticket: t.ticket,
          authenticator: good,
          remotePeerId: w.client.peerId,
          challenge,
        }),
      );
    }
  });
});
