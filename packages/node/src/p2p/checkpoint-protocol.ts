/**
 * `/dibs/checkpoint/1.0`: a full node answers one request per stream with its signed checkpoint (the
 * newest, or one at a height within its signing window) or its compact node-set proof at a height.
 * Request and answer are one length-prefixed JSON frame each, bounded in size and time; each peer is
 * rate limited; anything malformed resets the stream with a log line and the node carries on.
 */
import {
  CHECKPOINT_MAX_INBOUND_STREAMS,
  CHECKPOINT_PROTOCOL,
  CHECKPOINT_RATE_BURST,
  CHECKPOINT_RATE_PEERS,
  CHECKPOINT_RATE_PER_SECOND,
  CHECKPOINT_TIMEOUT_MS,
  type CheckpointSigner,
  MAX_CHECKPOINT_MESSAGE_BYTES,
  type SignedCheckpoint,
  signedCheckpointFromJson,
  signedCheckpointToJson,
} from '@dibs/light';
import type { PeerId } from '@libp2p/interface';
import * as lp from 'it-length-prefixed';
import { P2pError } from './errors.ts';
import { FramedStream } from './frames.ts';
import type { DibsHost } from './host.ts';
import type { P2pLogger } from './log.ts';

/** Largest answer: a compact node-set proof in base64 (a full set of 64 nodes stays far below). */
export const MAX_CHECKPOINT_ANSWER_BYTES = 96 * 1024;

/** A request: the newest checkpoint, a signature at `number`, or the node-set proof at `number`. */
export interface CheckpointRequest {
  number?: bigint;
  nodeSet?: boolean;
}

const NUMBER_RE = /^(0|[1-9][0-9]{0,19})$/;

/** Parses a request frame strictly; throws MALFORMED_MESSAGE. */
export function decodeCheckpointRequest(frame: Uint8Array): CheckpointRequest {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame));
  } catch {
    throw new P2pError('MALFORMED_MESSAGE', 'checkpoint request is not UTF-8 JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new P2pError('MALFORMED_MESSAGE', 'checkpoint request must be a JSON object');
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'number' && k !== 'nodeSet')
      throw new P2pError('MALFORMED_MESSAGE', `checkpoint request has unknown field ${k}`);
  }
  const req: CheckpointRequest = {};
  if (o.number !== undefined) {
    if (typeof o.number !== 'string' || !NUMBER_RE.test(o.number)) {
      throw new P2pError('MALFORMED_MESSAGE', 'checkpoint request number must be a decimal string');
    }
    req.number = BigInt(o.number);
  }
  if (o.nodeSet !== undefined) {
    if (o.nodeSet !== true || req.number === undefined) {
      throw new P2pError('MALFORMED_MESSAGE', 'nodeSet must be true and come with a number');
    }
    req.nodeSet = true;
  }
  return req;
}

/** What a full node serves. */
export interface CheckpointServerOptions {
  signer: CheckpointSigner;
  /** The compact node-set proof at a height of its own chain. */
  nodeSetProof: (number: bigint) => Promise<Uint8Array>;
  logger?: P2pLogger;
}

