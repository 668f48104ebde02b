/**
 * RFC 1928 messages, parsed incrementally from what has arrived so far: every parser answers
 * "need more", a complete message with its length, or a SocksError carrying the reply code.
 * Inputs are bounded by MAX_GREETING_BYTES / MAX_REQUEST_BYTES before any parsing.
 */
import { isIPv4, isIPv6 } from 'node:net';
import {
  ATYP_DOMAIN,
  ATYP_IPV4,
  ATYP_IPV6,
  CMD_CONNECT,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  REPLY_ADDRESS_TYPE_NOT_SUPPORTED,
  REPLY_COMMAND_NOT_SUPPORTED,
  SOCKS_VERSION,
} from './constants.ts';
import { SocksError } from './errors.ts';

/** The client's greeting: the authentication methods it offers. */
export interface Greeting {
  methods: number[];
  /** Bytes consumed. */
  length: number;
}

/** Where a CONNECT wants to go; domain names stay names (resolved at the exit, never here). */
export interface SocksDestination {
  type: 'ipv4' | 'ipv6' | 'domain';
  host: string;
  port: number;
}

/** A complete request. */
export interface SocksRequest {
  command: number;
  destination: SocksDestination;
  /** Bytes consumed. */
  length: number;
}

/** Parses a greeting; undefined while incomplete. */
export function parseGreeting(buf: Uint8Array): Greeting | undefined {
  if (buf.length < 1) return undefined;
  if (buf[0] !== SOCKS_VERSION) {
    throw new SocksError('BAD_VERSION', `not a SOCKS5 greeting (version byte ${buf[0]})`);
  }
  if (buf.length < 2) return undefined;
  const n = buf[1]!;
  if (n === 0) throw new SocksError('NO_METHODS', 'SOCKS5 greeting offers no authentication method');
  const length = 2 + n;
  if (length > MAX_GREETING_BYTES) throw new SocksError('TOO_LONG', 'SOCKS5 greeting too long');
  if (buf.length < length) return undefined;
  return { methods: [...buf.subarray(2, length)], length };
}

/** Encodes the method selection reply. */
export function encodeMethodReply(method: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, method);
}

/**
 * Parses a request; undefined while incomplete. Unsupported commands and address types throw with
 * the reply code to send (0x07, 0x08), once enough bytes are there to know.
 */
export function parseRequest(buf: Uint8Array): SocksRequest | undefined {
  if (buf.length < 1) return undefined;
  if (buf[0] !== SOCKS_VERSION) {
    throw new SocksError('BAD_VERSION', `not a SOCKS5 request (version byte ${buf[0]})`);
  }
  if (buf.length < 4) return undefined;
  const command = buf[1]!;
  if (buf[2] !== 0) throw new SocksError('BAD_RESERVED', 'SOCKS5 request has a non-zero reserved byte');
  if (command !== CMD_CONNECT) {
    throw new SocksError(
      'COMMAND_NOT_SUPPORTED',
      `SOCKS5 command ${command} is not supported (only CONNECT)`,
      REPLY_COMMAND_NOT_SUPPORTED,
    );
  }
  const atyp = buf[3]!;
  let host: string;
  let type: SocksDestination['type'];
  let at = 4;
  if (atyp === ATYP_IPV4) {
    if (buf.length < at + 4 + 2) return undefined;
    host = [...buf.subarray(at, at + 4)].join('.');
    type = 'ipv4';
    at += 4;
  } else if (atyp === ATYP_IPV6) {
    if (buf.length < at + 16 + 2) return undefined;
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((buf[at + i]! << 8) | buf[at + i + 1]!).toString(16));
    host = compressIpv6(groups);
    type = 'ipv6';
    at += 16;
  } else if (atyp === ATYP_DOMAIN) {
    if (buf.length < at + 1) return undefined;
    const n = buf[at]!;
    if (n === 0) throw new SocksError('BAD_ADDRESS', 'SOCKS5 request has an empty domain name');
    if (buf.length < at + 1 + n + 2) return undefined;
    const bytes = buf.subarray(at + 1, at + 1 + n);
    // Host names are ASCII (IDNs arrive punycoded); anything else cannot be a valid name.
    for (const b of bytes) {
      if (b <= 0x20 || b >= 0x7f) {
        throw new SocksError('BAD_ADDRESS', 'SOCKS5 domain name has a non-printable or non-ASCII byte');
      }
    }
    host = new TextDecoder().decode(bytes);
    type = 'domain';
    at += 1 + n;
  } else {
    throw new SocksError(
      'ADDRESS_TYPE_NOT_SUPPORTED',
      `SOCKS5 address type ${atyp} is not supported`,
      REPLY_ADDRESS_TYPE_NOT_SUPPORTED,
    );
  }
  const port = (buf[at]! << 8) | buf[at + 1]!;
  at += 2;
  if (at > MAX_REQUEST_BYTES) throw new SocksError('TOO_LONG', 'SOCKS5 request too long');
  return { command, destination: { type, host, port }, length: at };
}

/** Encodes a request (client side; used by tests and tools). */
export function encodeRequest(destination: SocksDestination, command = CMD_CONNECT): Uint8Array {
  const port = [destination.port >> 8, destination.port & 0xff];
  if (destination.type === 'ipv4') {
    if (!isIPv4(destination.host)) throw new SocksError('BAD_ADDRESS', `${destination.host} is not IPv4`);
    const parts = destination.host.split('.').map(Number);
    return Uint8Array.of(SOCKS_VERSION, command, 0, ATYP_IPV4, ...parts, ...port);
  }
  if (destination.type === 'ipv6') {
    if (!isIPv6(destination.host)) throw new SocksError('BAD_ADDRESS', `${destination.host} is not IPv6`);
    return Uint8Array.of(SOCKS_VERSION, command, 0, ATYP_IPV6, ...ipv6Bytes(destination.host), ...port);
  }
  const name = new TextEncoder().encode(destination.host);
  if (name.length === 0 || name.length > 255) {
    throw new SocksError('BAD_ADDRESS', 'a SOCKS5 domain name is 1 to 255 bytes');
  }
  return Uint8Array.of(SOCKS_VERSION, command, 0, ATYP_DOMAIN, name.length, ...name, ...port);
}

/** Encodes a reply; the bound address is reported as 0.0.0.0:0 (the exit's address is not ours to give). */
export function encodeReply(reply: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, reply, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0);
}

/** `host:port` with IPv6 hosts bracketed. */
export function formatDestination(d: Pick<SocksDestination, 'host' | 'port'>): string {
  return d.host.includes(':') ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`;
}

function compressIpv6(groups: string[]): string {
  // Longest run of zero groups (length ≥ 2) becomes "::", as RFC 5952 asks.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

function ipv6Bytes(host: string): number[] {
  const [head = '', tail] = host.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - h.length - t.length;
  const groups = tail === undefined ? h : [...h, ...Array<string>(missing).fill('0'), ...t];
  return groups.flatMap((g) => {
    const v = Number.parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}
