/**
 * The control messages of `/dibs/tunnel/1.0` (and the pairing exchange of `/dibs/tunnel-relay/1.0`), as
 * canonical CBOR arrays `[version, type, …fields]`.
 * Decoding is strict: size bound first, then cborg in strict mode, then a schema check of every field,
 * then a re-encode that must give back the same bytes (so exactly one encoding of each message exists).
 */
import { STRICT_CBOR_DECODE } from '@dibs/core';
import { decode as cborDecode, encode as cborEncode } from 'cborg';
import {
  CHALLENGE_BYTES,
  MAX_CODE_BYTES,
  MAX_CONTROL_MESSAGE_BYTES,
  MAX_HOST_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_OFFER_HOSTS,
  MAX_VPN_FIELD_BYTES,
  NONCE_BYTES,
  RELAY_TOKEN_BYTES,
  SESSION_ID_BYTES,
  TUNNEL_VERSION,
} from './constants.ts';
import { TunnelError } from './errors.ts';

/** Message type tags. */
export const TunnelMessageType = {
  CHALLENGE: 1,
  OPEN: 2,
  RESULT: 3,
  START: 4,
  PAIR_REQUEST: 5,
  PAIR: 6,
} as const;

/** Largest ticket / authenticator carried (the ticket library's own bounds are lower). */
const MAX_TICKET_FIELD = 1024;
const MAX_AUTHENTICATOR_FIELD = 256;

/** A `host:port` the client asks a vpn service to reach inside its private network. */
export interface Destination {
  host: string;
  port: number;
}

/** Server → client, first: the nonce the client's authenticator must bind. */
export interface ChallengeMessage {
  type: typeof TunnelMessageType.CHALLENGE;
  challenge: Uint8Array;
}

/** Client → server: ticket, authenticator, optional destination, the client's key nonce, data channel wanted. */
export interface OpenMessage {
  type: typeof TunnelMessageType.OPEN;
  ticket: Uint8Array;
  authenticator: Uint8Array;
  destination: Destination | null;
  clientNonce: Uint8Array;
  wantData: boolean;
  /** An L3 VPN session request (@dibs/vpn's encoding, checked there): the client's WireGuard key. */
  vpn?: Uint8Array;
}

/** Where and how to reach the server's data channel. */
export interface DataOffer {
  port: number;
  hosts: string[];
  serverNonce: Uint8Array;
  /** Set when the address is a relay's rendezvous port: the client's one-time pairing token there. */
  relayToken?: Uint8Array;
  /**
   * With a relay token, for a VPN session: the relay's UDP port for the client's WireGuard datagrams
   * (datagram-relay.ts), at the IP the client reaches the rendezvous on.
   */
  udpPort?: number;
}

/** Server → client: `OK` (with the session id and maybe a data-channel offer) or an error code. */
export interface ResultMessage {
  type: typeof TunnelMessageType.RESULT;
  code: string;
  message: string;
  sessionId: Uint8Array;
  offer: DataOffer | null;
  /** The answer to a VPN request (@dibs/vpn's encoding): the host's key, the client's address, routes. */
  vpn?: Uint8Array;
}

/** Client → server: which channel carries the bytes (0 = data channel, 1 = this stream). */
export interface StartMessage {
  type: typeof TunnelMessageType.START;
  channel: 'data' | 'stream';
}

/** Host → relay: issue a rendezvous pairing for one relayed data channel. */
export interface PairRequestMessage {
  type: typeof TunnelMessageType.PAIR_REQUEST;
  /** Also open a datagram relay (two UDP ports) for the session's WireGuard datagrams. */
  datagrams?: boolean;
}

/** Relay → host: the rendezvous address and the two one-time tokens (host's side, client's side). */
export interface PairMessage {
  type: typeof TunnelMessageType.PAIR;
  port: number;
  hosts: string[];
  hostToken: Uint8Array;
  clientToken: Uint8Array;
  /** The datagram relay's UDP ports, when asked for and the relay has room for one. */
  udp?: { host: number; client: number };
}

/** Any tunnel control message. */
export type TunnelMessage =
  | ChallengeMessage
  | OpenMessage
  | ResultMessage
  | StartMessage
  | PairRequestMessage
  | PairMessage;

const EMPTY = new Uint8Array(0);

function offerToWire(offer: DataOffer): unknown[] {
  const wire: unknown[] = [offer.port, offer.hosts, offer.serverNonce];
  if (offer.relayToken) wire.push(offer.relayToken);
  if (offer.relayToken && offer.udpPort !== undefined) wire.push(offer.udpPort);
  return wire;
}

