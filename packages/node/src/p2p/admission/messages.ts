/** The four admission messages: schema, encoding and strict decoding. */
import { Reader, Writer } from '../codec.ts';
import { P2pError } from '../errors.ts';
import {
  ADMISSION_VERSION,
  CHALLENGE_BYTES,
  MAX_ADMISSION_FRAME_BYTES,
  MAX_AUTHENTICATOR_BYTES,
  MAX_REASON_BYTES,
  MAX_TICKET_BYTES,
} from './constants.ts';

/** Verdict codes carried by admission results. */
export const VerdictCode = {
  ADMITTED: 0,
  INVALID_TICKET: 1,
  REVOKED: 2,
  EXPIRED: 3,
  MALFORMED: 4,
  UNSUPPORTED_VERSION: 5,
  TIMEOUT: 6,
  INTERNAL: 7,
} as const;
/** One of {@link VerdictCode}. */
export type VerdictCode = (typeof VerdictCode)[keyof typeof VerdictCode];
const VERDICT_CODES = new Set<number>(Object.values(VerdictCode));

/** Message type tags. */
export const MessageType = { CHALLENGE: 1, PROOF: 2, LISTENER_VERDICT: 3, DIALER_VERDICT: 4 } as const;

/** Listener → dialer: the nonce the dialer's authenticator must bind. */
export interface ChallengeMessage {
  type: typeof MessageType.CHALLENGE;
  challenge: Uint8Array;
}

/** Dialer → listener: the dialer's proof, and its own challenge for the listener. */
export interface ProofMessage {
  type: typeof MessageType.PROOF;
  ticket: Uint8Array;
  authenticator: Uint8Array;
  challenge: Uint8Array;
}

/** Listener → dialer: the verdict on the dialer and, if admitted, the listener's own proof. */
export interface ListenerVerdictMessage {
  type: typeof MessageType.LISTENER_VERDICT;
  code: VerdictCode;
  reason: string;
  ticket: Uint8Array;
  authenticator: Uint8Array;
}

/** Dialer → listener: the verdict on the listener. */
export interface DialerVerdictMessage {
  type: typeof MessageType.DIALER_VERDICT;
  code: VerdictCode;
  reason: string;
}

/** Any admission message. */
export type AdmissionMessage =
  | ChallengeMessage
  | ProofMessage
  | ListenerVerdictMessage
  | DialerVerdictMessage;

/** Encodes a message; throws MALFORMED_MESSAGE if a field is out of bounds. */
export function encodeAdmissionMessage(msg: AdmissionMessage): Uint8Array {
  const w = new Writer().u8(ADMISSION_VERSION).u8(msg.type);
  switch (msg.type) {
    case MessageType.CHALLENGE:
      w.fixed(msg.challenge, CHALLENGE_BYTES);
      break;
    case MessageType.PROOF:
      w.bytes(msg.ticket, MAX_TICKET_BYTES)
        .bytes(msg.authenticator, MAX_AUTHENTICATOR_BYTES)
        .fixed(msg.challenge, CHALLENGE_BYTES);
      break;
    case MessageType.LISTENER_VERDICT:
      w.u8(msg.code)
        .text(msg.reason, MAX_REASON_BYTES)
        .bytes(msg.ticket, MAX_TICKET_BYTES)
        .bytes(msg.authenticator, MAX_AUTHENTICATOR_BYTES);
      break;
    case MessageType.DIALER_VERDICT:
      w.u8(msg.code).text(msg.reason, MAX_REASON_BYTES);
      break;
  }
  return w.finish();
}

/** Decodes a message of the expected type; any deviation throws MALFORMED_MESSAGE or UNSUPPORTED_VERSION. */
export function decodeAdmissionMessage<T extends AdmissionMessage['type']>(
  bytes: Uint8Array,
  expected: T,
): Extract<AdmissionMessage, { type: T }> {
  if (bytes.length > MAX_ADMISSION_FRAME_BYTES) {
    throw new P2pError('MALFORMED_MESSAGE', `admission message of ${bytes.length} bytes exceeds the bound`);
  }
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== ADMISSION_VERSION) {
    throw new P2pError(
      'UNSUPPORTED_VERSION',
      `admission message version ${version} is not supported (this node speaks ${ADMISSION_VERSION}); upgrade the older node`,
    );
  }
  const type = r.u8();
  if (type !== expected) {
    throw new P2pError('MALFORMED_MESSAGE', `expected admission message type ${expected}, got ${type}`);
  }
  let msg: AdmissionMessage;
  switch (type) {
    case MessageType.CHALLENGE:
      msg = { type, challenge: r.fixed(CHALLENGE_BYTES) };
      break;
    case MessageType.PROOF:
      msg = {
        type,
        ticket: r.bytes(MAX_TICKET_BYTES),
        authenticator: r.bytes(MAX_AUTHENTICATOR_BYTES),
        challenge: r.fixed(CHALLENGE_BYTES),
      };
      break;
    case MessageType.LISTENER_VERDICT:
      msg = {
        type,
        code: verdictCode(r.u8()),
        reason: r.text(MAX_REASON_BYTES),
        ticket: r.bytes(MAX_TICKET_BYTES),
        authenticator: r.bytes(MAX_AUTHENTICATOR_BYTES),
      };
      break;
    case MessageType.DIALER_VERDICT:
      msg = { type, code: verdictCode(r.u8()), reason: r.text(MAX_REASON_BYTES) };
      break;
    default:
      throw new P2pError('MALFORMED_MESSAGE', `unknown admission message type ${type}`);
  }
  r.end();
  return msg as Extract<AdmissionMessage, { type: T }>;
}

function verdictCode(n: number): VerdictCode {
  if (!VERDICT_CODES.has(n)) throw new P2pError('MALFORMED_MESSAGE', `unknown verdict code ${n}`);
  return n as VerdictCode;
}
