/** Test support: a signature-checking network authority, host factories and bounded waits. */
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { addressFromPeerId } from '@dibs/core';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PeerId, PrivateKey, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { Reader, Writer } from '../src/p2p/codec.ts';
import { FramedStream } from '../src/p2p/frames.ts';
import type {
  AdmissionAuthority,
  AdmissionCredential,
  AdmissionGrant,
} from '../src/p2p/admission/authority.ts';
import { createDibsHost, type DibsHost, type DibsHostOptions } from '../src/p2p/host.ts';
import type { P2pLogger } from '../src/p2p/log.ts';

/** A fresh random secp256k1 wallet key (32 bytes). */
/** Everything a readable side delivers until its end (rejects on error). */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

export function walletKey(): Uint8Array {
  for (let i = 0; i < 16; i++) {
    const raw = randomBytes(32);
    try {
      privateKeyFromRaw(raw);
      return raw;
    } catch {}
  }
  throw new Error('could not draw a valid secp256k1 key');
}

/** Error with a code, as a real ticket verifier throws. */
export class TestTicketError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * The network operator: signs network tickets (holder PeerId, grant id, expiry) and keeps the set of
 * revoked grants, as the chain would. Verification is real secp256k1 ECDSA, never a pass-through.
 */
export class TestNetwork {
  readonly #operator: PrivateKey;
  readonly revoked = new Set<bigint>();
  #nextGrant = 1n;

  constructor() {
    this.#operator = privateKeyFromRaw(walletKey());
  }

  /** A signed network ticket for `holder`. */
  async issue(holder: PeerId, lifetimeMs = 3_600_000): Promise<{ ticket: Uint8Array; grantId: bigint }> {
    const grantId = this.#nextGrant++;
    const body = new Writer()
      .bytes(holder.toMultihash().bytes, 64)
      .u64(grantId)
      .u64(BigInt(Date.now() + lifetimeMs))
      .finish();
    const sig = await this.#operator.sign(body);
    return { ticket: new Writer().bytes(body, 256).bytes(sig, 128).finish(), grantId };
  }

  /** The authority of one node holding `ticket`, signing authenticators with `key`. */
  authority(key: Uint8Array, ticket: Uint8Array): AdmissionAuthority {
    const own = privateKeyFromRaw(key);
    const operator = this.#operator.publicKey;
    const revoked = this.revoked;
    return {
      async credentialFor(remote: PeerId, challenge: Uint8Array): Promise<AdmissionCredential> {
        const ownPeer = (await import('@libp2p/peer-id')).peerIdFromPrivateKey(own);
        const sig = await own.sign(authInput(challenge, ownPeer, remote, ticket));
        return { ticket, authenticator: sig };
      },
      async verify(remote: PeerId, t: Uint8Array, authenticator: Uint8Array, challenge: Uint8Array) {
        let body: Uint8Array;
        let sig: Uint8Array;
        try {
          const r = new Reader(t);
          body = r.bytes(256);
          sig = r.bytes(128);
          r.end();
        } catch {
          throw new TestTicketError('DECODE', 'ticket does not decode');
        }
        if (!(await operator.verify(body, sig)))
          throw new TestTicketError('BAD_SIGNATURE', 'ticket not signed by the operator');
        const r = new Reader(body);
        const holder = r.bytes(64);
        const grantId = r.u64();
        const expiresAt = Number(r.u64());
        if (Buffer.compare(Buffer.from(holder), Buffer.from(remote.toMultihash().bytes)) !== 0) {
          throw new TestTicketError('WRONG_HOLDER', 'ticket belongs to another peer');
        }
        if (expiresAt <= Date.now()) throw new TestTicketError('EXPIRED', 'ticket expired');
        if (revoked.has(grantId)) throw new TestTicketError('REVOKED', `grant ${grantId} revoked`);
        const pub = remote.publicKey;
        const ownPeer = (await import('@libp2p/peer-id')).peerIdFromPrivateKey(own);
        if (!pub || !(await pub.verify(authInput(challenge, remote, ownPeer, t), authenticator))) {
          throw new TestTicketError('BAD_AUTHENTICATOR', 'authenticator does not prove the ticket holder');
        }
        return { grantId, expiresAt } satisfies AdmissionGrant;
      },
    };
  }
}

function authInput(challenge: Uint8Array, from: PeerId, to: PeerId, ticket: Uint8Array): Uint8Array {
  return createHash('sha256')
    .update('dibs-test-admission')
    .update(challenge)
    .update(from.toMultihash().bytes)
    .update(to.toMultihash().bytes)
    .update(ticket)
    .digest();
}

/** A logger that keeps lines for assertions. */
export function memoryLogger(): P2pLogger & {
  lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;
} {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A started host on loopback holding a ticket from `net`. */
export async function startHost(
  net: TestNetwork,
  options: Partial<DibsHostOptions> & { key?: Uint8Array; lifetimeMs?: number } = {},
): Promise<DibsHost & { grantId: bigint; logger: ReturnType<typeof memoryLogger> }> {
  const key = options.key ?? walletKey();
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
  const peerId = peerIdFromPrivateKey(privateKeyFromRaw(key));
  const { ticket, grantId } = await net.issue(peerId, options.lifetimeMs);
  const logger = memoryLogger();
  const host = await createDibsHost({
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    admissionTimeoutMs: 3_000,
    messageTimeoutMs: 2_000,
    logger,
    ...options,
    privateKey: key,
    authority: options.authority ?? net.authority(key, ticket),
  });
  return Object.assign(host, { grantId, logger });
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** A tiny gated test protocol: the handler sends back the first frame it reads. */
export const ECHO = '/dibs/test-echo/1.0';

/** Echo handler registered by tests through host.handle. */
export async function echoHandler(stream: Stream): Promise<void> {
  const framed = new FramedStream(stream, 1024);
  try {
    const frame = await framed.read(5_000, 'echo request');
    await framed.write(frame, 5_000);
    await framed.close(5_000);
  } catch {}
}

/** Opens the echo protocol on `to` and returns what came back. */
export async function echo(from: DibsHost, to: PeerId | Multiaddr, text: string): Promise<string> {
  const stream = await from.libp2p.dialProtocol(to, ECHO, { signal: AbortSignal.timeout(10_000) });
  const framed = new FramedStream(stream, 1024);
  await framed.write(new TextEncoder().encode(text), 5_000);
  const back = await framed.read(5_000, 'echo reply');
  await framed.close(5_000);
  return new TextDecoder().decode(back);
}

/** A fresh wallet key as a record signer: its sign function, PeerId and lowercase address. */
export function recordSigner() {
  const key = privateKeyFromRaw(walletKey());
  const peerId = peerIdFromPrivateKey(key);
  return {
    sign: async (d: Uint8Array) => key.sign(d),
    peerId,
    address: addressFromPeerId(peerId).toLowerCase(),
  };
}