function toWire(msg: TunnelMessage): unknown[] {
  switch (msg.type) {
    case TunnelMessageType.CHALLENGE:
      return [TUNNEL_VERSION, msg.type, msg.challenge];
    case TunnelMessageType.OPEN:
      return [
        TUNNEL_VERSION,
        msg.type,
        msg.ticket,
        msg.authenticator,
        msg.destination ? [msg.destination.host, msg.destination.port] : null,
        msg.clientNonce,
        msg.wantData,
        ...(msg.vpn ? [msg.vpn] : []),
      ];
    case TunnelMessageType.RESULT:
      return [
        TUNNEL_VERSION,
        msg.type,
        msg.code,
        msg.message,
        msg.sessionId,
        msg.offer ? offerToWire(msg.offer) : null,
        ...(msg.vpn ? [msg.vpn] : []),
      ];
    case TunnelMessageType.START:
      return [TUNNEL_VERSION, msg.type, msg.channel === 'data' ? 0 : 1];
    case TunnelMessageType.PAIR_REQUEST:
      return [TUNNEL_VERSION, msg.type, ...(msg.datagrams ? [true] : [])];
    case TunnelMessageType.PAIR:
      return [
        TUNNEL_VERSION,
        msg.type,
        msg.port,
        msg.hosts,
        msg.hostToken,
        msg.clientToken,
        ...(msg.udp ? [[msg.udp.host, msg.udp.client]] : []),
      ];
  }
}

/** Encodes a message; throws MALFORMED when a field is out of its schema. */
export function encodeTunnelMessage(msg: TunnelMessage): Uint8Array {
  // Validating our own output keeps a bug here from ever putting off-schema bytes on the wire.
  const bytes = new Uint8Array(cborEncode(toWire(msg)));
  if (bytes.length > MAX_CONTROL_MESSAGE_BYTES) {
    throw new TunnelError(
      'TOO_LARGE',
      `control message of ${bytes.length} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}`,
    );
  }
  fromWire(cborDecode(bytes, STRICT_CBOR_DECODE));
  return bytes;
}

/** Decodes one control message; any deviation from the schema is MALFORMED (never a crash). */
export function decodeTunnelMessage(bytes: Uint8Array): TunnelMessage {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_CONTROL_MESSAGE_BYTES) {
    throw new TunnelError(
      'TOO_LARGE',
      `control message of ${bytes.length} bytes exceeds ${MAX_CONTROL_MESSAGE_BYTES}`,
    );
  }
  let value: unknown;
  try {
    value = cborDecode(bytes, STRICT_CBOR_DECODE);
  } catch (err) {
    throw malformed(`not canonical CBOR (${(err as Error).message})`, err);
  }
  const msg = fromWire(value);
  const again = cborEncode(toWire(msg));
  if (!equal(again, bytes)) throw malformed('not the canonical encoding');
  return msg;
}

