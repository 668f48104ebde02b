/** Both halves of the mutual admission exchange on one `/dibs/admission/1.0` stream. */
import { randomBytes } from 'node:crypto';
import type { PeerId, Stream } from '@libp2p/interface';
import { P2pError } from '../errors.ts';
import { FramedStream } from '../frames.ts';
import type { AdmissionAuthority, AdmissionCredential, AdmissionGrant } from './authority.ts';
import { CHALLENGE_BYTES, MAX_ADMISSION_FRAME_BYTES, MAX_REASON_BYTES } from './constants.ts';
import { decodeAdmissionMessage, encodeAdmissionMessage, MessageType, VerdictCode } from './messages.ts';

/** What an exchange needs besides the stream. */
export interface ExchangeContext {
  authority: AdmissionAuthority;
  remotePeer: PeerId;
  messageTimeoutMs: number;
  /** Extra local policy on a verified grant (revoked grant ids); returns a refusal or undefined. */
  check(grant: AdmissionGrant): { code: VerdictCode; reason: string } | undefined;
  /** Called as soon as the remote is admitted by us, before we answer, so its next streams pass the gate. */
  onAdmitted(grant: AdmissionGrant): void;
  /** Called when the remote tells us it admitted us. */
  onRemoteAdmitted(): void;
}

/** The result of one exchange from our side. */
export type ExchangeOutcome =
  | { admitted: true; grant: AdmissionGrant }
  | { admitted: false; by: 'us' | 'remote'; code: VerdictCode; reason: string };

/** Listener side: challenge the dialer, verify its proof, answer with our verdict and our own proof. */
export async function runListenerExchange(stream: Stream, ctx: ExchangeContext): Promise<ExchangeOutcome> {
  const framed = new FramedStream(stream, MAX_ADMISSION_FRAME_BYTES);
  const t = ctx.messageTimeoutMs;
  const challenge = randomBytes(CHALLENGE_BYTES);
  await framed.write(encodeAdmissionMessage({ type: MessageType.CHALLENGE, challenge }), t);
  const proof = decodeOrReset(framed, await framed.read(t, 'admission proof'), MessageType.PROOF);

  const verdict = await verifyProof(ctx, proof.ticket, proof.authenticator, challenge);
  if (!verdict.admitted) {
    await framed.write(
      encodeAdmissionMessage({
        type: MessageType.LISTENER_VERDICT,
        code: verdict.code,
        reason: verdict.reason,
        ticket: new Uint8Array(0),
        authenticator: new Uint8Array(0),
      }),
      t,
    );
    await framed.close(t);
    return verdict;
  }
  let own: AdmissionCredential;
  try {
    own = await ctx.authority.credentialFor(ctx.remotePeer, proof.challenge);
  } catch (err) {
    // We cannot prove ourselves: tell the dialer why at once instead of letting it time out.
    const failed = credentialError(err);
    await framed.write(
      encodeAdmissionMessage({
        type: MessageType.LISTENER_VERDICT,
        code: VerdictCode.INTERNAL,
        reason: clip(failed.message),
        ticket: new Uint8Array(0),
        authenticator: new Uint8Array(0),
      }),
      t,
    );
    await framed.close(t);
    return { admitted: false, by: 'us', code: VerdictCode.INTERNAL, reason: clip(failed.message) };
  }
  ctx.onAdmitted(verdict.grant);
  await framed.write(
    encodeAdmissionMessage({
      type: MessageType.LISTENER_VERDICT,
      code: VerdictCode.ADMITTED,
      reason: '',
      ticket: own.ticket,
      authenticator: own.authenticator,
    }),
    t,
  );
  const answer = decodeOrReset(framed, await framed.read(t, 'dialer verdict'), MessageType.DIALER_VERDICT);
  await framed.close(t);
  if (answer.code !== VerdictCode.ADMITTED) {
    return { admitted: false, by: 'remote', code: answer.code, reason: answer.reason };
  }
  ctx.onRemoteAdmitted();
  return verdict;
}

