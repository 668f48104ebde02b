/**
 * The VPN session messages carried inside the tunnel handshake of `/dibs/tunnel/1.0` (its open request
 * and its result), so the WireGuard keys and addresses travel on the stream the service ticket just
 * authenticated: canonical CBOR arrays `[version, type, …fields]`. Decoding is strict: size bound,
 * cborg in strict mode, a schema check of every field, then a re-encode that must give back the same
 * bytes.
 */
import { STRICT_CBOR_DECODE } from '@dibs/core';
import { decode as cborDecode, encode as cborEncode } from 'cborg';
import {
  MAX_CIDR_CHARS,
  MAX_ENDPOINT_HOSTS,
  MAX_VPN_MESSAGE_BYTES,
  MAX_VPN_ROUTES,
  VPN_SESSION_VERSION,
  WG_KEY_BYTES,
} from './constants.ts';
import { VpnError } from './errors.ts';
import { formatCidr4, parseCidr4, parseIpv4 } from './ipv4.ts';

/** Message type tags. */
export const VpnMessageType = {
  REQUEST: 1,
  GRANT: 2,
} as const;

/** `client`: one device joins the site; `site`: the client node also forwards its own LAN (NATed). */
export type VpnMode = 'client' | 'site';

/** Client → host, in the open request: the client's WireGuard key for this session. */
export interface VpnRequest {
  type: typeof VpnMessageType.REQUEST;
  publicKey: Uint8Array;
  mode: VpnMode;
}

/** Host → client, in the OK result: the host's key, the client's address, routes and UDP endpoint. */
export interface VpnGrant {
  type: typeof VpnMessageType.GRANT;
  publicKey: Uint8Array;
  /** The client's address (a /32 the host allows for this peer, and nothing else). */
  address: string;
  /** The host's own address in the pool. */
  gateway: string;
  /** Site subnets the client routes into the tunnel. */
  routes: string[];
  /** The host's WireGuard UDP port. */
  port: number;
  /** Addresses of the host (the client tries the one it reached the host at first). */
  hosts: string[];
}

/** Any VPN session message. */
export type VpnMessage = VpnRequest | VpnGrant;

function toWire(msg: VpnMessage): unknown[] {
  switch (msg.type) {
    case VpnMessageType.REQUEST:
      return [VPN_SESSION_VERSION, msg.type, msg.publicKey, msg.mode === 'site' ? 1 : 0];
    case VpnMessageType.GRANT:
      return [
        VPN_SESSION_VERSION,
        msg.type,
        msg.publicKey,
        msg.address,
        msg.gateway,
        msg.routes,
        msg.port,
        msg.hosts,
      ];
  }
}

/** Encodes a message; throws MALFORMED when a field is out of its schema. */
export function encodeVpnMessage(msg: VpnMessage): Uint8Array {
  const bytes = new Uint8Array(cborEncode(toWire(msg)));
  if (bytes.length > MAX_VPN_MESSAGE_BYTES) {
    throw new VpnError('TOO_LARGE', `vpn message of ${bytes.length} bytes exceeds ${MAX_VPN_MESSAGE_BYTES}`);
  }
  // Our own output passes the same checks as a peer's.
  fromWire(cborDecode(bytes, STRICT_CBOR_DECODE));
  return bytes;
}

/** Decodes one VPN session message; any deviation from the schema is MALFORMED (never a crash). */
export function decodeVpnMessage(bytes: Uint8Array): VpnMessage {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_VPN_MESSAGE_BYTES) {
    throw new VpnError('TOO_LARGE', `vpn message of ${bytes.length} bytes exceeds ${MAX_VPN_MESSAGE_BYTES}`);
  }
  let value: unknown;
  try {
    value = cborDecode(bytes, STRICT_CBOR_DECODE);
  } catch (err) {
    throw malformed(`not canonical CBOR (${(err as Error).message})`, err);
  }
  const msg = fromWire(value);
  const again = cborEncode(toWire(msg));
  if (Buffer.compare(Buffer.from(again), Buffer.from(bytes)) !== 0)
    throw malformed('not the canonical encoding');
  return msg;
}

function fromWire(value: unknown): VpnMessage {
  if (!Array.isArray(value) || value.length < 2) throw malformed('expected an array [version, type, …]');
  if (value[0] !== VPN_SESSION_VERSION) {
    throw new VpnError(
      'UNSUPPORTED_VERSION',
      `vpn session version ${String(value[0])} is not supported (this node speaks ${VPN_SESSION_VERSION})`,
      'upgrade the older node',
    );
  }
  const f = value.slice(2);
  switch (value[1]) {
    case VpnMessageType.REQUEST:
      arity(f, 2);
      if (f[1] !== 0 && f[1] !== 1) throw malformed('mode must be 0 (client) or 1 (site)');
      return {
        type: VpnMessageType.REQUEST,
        publicKey: keyField(f[0]),
        mode: f[1] === 1 ? 'site' : 'client',
      };
    case VpnMessageType.GRANT: {
      arity(f, 6);
      if (!Array.isArray(f[3]) || f[3].length > MAX_VPN_ROUTES) {
        throw malformed(`routes must be an array of at most ${MAX_VPN_ROUTES}`);
      }
      if (!Array.isArray(f[5]) || f[5].length > MAX_ENDPOINT_HOSTS) {
        throw malformed(`hosts must be an array of at most ${MAX_ENDPOINT_HOSTS}`);
      }
      if (typeof f[4] !== 'number' || !Number.isInteger(f[4]) || f[4] < 1 || f[4] > 65535) {
        throw malformed('port must be an integer 1..65535');
      }
      return {
        type: VpnMessageType.GRANT,
        publicKey: keyField(f[0]),
        address: ipField(f[1], 'address'),
        gateway: ipField(f[2], 'gateway'),
        routes: f[3].map((r: unknown) => cidrField(r)),
        port: f[4],
        hosts: f[5].map((h: unknown) => ipField(h, 'host')),
      };
    }
    default:
      throw malformed(`unknown message type ${String(value[1])}`);
  }
}

function arity(fields: unknown[], n: number): void {
  if (fields.length !== n) throw malformed(`expected ${n} fields, got ${fields.length}`);
}

function keyField(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== WG_KEY_BYTES) {
    throw malformed(`a WireGuard key must be ${WG_KEY_BYTES} bytes`);
  }
  return new Uint8Array(v);
}

function ipField(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length > 15 || parseIpv4(v) === undefined) {
    throw malformed(`${name} must be an IPv4 address`);
  }
  return v;
}

function cidrField(v: unknown): string {
  if (typeof v !== 'string' || v.length > MAX_CIDR_CHARS) throw malformed('a route must be an IPv4 CIDR');
  try {
    const c = parseCidr4(v, 'route');
    if (formatCidr4(c) !== v) throw new Error('not canonical');
  } catch {
    throw malformed(`route "${v.slice(0, MAX_CIDR_CHARS)}" is not a canonical IPv4 CIDR`);
  }
  return v;
}

function malformed(detail: string, cause?: unknown): VpnError {
  return new VpnError(
    'MALFORMED',
    `malformed vpn session message: ${detail}`,
    'the peer does not follow the DIBS vpn session format',
    cause === undefined ? undefined : { cause },
  );
}
