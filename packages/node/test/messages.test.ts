import assert from 'node:assert/strict';
import { randomBytes as nodeRandomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CHALLENGE_BYTES,
  MAX_AUTHENTICATOR_BYTES,
  MAX_TICKET_BYTES,
} from '../src/p2p/admission/constants.ts';
import {
  type AdmissionMessage,
  decodeAdmissionMessage,
  encodeAdmissionMessage,
  MessageType,
  VerdictCode,
} from '../src/p2p/admission/messages.ts';
import { P2pError } from '../src/p2p/errors.ts';

const randomBytes = (n: number) => new Uint8Array(nodeRandomBytes(n));

function randomMessage(): AdmissionMessage {
  const code = randomInt(0, 8) as VerdictCode;
  switch (randomInt(1, 5)) {
    case 1:
      return { type: MessageType.CHALLENGE, challenge: randomBytes(CHALLENGE_BYTES) };
    case 2:
      return {
        type: MessageType.PROOF,
        ticket: randomBytes(randomInt(0, MAX_TICKET_BYTES + 1)),
        authenticator: randomBytes(randomInt(0, MAX_AUTHENTICATOR_BYTES + 1)),
        challenge: randomBytes(CHALLENGE_BYTES),
      };
    case 3:
      return {
        type: MessageType.LISTENER_VERDICT,
        code,
        reason: 'x'.repeat(randomInt(0, 200)),
        ticket: randomBytes(randomInt(0, 100)),
        authenticator: randomBytes(randomInt(0, 100)),
      };
    default:
      return { type: MessageType.DIALER_VERDICT, code, reason: 'ü'.repeat(randomInt(0, 100)) };
  }
}

describe('admission messages', () => {
  it('round-trip for 500 random messages', () => {
    for (let i = 0; i < 500; i++) {
      const msg = randomMessage();
      assert.deepEqual(decodeAdmissionMessage(encodeAdmissionMessage(msg), msg.type), msg);
    }
  });

  it('reject every truncation and any trailing byte', () => {
    for (let i = 0; i < 50; i++) {
      const msg = randomMessage();
      const bytes = encodeAdmissionMessage(msg);
      for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 16))) {
        assert.throws(() => decodeAdmissionMessage(bytes.subarray(0, cut), msg.type), P2pError);
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      assert.throws(() => decodeAdmissionMessage(longer, msg.type), /trailing/);
    }
  });

  it('random bytes only ever fail with a P2pError', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(randomInt(0, 300));
      if (i % 2 === 0 && bytes.length > 1) bytes[0] = 1; // valid version, so the body parser runs
      for (const type of [1, 2, 3, 4] as const) {
        try {
          decodeAdmissionMessage(bytes, type);
        } catch (err) {
          assert.ok(err instanceof P2pError, `unexpected ${(err as Error).name}`);
        }
      }
    }
  });

  it('reject an unknown version, a wrong type, an unknown verdict code and oversized fields', () => {
    const ok = encodeAdmissionMessage({
      type: MessageType.DIALER_VERDICT,
      code: VerdictCode.ADMITTED,
      reason: '',
    });
    assert.throws(() => decodeAdmissionMessage(Uint8Array.of(9, ...ok.subarray(1)), 4), {
      code: 'UNSUPPORTED_VERSION',
    });
    assert.throws(() => decodeAdmissionMessage(ok, MessageType.CHALLENGE), { code: 'MALFORMED_MESSAGE' });
    assert.throws(() => decodeAdmissionMessage(Uint8Array.of(1, 4, 99, 0, 0), 4), /verdict code/);
    assert.throws(() =>
      encodeAdmissionMessage({
        type: MessageType.PROOF,
        ticket: new Uint8Array(MAX_TICKET_BYTES + 1),
        authenticator: new Uint8Array(0),
        challenge: new Uint8Array(CHALLENGE_BYTES),
      }),
    );
    const huge = Uint8Array.of(1, 2, 0xff, 0xff);
    assert.throws(() => decodeAdmissionMessage(huge, MessageType.PROOF), /exceeds/);
  });
});
