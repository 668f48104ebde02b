/** Hex helpers with strict validation (even length, hex digits only, optional 0x prefix). */

/** A 0x-prefixed hex string. */
export type Hex = `0x${string}`;

const HEX_RE = /^[0-9a-fA-F]*$/;
const HEX_CHARS = '0123456789abcdef';

/** Lowercase 0x-prefixed hex of `bytes`. */
export function toHex(bytes: Uint8Array): Hex {
  let out = '0x';
  for (const b of bytes) out += HEX_CHARS[b >> 4]! + HEX_CHARS[b & 15]!;
  return out as Hex;
}

/**
 * Bytes of a hex string (0x prefix optional), or null when it is not well-formed hex or longer than
 * `maxBytes`: callers turn null into their own typed error.
 */
export function parseHex(value: unknown, maxBytes: number): Uint8Array | null {
  if (typeof value !== 'string') return null;
  const digits = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value;
  if (digits.length % 2 !== 0 || digits.length > maxBytes * 2 || !HEX_RE.test(digits)) return null;
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Constant-time equality of two byte arrays (length is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