/** Dialer side: prove ourselves for the listener's challenge, then verify the listener's proof. */
export async function runDialerExchange(stream: Stream, ctx: ExchangeContext): Promise<ExchangeOutcome> {
  const framed = new FramedStream(stream, MAX_ADMISSION_FRAME_BYTES);
  const t = ctx.messageTimeoutMs;
  const { challenge: theirs } = decodeOrReset(
    framed,
    await framed.read(t, 'admission challenge'),
    MessageType.CHALLENGE,
  );
  const ours = randomBytes(CHALLENGE_BYTES);
  let own: AdmissionCredential;
  try {
    own = await ctx.authority.credentialFor(ctx.remotePeer, theirs);
  } catch (err) {
    // Nothing to present: reset the stream now so the listener does not wait out its message timeout.
    const failed = credentialError(err);
    framed.reset(failed);
    throw failed;
  }
  await framed.write(
    encodeAdmissionMessage({
      type: MessageType.PROOF,
      ticket: own.ticket,
      authenticator: own.authenticator,
      challenge: ours,
    }),
    t,
  );
  const theirVerdict = decodeOrReset(
    framed,
    await framed.read(t, 'listener verdict'),
    MessageType.LISTENER_VERDICT,
  );
  if (theirVerdict.code !== VerdictCode.ADMITTED) {
    await framed.close(t);
    return { admitted: false, by: 'remote', code: theirVerdict.code, reason: theirVerdict.reason };
  }
  ctx.onRemoteAdmitted();
  const verdict = await verifyProof(ctx, theirVerdict.ticket, theirVerdict.authenticator, ours);
  if (verdict.admitted) ctx.onAdmitted(verdict.grant);
  await framed.write(
    encodeAdmissionMessage({
      type: MessageType.DIALER_VERDICT,
      code: verdict.admitted ? VerdictCode.ADMITTED : verdict.code,
      reason: verdict.admitted ? '' : verdict.reason,
    }),
    t,
  );
  await framed.close(t);
  return verdict;
}

async function verifyProof(
  ctx: ExchangeContext,
  ticket: Uint8Array,
  authenticator: Uint8Array,
  challenge: Uint8Array,
): Promise<ExchangeOutcome> {
  let grant: AdmissionGrant;
  try {
    grant = await ctx.authority.verify(ctx.remotePeer, ticket, authenticator, challenge);
  } catch (err) {
    return {
      admitted: false,
      by: 'us',
      code: codeOf(err),
      reason: clip((err as Error)?.message ?? String(err)),
    };
  }
  if (!(grant.expiresAt > Date.now())) {
    return { admitted: false, by: 'us', code: VerdictCode.EXPIRED, reason: 'the network ticket has expired' };
  }
  const refusal = ctx.check(grant);
  if (refusal) return { admitted: false, by: 'us', ...refusal };
  return { admitted: true, grant };
}

function decodeOrReset<T extends 1 | 2 | 3 | 4>(framed: FramedStream, bytes: Uint8Array, type: T) {
  try {
    return decodeAdmissionMessage(bytes, type);
  } catch (err) {
    framed.reset(err as Error);
    throw err;
  }
}

/** Wraps a failure of our own ticket layer in a CREDENTIAL_UNAVAILABLE error that says what to do. */
function credentialError(err: unknown): P2pError {
  return new P2pError(
    'CREDENTIAL_UNAVAILABLE',
    `this node cannot present a network ticket: ${(err as Error)?.message ?? String(err)}; check its network grant`,
    { cause: err },
  );
}

/** Maps a verifier's error code to a verdict code the remote understands. */
function codeOf(err: unknown): VerdictCode {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (/REVOKED/.test(code)) return VerdictCode.REVOKED;
  if (/EXPIRED|SKEW|NOT_YET/.test(code)) return VerdictCode.EXPIRED;
  return VerdictCode.INVALID_TICKET;
}

/** Keeps a reason within the wire bound (bytes, not characters). */
export function clip(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= MAX_REASON_BYTES) return reason;
  return new TextDecoder().decode(bytes.subarray(0, MAX_REASON_BYTES - 3)).replace(/\uFFFD+$/, '');
}

/** Whether an error came from bad input rather than from our side. */
export function isProtocolError(err: unknown): err is P2pError {
  return err instanceof P2pError;
}