/** A token bucket per peer, the least recently seen forgotten first. */
class PeerRate {
  #buckets = new Map<string, { tokens: number; at: number }>();
  allow(peer: string, now = Date.now()): boolean {
    const b = this.#buckets.get(peer) ?? { tokens: CHECKPOINT_RATE_BURST, at: now };
    this.#buckets.delete(peer);
    b.tokens = Math.min(CHECKPOINT_RATE_BURST, b.tokens + ((now - b.at) / 1000) * CHECKPOINT_RATE_PER_SECOND);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    if (this.#buckets.size >= CHECKPOINT_RATE_PEERS) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(peer, b);
    return ok;
  }
}

/** Serves `/dibs/checkpoint/1.0` on `host` (behind its admission gate). */
export async function serveCheckpoints(host: DibsHost, options: CheckpointServerOptions): Promise<void> {
  const rate = new PeerRate();
  const log = options.logger;
  await host.handle(
    CHECKPOINT_PROTOCOL,
    async (stream, connection) => {
      // Requests are small: the reader refuses a longer frame before buffering it.
      const framed = new FramedStream(stream, MAX_CHECKPOINT_MESSAGE_BYTES);
      const peer = connection.remotePeer.toString();
      try {
        const frame = await framed.read(CHECKPOINT_TIMEOUT_MS, 'checkpoint request');
        const req = decodeCheckpointRequest(frame);
        let answer: unknown;
        if (!rate.allow(peer)) answer = { error: 'rate limited: too many checkpoint requests; slow down' };
        else if (req.nodeSet) {
          const proof = await options.nodeSetProof(req.number!);
          answer = { nodeSetProof: Buffer.from(proof).toString('base64') };
        } else {
          const signed =
            req.number === undefined
              ? await options.signer.signLatest()
              : await options.signer.signAt(req.number);
          answer = signed
            ? { checkpoint: signedCheckpointToJson(signed) }
            : { error: 'no checkpoint at that height' };
        }
        const bytes = new TextEncoder().encode(JSON.stringify(answer));
        if (bytes.length > MAX_CHECKPOINT_ANSWER_BYTES)
          throw new P2pError('FRAME_TOO_LARGE', 'checkpoint answer over its bound');
        if (!stream.send(lp.encode.single(bytes)))
          await stream.onDrain({ signal: AbortSignal.timeout(CHECKPOINT_TIMEOUT_MS) });
        await framed.close(CHECKPOINT_TIMEOUT_MS);
      } catch (err) {
        log?.warn('checkpoint request refused', { peer, error: (err as Error).message });
        framed.reset(err as Error);
      }
    },
    { maxInboundStreams: CHECKPOINT_MAX_INBOUND_STREAMS, runOnLimitedConnection: true },
  );
}

async function ask(
  host: DibsHost,
  peer: PeerId,
  req: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(CHECKPOINT_TIMEOUT_MS);
  const connection = await host.libp2p.dial(peer, { signal });
  const stream = await connection.newStream(CHECKPOINT_PROTOCOL, { signal, runOnLimitedConnection: true });
  const framed = new FramedStream(stream, MAX_CHECKPOINT_ANSWER_BYTES);
  try {
    await framed.write(new TextEncoder().encode(JSON.stringify(req)), CHECKPOINT_TIMEOUT_MS);
    const frame = await framed.read(CHECKPOINT_TIMEOUT_MS, 'checkpoint answer');
    const answer = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame)) as unknown;
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
      throw new P2pError('MALFORMED_MESSAGE', 'checkpoint answer must be a JSON object');
    }
    const o = answer as Record<string, unknown>;
    if (typeof o.error === 'string')
      throw new P2pError('MALFORMED_MESSAGE', `the full node says: ${o.error.slice(0, 200)}`);
    return o;
  } finally {
    await framed.close(CHECKPOINT_TIMEOUT_MS);
  }
}

/** Asks `peer` for its newest signed checkpoint, or its signature at `number`. */
export async function requestCheckpoint(
  host: DibsHost,
  peer: PeerId,
  number?: bigint,
): Promise<SignedCheckpoint> {
  const o = await ask(host, peer, number === undefined ? {} : { number: number.toString() });
  return signedCheckpointFromJson(o.checkpoint);
}

/** Asks `peer` for its compact node-set proof at `number` (verified by the caller). */
export async function requestNodeSetProof(host: DibsHost, peer: PeerId, number: bigint): Promise<Uint8Array> {
  const o = await ask(host, peer, { number: number.toString(), nodeSet: true });
  if (typeof o.nodeSetProof !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.nodeSetProof)) {
    throw new P2pError('MALFORMED_MESSAGE', 'nodeSetProof must be base64');
  }
  return Uint8Array.from(Buffer.from(o.nodeSetProof, 'base64'));
}
