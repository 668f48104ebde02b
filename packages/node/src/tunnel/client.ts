/**
 * The client side of `/dibs/tunnel/1.0`: presents a held service ticket with a fresh authenticator
 * bound to both PeerIds and the server's challenge, then carries the bytes on the encrypted data
 * channel when it answers in time, else on the libp2p stream (which may run through a relay).
 */
import { randomBytes } from 'node:crypto';
import { connect, isIPv4, type Socket } from 'node:net';
import { createAuthenticator } from '@dibs/core';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { HeldTicket } from '../access/access-client.ts';
import type { DibsHost } from '../p2p/host.ts';
import {
  CHANNEL_SOCKET_OPTIONS,
  CONTROL_MESSAGE_TIMEOUT_MS,
  DATA_CONNECT_TIMEOUT_MS,
  DATA_MAGIC,
  MAX_TUNNEL_STREAMS,
  NONCE_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_TAG_BYTES,
  RELAY_MAGIC,
  TUNNEL_VERSION,
  dataLabel,
  tunnelProtocol,
} from './constants.ts';
import { readControl, writeControl } from './control.ts';
import { TunnelError, type TunnelErrorCode } from './errors.ts';
import { type DataOffer, type Destination, TunnelMessageType } from './messages.ts';
import { type DataKeys, deriveDataKeys, RecordOpener, RecordSealer } from './record.ts';
import { SecureChannel } from './secure-channel.ts';
import { clientTunnels, type TunnelChannel, type TunnelPath, type TunnelSessionTable } from './sessions.ts';
import { StreamChannel } from './stream-channel.ts';

/** Arguments of {@link openTunnel}. */
export interface OpenTunnelOptions {
  /** Our libp2p host (it admits the service's node before the tunnel opens). */
  host: DibsHost;
  /** The service's host node: its PeerId (already known to the peer store) or a multiaddr. */
  peer: PeerId | Multiaddr;
  /** The service ticket from AccessClient.ticket(). */
  ticket: HeldTicket;
  /** For vpn services: the host:port inside the service's network. */
  destination?: Destination;
  signal?: AbortSignal;
  /** `stream` skips the data channel (forces the libp2p stream); default `auto`. */
  channel?: 'auto' | 'stream';
  /** Time for the data channel to answer before falling back; default DATA_CONNECT_TIMEOUT_MS. */
  dataConnectTimeoutMs?: number;
  /** Largest record this side sends on the data channel. */
  recordBytes?: number;
  /** An L3 VPN session request (@dibs/vpn's encoding); the host's answer comes back in `vpn`. */
  vpn?: Uint8Array;
  /** Where the tunnel is listed while open; default the process-wide `clientTunnels`. */
  registry?: TunnelSessionTable;
  /**
   * Protocol prefix of the network `host` belongs to (TunnelServerOptions.protocolPrefix): the stream
   * and the data channel carry its label. Default the public network's.
   */
  protocolPrefix?: string;
}

/** An open tunnel. */
export interface Tunnel {
  /** Bytes to and from the service's target; `end()` half-closes towards it. */
  socket: SecureChannel | StreamChannel;
  path: TunnelPath;
  channel: TunnelChannel;
  /** Hex session id, the same the host lists. */
  sessionId: string;
  /** The host node's PeerId. */
  peerId: string;
  /** Bytes received from the target so far. */
  bytesIn(): number;
  /** Bytes sent to the target so far. */
  bytesOut(): number;
  /** Closes the tunnel at once (both directions). */
  close(): void;
  /** The host's answer to a VPN request. */
  vpn?: Uint8Array;
  /** The host's IP on a direct connection (undefined through a relay). */
  directIp?: string;
  /**
   * For a VPN session met at a relay that opened a datagram relay for it: where our WireGuard sends
   * (`ip:port`, the relay's UDP port at the IP we reached its rendezvous on).
   */
  relayEndpoint?: string;
}

const RESULT_CODES = new Set<string>([
  'MALFORMED',
  'TOO_LARGE',
  'TIMEOUT',
  'STREAM_ENDED',
  'UNSUPPORTED_VERSION',
  'TICKET_REFUSED',
  'UNKNOWN_SERVICE',
  'NOT_A_TUNNEL_SERVICE',
  'DESTINATION_REQUIRED',
  'DESTINATION_NOT_ALLOWED',
  'RESOLVE_FAILED',
  'TARGET_UNREACHABLE',
  'TOO_MANY_TUNNELS',
  'SESSION_ENDED',
  'VPN_REFUSED',
  'INTERNAL',
]);