function fromWire(value: unknown): TunnelMessage {
  if (!Array.isArray(value) || value.length < 2) throw malformed('expected an array [version, type, …]');
  if (value[0] !== TUNNEL_VERSION) {
    throw new TunnelError(
      'UNSUPPORTED_VERSION',
      `tunnel protocol version ${String(value[0])} is not supported (this node speaks ${TUNNEL_VERSION}); upgrade the older side`,
    );
  }
  const f = value.slice(2);
  switch (value[1]) {
    case TunnelMessageType.CHALLENGE:
      arity(f, 1);
      return {
        type: TunnelMessageType.CHALLENGE,
        challenge: bytesField(f[0], 'challenge', CHALLENGE_BYTES, CHALLENGE_BYTES),
      };
    case TunnelMessageType.OPEN: {
      arity(f, 5, 6);
      let destination: Destination | null = null;
      if (f[2] !== null) {
        const d = f[2];
        if (!Array.isArray(d) || d.length !== 2) throw malformed('destination must be [host, port]');
        destination = { host: hostField(d[0]), port: portField(d[1], 1) };
      }
      if (typeof f[4] !== 'boolean') throw malformed('wantData must be a boolean');
      return {
        type: TunnelMessageType.OPEN,
        ticket: bytesField(f[0], 'ticket', 1, MAX_TICKET_FIELD),
        authenticator: bytesField(f[1], 'authenticator', 1, MAX_AUTHENTICATOR_FIELD),
        destination,
        clientNonce: bytesField(f[3], 'clientNonce', NONCE_BYTES, NONCE_BYTES),
        wantData: f[4],
        ...(f.length === 6 ? { vpn: bytesField(f[5], 'vpn', 1, MAX_VPN_FIELD_BYTES) } : {}),
      };
    }
    case TunnelMessageType.RESULT: {
      arity(f, 4, 5);
      const code = textField(f[0], 'code', MAX_CODE_BYTES);
      if (!/^[A-Z][A-Z_]*$/.test(code)) throw malformed('code must be UPPER_SNAKE_CASE');
      let offer: DataOffer | null = null;
      if (f[3] !== null) {
        const o = f[3];
        if (!Array.isArray(o) || o.length < 3 || o.length > 5) {
          throw malformed('offer must be [port, hosts, serverNonce, relayToken?, udpPort?]');
        }
        offer = {
          port: portField(o[0], 1),
          hosts: hostsField(o[1]),
          serverNonce: bytesField(o[2], 'serverNonce', NONCE_BYTES, NONCE_BYTES),
        };
        if (o.length >= 4) {
          offer.relayToken = bytesField(o[3], 'relayToken', RELAY_TOKEN_BYTES, RELAY_TOKEN_BYTES);
        }
        if (o.length === 5) offer.udpPort = portField(o[4], 1);
      }
      const sessionId = bytesField(f[2], 'sessionId', 0, SESSION_ID_BYTES);
      if (code === 'OK' && sessionId.length !== SESSION_ID_BYTES)
        throw malformed('an OK result needs a session id');
      return {
        type: TunnelMessageType.RESULT,
        code,
        message: textField(f[1], 'message', MAX_MESSAGE_BYTES),
        sessionId,
        offer,
        ...(f.length === 5 ? { vpn: bytesField(f[4], 'vpn', 1, MAX_VPN_FIELD_BYTES) } : {}),
      };
    }
    case TunnelMessageType.START:
      arity(f, 1);
      if (f[0] !== 0 && f[0] !== 1) throw malformed('channel must be 0 (data) or 1 (stream)');
      return { type: TunnelMessageType.START, channel: f[0] === 0 ? 'data' : 'stream' };
    case TunnelMessageType.PAIR_REQUEST:
      arity(f, 0, 1);
      // Canonical: the flag is present only when set.
      if (f.length === 1 && f[0] !== true) throw malformed('datagrams must be true when present');
      return { type: TunnelMessageType.PAIR_REQUEST, ...(f.length === 1 ? { datagrams: true } : {}) };
    case TunnelMessageType.PAIR: {
      arity(f, 4, 5);
      let udp: { host: number; client: number } | undefined;
      if (f.length === 5) {
        const u = f[4];
        if (!Array.isArray(u) || u.length !== 2) throw malformed('udp must be [hostPort, clientPort]');
        udp = { host: portField(u[0], 1), client: portField(u[1], 1) };
      }
      return {
        type: TunnelMessageType.PAIR,
        port: portField(f[0], 1),
        hosts: hostsField(f[1]),
        hostToken: bytesField(f[2], 'hostToken', RELAY_TOKEN_BYTES, RELAY_TOKEN_BYTES),
        clientToken: bytesField(f[3], 'clientToken', RELAY_TOKEN_BYTES, RELAY_TOKEN_BYTES),
        ...(udp ? { udp } : {}),
      };
    }
    default:
      throw malformed(`unknown message type ${String(value[1])}`);
  }
}

function arity(fields: unknown[], n: number, orN = n): void {
  if (fields.length !== n && fields.length !== orN) {
    throw malformed(`expected ${n === orN ? n : `${n} or ${orN}`} fields, got ${fields.length}`);
  }
}

function bytesField(v: unknown, name: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw malformed(`${name} must be a byte string`);
  if (v.length < min || v.length > max)
    throw malformed(`${name} must be ${min}..${max} bytes, got ${v.length}`);
  // cborg hands out views into the input on Node; callers keep their own copy.
  return v.length === 0 ? EMPTY : new Uint8Array(v);
}

const UTF8 = new TextEncoder();

function textField(v: unknown, name: string, maxBytes: number): string {
  if (typeof v !== 'string') throw malformed(`${name} must be a text string`);
  if (UTF8.encode(v).length > maxBytes) throw malformed(`${name} is longer than ${maxBytes} bytes`);
  return v;
}

function hostField(v: unknown): string {
  const host = textField(v, 'host', MAX_HOST_BYTES);
  // Names and IP literals only: no spaces, no control characters, no URL syntax.
  if (!/^[A-Za-z0-9._:-]+$/.test(host)) throw malformed('host must be a DNS name or an IP literal');
  return host;
}

function hostsField(v: unknown): string[] {
  if (!Array.isArray(v) || v.length > MAX_OFFER_HOSTS) {
    throw malformed(`hosts must be an array of at most ${MAX_OFFER_HOSTS}`);
  }
  return v.map((h: unknown) => hostField(h));
}

function portField(v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535) {
    throw malformed(`port must be an integer ${min}..65535`);
  }
  return v;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function malformed(detail: string, cause?: unknown): TunnelError {
  return new TunnelError(
    'MALFORMED',
    `malformed tunnel message: ${detail}; the peer does not follow /dibs/tunnel/1.0`,
    cause === undefined ? undefined : { cause },
  );
}
