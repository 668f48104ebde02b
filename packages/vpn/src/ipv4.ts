/** IPv4 addresses and CIDRs as numbers: parsing, formatting, containment. */
import { VpnError } from './errors.ts';

/** A parsed IPv4 CIDR. */
export interface Cidr4 {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as a number, or undefined when `text` is not a dotted-quad IPv4 address. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Dotted-quad text of an address number. */
export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/len` (len 0..32, host bits must be zero); BAD_CONFIG otherwise. */
export function parseCidr4(text: string, what = 'subnet'): Cidr4 {
  const [addr, len, ...rest] = text.split('/');
  const n = parseIpv4(addr ?? '');
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : Number.NaN;
  if (rest.length > 0 || n === undefined || !(prefix >= 0 && prefix <= 32)) {
    throw new VpnError('BAD_CONFIG', `${what} "${text}" is not an IPv4 CIDR`, 'write it as 10.60.0.0/24');
  }
  if ((n & ~mask(prefix)) >>> 0 !== 0) {
    throw new VpnError(
      'BAD_CONFIG',
      `${what} "${text}" has host bits set`,
      `did you mean ${formatIpv4((n & mask(prefix)) >>> 0)}/${prefix}?`,
    );
  }
  return { network: n, prefix };
}

/** Canonical text of a CIDR. */
export function formatCidr4(c: Cidr4): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** True when address `ip` lies in `c`. */
export function cidrContains(c: Cidr4, ip: number): boolean {
  return (ip & mask(c.prefix)) >>> 0 === c.network;
}

/** True when the two CIDRs share an address. */
export function cidrsOverlap(a: Cidr4, b: Cidr4): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.network & mask(p)) >>> 0 === (b.network & mask(p)) >>> 0;
}

/** The number of addresses in `c`. */
export function cidrSize(c: Cidr4): number {
  return 2 ** (32 - c.prefix);
}