/** Opens a tunnel to the service behind `ticket` on node `peer`. */
export async function openTunnel(options: OpenTunnelOptions): Promise<Tunnel> {
  const { host } = options;
  const signal = options.signal ?? AbortSignal.timeout(30_000);
  const remote = await host.connect(options.peer);
  signal.throwIfAborted();
  const connection = await host.libp2p.dial(remote, { signal });
  const stream = await connection.newStream(tunnelProtocol(options.protocolPrefix), {
    signal,
    runOnLimitedConnection: true,
    maxOutboundStreams: MAX_TUNNEL_STREAMS,
  });
  const onAbort = () => stream.abort(new TunnelError('CLOSED', 'opening the tunnel was aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await handshake(options, connection, stream);
  } catch (err) {
    if (stream.status === 'open') stream.abort(err as Error);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function handshake(
  options: OpenTunnelOptions,
  connection: Connection,
  stream: Stream,
): Promise<Tunnel> {
  const { host, ticket } = options;
  const first = await readControl(stream, CONTROL_MESSAGE_TIMEOUT_MS, 'challenge');
  if (first.type === TunnelMessageType.RESULT) throw resultError(first.code, first.message);
  if (first.type !== TunnelMessageType.CHALLENGE) {
    throw new TunnelError('MALFORMED', `expected a challenge, got message type ${first.type}`);
  }
  const clientPeerId = host.peerId.toMultihash().bytes;
  const serverPeerId = connection.remotePeer.toMultihash().bytes;
  const authenticator = createAuthenticator({
    ticket: ticket.ticket,
    sessionKey: ticket.sessionKey,
    clientPeerId,
    servicePeerId: serverPeerId,
    challenge: first.challenge,
  });
  const clientNonce = randomBytes(NONCE_BYTES);
  const wantData = options.channel !== 'stream';
  await writeControl(
    stream,
    {
      type: TunnelMessageType.OPEN,
      ticket: ticket.ticket,
      authenticator,
      destination: options.destination ?? null,
      clientNonce,
      wantData,
      ...(options.vpn ? { vpn: options.vpn } : {}),
    },
    CONTROL_MESSAGE_TIMEOUT_MS,
  );
  const result = await readControl(stream, CONTROL_MESSAGE_TIMEOUT_MS, 'result');
  if (result.type !== TunnelMessageType.RESULT) {
    throw new TunnelError('MALFORMED', `expected a result, got message type ${result.type}`);
  }
  if (result.code !== 'OK') throw resultError(result.code, result.message);
  if (options.vpn && !result.vpn) {
    throw new TunnelError('MALFORMED', 'the host accepted a VPN request without answering it');
  }
  const sessionId = result.sessionId;
  const path: TunnelPath = connection.remoteAddr.toString().includes('/p2p-circuit') ? 'relayed' : 'direct';
  let channel: SecureChannel | StreamChannel | undefined;
  let relayEndpoint: string | undefined;
  if (wantData && result.offer) {
    const keys = deriveDataKeys({
      sessionKey: ticket.sessionKey,
      challenge: first.challenge,
      clientNonce,
      serverNonce: result.offer.serverNonce,
      clientPeerId,
      serverPeerId,
      sessionId,
      networkLabel: dataLabel(options.protocolPrefix),
    });
    const data = await connectData(
      candidates(connection, result.offer),
      result.offer.port,
      result.offer.relayToken,
      sessionId,
      Buffer.from(dataLabel(options.protocolPrefix)),
      keys,
      options.dataConnectTimeoutMs ?? DATA_CONNECT_TIMEOUT_MS,
      options.recordBytes,
    );
    channel = data?.channel;
    if (
      data &&
      isIPv4(data.host) &&
      result.offer.relayToken &&
      result.offer.udpPort !== undefined &&
      options.vpn
    ) {
      relayEndpoint = `${data.host}:${result.offer.udpPort}`;
    }
  }
  if (channel) {
    await writeControl(
      stream,
      { type: TunnelMessageType.START, channel: 'data' },
      CONTROL_MESSAGE_TIMEOUT_MS,
    );
    stream.close().catch(() => {});
  } else {
    await writeControl(
      stream,
      { type: TunnelMessageType.START, channel: 'stream' },
      CONTROL_MESSAGE_TIMEOUT_MS,
    );
    channel = new StreamChannel(stream);
  }
  const socket = channel;
  const registry = options.registry ?? clientTunnels;
  const id = Buffer.from(sessionId).toString('hex');
  const remove = registry.add({
    id,
    serviceId: ticket.grant.serviceId,
    peerId: connection.remotePeer.toString(),
    direction: 'outbound',
    path,
    channel: channel instanceof SecureChannel ? 'data' : 'stream',
    openedAt: Date.now(),
    bytesIn: () => socket.bytesIn,
    bytesOut: () => socket.bytesOut,
    destination: options.destination ?? null,
  });
  socket.once('close', remove);
  return {
    socket,
    path,
    channel: channel instanceof SecureChannel ? 'data' : 'stream',
    sessionId: id,
    peerId: connection.remotePeer.toString(),
    bytesIn: () => socket.bytesIn,
    bytesOut: () => socket.bytesOut,
    close: () => socket.destroy(),
    ...(result.vpn ? { vpn: result.vpn } : {}),
    ...(path === 'direct'
      ? { directIp: /^\/ip4\/([^/]+)\//.exec(connection.remoteAddr.toString())?.[1] }
      : {}),
    ...(relayEndpoint && channel instanceof SecureChannel ? { relayEndpoint } : {}),
  };
}

/**
 * Addresses to try for the data channel: the peer's own IP on a direct TCP connection first; for a
 * rendezvous offer, the IP we reach the relay at first.
 */
function candidates(connection: Connection, offer: DataOffer): string[] {
  const out: string[] = [];
  const remote = connection.remoteAddr.toString();
  const m = /^\/ip[46]\/([^/]+)\/tcp\//.exec(remote);
  const relayed = remote.includes('/p2p-circuit');
  if (m && (!relayed || offer.relayToken)) out.push(m[1]!);
  for (const h of offer.hosts) if (!out.includes(h)) out.push(h);
  return out;
}

/**
 * Tries each address in turn within one overall timeout: the channel and the address it answered at;
 * undefined when none answers in time.
 */
async function connectData(
  hosts: string[],
  port: number,
  relayToken: Uint8Array | undefined,
  sessionId: Uint8Array,
  label: Buffer,
  keys: DataKeys,
  timeoutMs: number,
  recordBytes: number | undefined,
): Promise<{ channel: SecureChannel; host: string } | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (const h of hosts) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const channel = await tryData(h, port, relayToken, sessionId, label, keys, left, recordBytes).catch(
      () => undefined,
    );
    if (channel) return { channel, host: h };
  }
  return undefined;
}

function tryData(
  hostAddr: string,
  port: number,
  relayToken: Uint8Array | undefined,
  sessionId: Uint8Array,
  label: Buffer,
  keys: DataKeys,
  timeoutMs: number,
  recordBytes: number | undefined,
): Promise<SecureChannel> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({
      host: hostAddr,
      port,
      ...CHANNEL_SOCKET_OPTIONS,
    });
    const sealer = new RecordSealer(keys.clientToServer);
    const opener = new RecordOpener(keys.serverToClient);
    const helloBytes = RECORD_HEADER_BYTES + RECORD_TAG_BYTES;
    const chunks: Buffer[] = [];
    let have = 0;
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () =>
        fail(
          new TunnelError('TIMEOUT', `data channel ${hostAddr}:${port} did not answer in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.cork();
      // At a relay rendezvous our token comes first; everything after it reaches the host unchanged.
      if (relayToken) socket.write(Buffer.concat([RELAY_MAGIC, Buffer.of(TUNNEL_VERSION), relayToken]));
      // The network label follows the session id: the host's port refuses any other network's channel.
      socket.write(
        Buffer.concat([DATA_MAGIC, Buffer.of(TUNNEL_VERSION), sessionId, Buffer.of(label.length), label]),
      );
      for (const part of sealer.seal(new Uint8Array(0))) socket.write(part);
      socket.uncork();
    });
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      if (have < helloBytes) return;
      socket.off('data', onData);
      socket.pause();
      const all = Buffer.concat(chunks, have);
      try {
        const records = opener.push(all.subarray(0, helloBytes));
        if (records.length !== 1 || records[0]!.fin || records[0]!.plaintext.length !== 0) {
          throw new TunnelError('RECORD_REJECTED', 'the data channel did not answer with a hello');
        }
      } catch (err) {
        fail(err as Error);
        return;
      }
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(
        new SecureChannel({
          socket,
          sealer,
          opener,
          leftover: all.subarray(helloBytes),
          ...(recordBytes ? { recordBytes } : {}),
          // Met at a relay: no busy polling (secure-channel.ts).
          busyPoll: relayToken === undefined,
        }),
      );
    };
    socket.on('data', onData);
  });
}

function resultError(code: string, message: string): TunnelError {
  const known = RESULT_CODES.has(code) ? (code as TunnelErrorCode) : 'INTERNAL';
  const detail = /^\[([A-Z_]+)\] /.exec(message)?.[1];
  return new TunnelError(
    known,
    `the host refused the tunnel (${code}): ${message}`,
    detail ? { detail } : undefined,
  );
}
