/**
 * ChaCha20-Poly1305 (RFC 8439) in plain JS, for the data channel's small records.
 *
 * node:crypto has this AEAD, but only behind a cipher object per message: creating it (key schedule,
 * provider lookups, the JS object and its native twin) costs several times more than sealing an
 * interactive message, and it is paid twice per hop, cold, after every context switch. This one keeps
 * its key as eight words and allocates nothing per message, so a one-byte record costs a few hundred
 * nanoseconds warm. ChaCha20 is add-rotate-xor and Poly1305 below works on fixed-size limbs with no
 * data-dependent branches, so neither leaks timing. Checked against RFC 8439's vectors and, for
 * random inputs, against node:crypto's implementation (chacha20-poly1305.test.ts).
 *
 * Poly1305 arithmetic: six 22-bit limbs held in doubles (132 bits). A product of two limbs times the
 * fold factor 20 (2^132 ≡ 4·5 mod 2^130 − 5) stays under 2^50, six of them under 2^53, so every sum
 * is exact; carries divide by a power of two, which is exact too.
 */

import { CHACHA_KEY_BYTES } from './constants.ts';

const LIMB = 4194304; // 2^22
const TOP = 1048576; // 2^20: limb 5 holds bits 110..131; bits from 130 up fold back times 5
const MASK22 = 0x3fffff;

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** An AEAD key: seal and open messages of any size (meant for small ones). */
export class ChaCha20Poly1305 {
  readonly #key: Uint32Array;
  /** One block of keystream, reused. */
  readonly #stream = new Uint8Array(64);
  /** Poly1305 state: accumulator, r, 20·r (all 22-bit limbs), s (four words). */
  readonly #h = new Float64Array(6);
  readonly #r = new Float64Array(6);
  readonly #r20 = new Float64Array(6);
  readonly #s = new Uint32Array(4);
  readonly #block = new Uint8Array(16);
  readonly #tag = new Uint8Array(16);

  constructor(key: Uint8Array) {
    if (key.length !== CHACHA_KEY_BYTES) throw new RangeError(`a ChaCha20 key has ${CHACHA_KEY_BYTES} bytes`);
    this.#key = new Uint32Array(8);
    for (let i = 0; i < 8; i++) this.#key[i] = u32le(key, 4 * i);
  }

  /**
   * Encrypts `plaintext` into `out` at `at` and writes the 16-byte tag right after it
   * (`plaintext.length + 16` bytes). `out` may not overlap `plaintext` except exactly (in place).
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, at: number): void {
    const n0 = u32le(nonce, 0);
    const n1 = u32le(nonce, 4);
    const n2 = u32le(nonce, 8);
    this.#polyKey(n0, n1, n2);
    this.#xor(n0, n1, n2, plaintext, 0, plaintext.length, out, at);
    this.#mac(aad, out, at, plaintext.length);
    out.set(this.#tag, at + plaintext.length);
  }

  /**
   * Verifies the tag that follows `n` bytes of ciphertext at `src[at]` over `aad` and that
   * ciphertext, then decrypts it into `out` at `outAt`. Returns false (and writes nothing) when the
   * tag does not match.
   */
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    src: Uint8Array,
    at: number,
    n: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    const n0 = u32le(nonce, 0);
    const n1 = u32le(nonce, 4);
    const n2 = u32le(nonce, 8);
    this.#polyKey(n0, n1, n2);
    this.#mac(aad, src, at, n);
    const mine = this.#tag;
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= mine[i]! ^ src[at + n + i]!;
    if (diff !== 0) return false;
    this.#xor(n0, n1, n2, src, at, n, out, outAt);
    return true;
  }

  /** One ChaCha20 block (RFC 8439 §2.3) into #stream. */
  #chachaBlock(counter: number, n0: number, n1: number, n2: number): void {
    const k = this.#key;
    const j0 = 0x61707865;
    const j1 = 0x3320646e;
    const j2 = 0x79622d32;
    const j3 = 0x6b206574;
    const j4 = k[0]!;
    const j5 = k[1]!;
    const j6 = k[2]!;
    const j7 = k[3]!;
    const j8 = k[4]!;
    const j9 = k[5]!;
    const j10 = k[6]!;
    const j11 = k[7]!;
    const j12 = counter >>> 0;
    const j13 = n0;
    const j14 = n1;
    const j15 = n2;
    let x0 = j0;
    let x1 = j1;
    let x2 = j2;
    let x3 = j3;
    let x4 = j4;
    let x5 = j5;
    let x6 = j6;
    let x7 = j7;
    let x8 = j8;
    let x9 = j9;
    let x10 = j10;
    let x11 = j11;
    let x12 = j12;
    let x13 = j13;
    let x14 = j14;
    let x15 = j15;
    for (let i = 0; i < 10; i++) {
      // Column round.
      x0 = (x0 + x4) | 0;
      x12 = rotl(x12 ^ x0, 16);
      x8 = (x8 + x12) | 0;
      x4 = rotl(x4 ^ x8, 12);
      x0 = (x0 + x4) | 0;
      x12 = rotl(x12 ^ x0, 8);
      x8 = (x8 + x12) | 0;
      x4 = rotl(x4 ^ x8, 7);

      x1 = (x1 + x5) | 0;
      x13 = rotl(x13 ^ x1, 16);
      x9 = (x9 + x13) | 0;
      x5 = rotl(x5 ^ x9, 12);
      x1 = (x1 + x5) | 0;
      x13 = rotl(x13 ^ x1, 8);
      x9 = (x9 + x13) | 0;
      x5 = rotl(x5 ^ x9, 7);

      x2 = (x2 + x6) | 0;
      x14 = rotl(x14 ^ x2, 16);
      x10 = (x10 + x14) | 0;
      x6 = rotl(x6 ^ x10, 12);
      x2 = (x2 + x6) | 0;
      x14 = rotl(x14 ^ x2, 8);
      x10 = (x10 + x14) | 0;
      x6 = rotl(x6 ^ x10, 7);

      x3 = (x3 + x7) | 0;
      x15 = rotl(x15 ^ x3, 16);
      x11 = (x11 + x15) | 0;
      x7 = rotl(x7 ^ x11, 12);
      x3 = (x3 + x7) | 0;
      x15 = rotl(x15 ^ x3, 8);
      x11 = (x11 + x15) | 0;
      x7 = rotl(x7 ^ x11, 7);

      // Diagonal round.
      x0 = (x0 + x5) | 0;
      x15 = rotl(x15 ^ x0, 16);
      x10 = (x10 + x15) | 0;
      x5 = rotl(x5 ^ x10, 12);
      x0 = (x0 + x5) | 0;
      x15 = rotl(x15 ^ x0, 8);
      x10 = (x10 + x15) | 0;
      x5 = rotl(x5 ^ x10, 7);

      x1 = (x1 + x6) | 0;
      x12 = rotl(x12 ^ x1, 16);
      x11 = (x11 + x12) | 0;
      x6 = rotl(x6 ^ x11, 12);
      x1 = (x1 + x6) | 0;
      x12 = rotl(x12 ^ x1, 8);
      x11 = (x11 + x12) | 0;
      x6 = rotl(x6 ^ x11, 7);

      x2 = (x2 + x7) | 0;
      x13 = rotl(x13 ^ x2, 16);
      x8 = (x8 + x13) | 0;
      x7 = rotl(x7 ^ x8, 12);
      x2 = (x2 + x7) | 0;
      x13 = rotl(x13 ^ x2, 8);
      x8 = (x8 + x13) | 0;
      x7 = rotl(x7 ^ x8, 7);

      x3 = (x3 + x4) | 0;
      x14 = rotl(x14 ^ x3, 16);
      x9 = (x9 + x14) | 0;
      x4 = rotl(x4 ^ x9, 12);
      x3 = (x3 + x4) | 0;
      x14 = rotl(x14 ^ x3, 8);
      x9 = (x9 + x14) | 0;
      x4 = rotl(x4 ^ x9, 7);
    }
    const s = this.#stream;
    store(s, 0, x0 + j0);
    store(s, 4, x1 + j1);
    store(s, 8, x2 + j2);
    store(s, 12, x3 + j3);
    store(s, 16, x4 + j4);
    store(s, 20, x5 + j5);
    store(s, 24, x6 + j6);
    store(s, 28, x7 + j7);
    store(s, 32, x8 + j8);
    store(s, 36, x9 + j9);
    store(s, 40, x10 + j10);
    store(s, 44, x11 + j11);
    store(s, 48, x12 + j12);
    store(s, 52, x13 + j13);
    store(s, 56, x14 + j14);
    store(s, 60, x15 + j15);
  }

  /** XORs the keystream from block 1 on over `src[from, from + n)` into `dst` at `at`. */
  #xor(
    n0: number,
    n1: number,
    n2: number,
    src: Uint8Array,
    from: number,
    n: number,
    dst: Uint8Array,
    at: number,
  ): void {
    const s = this.#stream;
    for (let done = 0, counter = 1; done < n; counter++) {
      this.#chachaBlock(counter, n0, n1, n2);
      const take = Math.min(64, n - done);
      for (let i = 0; i < take; i++) dst[at + done + i] = src[from + done + i]! ^ s[i]!;
      done += take;
    }
  }

  /**
   * The ChaCha20 block function alone (RFC 8439 §2.3): 64 bytes of keystream for `counter` and
   * `nonce`. For checking the RFC's Appendix A.1 vectors; the AEAD never calls it.
   */
  static block(key: Uint8Array, counter: number, nonce: Uint8Array): Uint8Array {
    const c = new ChaCha20Poly1305(key);
    c.#chachaBlock(counter, u32le(nonce, 0), u32le(nonce, 4), u32le(nonce, 8));
    return c.#stream.slice();
  }

  /**
   * Poly1305 alone (RFC 8439 §2.5) over a message of any length with a 32-byte one-time key r ‖ s,
   * through the same limb arithmetic the AEAD uses. For checking the RFC's Appendix A.3 vectors.
   */
  static poly1305(oneTimeKey: Uint8Array, message: Uint8Array): Uint8Array {
    if (oneTimeKey.length !== 32) throw new RangeError('a Poly1305 one-time key has 32 bytes');
    const c = new ChaCha20Poly1305(new Uint8Array(CHACHA_KEY_BYTES));
    c.#loadPolyKey(oneTimeKey);
    let i = 0;
    for (; i + 16 <= message.length; i += 16) c.#absorb(message, i);
    if (i < message.length) {
      // A short last block is padded with 1 then zeros and carries no 2^128 bit: take away the
      // bit #absorb adds (the AEAD only ever absorbs zero-padded full blocks).
      const block = c.#block;
      block.fill(0);
      block.set(message.subarray(i));
      block[message.length - i] = 1;
      c.#h[5] = c.#h[5]! - 262144;
      c.#absorb(block, 0);
    }
    c.#finish();
    return c.#tag.slice();
  }

  /** Block 0 of the keystream → Poly1305's r (clamped) and s; resets the accumulator. */
  #polyKey(n0: number, n1: number, n2: number): void {
    this.#chachaBlock(0, n0, n1, n2);
    this.#loadPolyKey(this.#stream);
  }

  /** r (clamped) and s from the first 32 bytes of `k`; resets the accumulator. */
  #loadPolyKey(k: Uint8Array): void {
    const t0 = u32le(k, 0) & 0x0fffffff;
    const t1 = u32le(k, 4) & 0x0ffffffc;
    const t2 = u32le(k, 8) & 0x0ffffffc;
    const t3 = u32le(k, 12) & 0x0ffffffc;
    const r = this.#r;
    r[0] = t0 & MASK22;
    r[1] = ((t0 >>> 22) | (t1 << 10)) & MASK22;
    r[2] = ((t1 >>> 12) | (t2 << 20)) & MASK22;
    r[3] = (t2 >>> 2) & MASK22;
    r[4] = ((t2 >>> 24) | (t3 << 8)) & MASK22;
    r[5] = t3 >>> 14;
    const r20 = this.#r20;
    for (let i = 0; i < 6; i++) r20[i] = 20 * r[i]!;
    const s = this.#s;
    for (let i = 0; i < 4; i++) s[i] = u32le(k, 16 + 4 * i);
    this.#h.fill(0);
  }

  /**
   * The AEAD's Poly1305 (RFC 8439 §2.8): aad, zero pad, `n` bytes of ciphertext from `ct` at `at`,
   * zero pad, both lengths as u64 LE; the tag lands in #tag.
   */
  #mac(aad: Uint8Array, ct: Uint8Array, at: number, n: number): void {
    const block = this.#block;
    for (let i = 0; i < aad.length; i += 16) {
      const take = Math.min(16, aad.length - i);
      if (take === 16) this.#absorb(aad, i);
      else {
        block.fill(0);
        block.set(aad.subarray(i, i + take));
        this.#absorb(block, 0);
      }
    }
    let i = 0;
    for (; i + 16 <= n; i += 16) this.#absorb(ct, at + i);
    if (i < n) {
      block.fill(0);
      block.set(ct.subarray(at + i, at + n));
      this.#absorb(block, 0);
    }
    block.fill(0);
    writeLength(block, 0, aad.length);
    writeLength(block, 8, n);
    this.#absorb(block, 0);
    this.#finish();
  }

  /** h = (h + block + 2^128) · r mod 2^130 − 5, for one full 16-byte block of `b` at `at`. */
  #absorb(b: Uint8Array, at: number): void {
    const m0 = u32le(b, at);
    const m1 = u32le(b, at + 4);
    const m2 = u32le(b, at + 8);
    const m3 = u32le(b, at + 12);
    const h = this.#h;
    const h0 = h[0]! + (m0 & MASK22);
    const h1 = h[1]! + (((m0 >>> 22) | (m1 << 10)) & MASK22);
    const h2 = h[2]! + (((m1 >>> 12) | (m2 << 20)) & MASK22);
    const h3 = h[3]! + ((m2 >>> 2) & MASK22);
    const h4 = h[4]! + (((m2 >>> 24) | (m3 << 8)) & MASK22);
    const h5 = h[5]! + (m3 >>> 14) + 262144; // 2^128 = bit 18 of limb 5
    const r = this.#r;
    const q = this.#r20;
    const r0 = r[0]!;
    const r1 = r[1]!;
    const r2 = r[2]!;
    const r3 = r[3]!;
    const r4 = r[4]!;
    const r5 = r[5]!;
    const q1 = q[1]!;
    const q2 = q[2]!;
    const q3 = q[3]!;
    const q4 = q[4]!;
    const q5 = q[5]!;
    let d0 = h0 * r0 + h1 * q5 + h2 * q4 + h3 * q3 + h4 * q2 + h5 * q1;
    let d1 = h0 * r1 + h1 * r0 + h2 * q5 + h3 * q4 + h4 * q3 + h5 * q2;
    let d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * q5 + h4 * q4 + h5 * q3;
    let d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * q5 + h5 * q4;
    let d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * q5;
    let d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0;
    let c = Math.floor(d0 / LIMB);
    d0 -= c * LIMB;
    d1 += c;
    c = Math.floor(d1 / LIMB);
    d1 -= c * LIMB;
    d2 += c;
    c = Math.floor(d2 / LIMB);
    d2 -= c * LIMB;
    d3 += c;
    c = Math.floor(d3 / LIMB);
    d3 -= c * LIMB;
    d4 += c;
    c = Math.floor(d4 / LIMB);
    d4 -= c * LIMB;
    d5 += c;
    c = Math.floor(d5 / LIMB);
    d5 -= c * LIMB;
    d0 += c * 20;
    c = Math.floor(d0 / LIMB);
    d0 -= c * LIMB;
    d1 += c;
    h[0] = d0;
    h[1] = d1;
    h[2] = d2;
    h[3] = d3;
    h[4] = d4;
    h[5] = d5;
  }

  /** Fully reduces h mod 2^130 − 5, adds s mod 2^128, writes the tag into #tag. */
  #finish(): void {
    const h = this.#h;
    let h0 = h[0]!;
    let h1 = h[1]!;
    let h2 = h[2]!;
    let h3 = h[3]!;
    let h4 = h[4]!;
    let h5 = h[5]!;
    let c = Math.floor(h1 / LIMB);
    h1 -= c * LIMB;
    h2 += c;
    c = Math.floor(h2 / LIMB);
    h2 -= c * LIMB;
    h3 += c;
    c = Math.floor(h3 / LIMB);
    h3 -= c * LIMB;
    h4 += c;
    c = Math.floor(h4 / LIMB);
    h4 -= c * LIMB;
    h5 += c;
    c = Math.floor(h5 / TOP);
    h5 -= c * TOP;
    h0 += c * 5;
    c = Math.floor(h0 / LIMB);
    h0 -= c * LIMB;
    h1 += c;
    c = Math.floor(h1 / LIMB);
    h1 -= c * LIMB;
    h2 += c;
    c = Math.floor(h2 / LIMB);
    h2 -= c * LIMB;
    h3 += c;
    c = Math.floor(h3 / LIMB);
    h3 -= c * LIMB;
    h4 += c;
    c = Math.floor(h4 / LIMB);
    h4 -= c * LIMB;
    h5 += c;
    // h < 2^130 + 5 now, so h mod p is h or h − p = h + 5 − 2^130: take the latter when it is ≥ 0.
    let g0 = h0 + 5;
    c = g0 >>> 22;
    g0 &= MASK22;
    let g1 = h1 + c;
    c = g1 >>> 22;
    g1 &= MASK22;
    let g2 = h2 + c;
    c = g2 >>> 22;
    g2 &= MASK22;
    let g3 = h3 + c;
    c = g3 >>> 22;
    g3 &= MASK22;
    let g4 = h4 + c;
    c = g4 >>> 22;
    g4 &= MASK22;
    const g5 = (h5 + c - TOP) | 0;
    // keep = all ones when g5 < 0 (h < p), else zero.
    const keep = g5 >> 31;
    const take = ~keep;
    h0 = (h0 & keep) | (g0 & take);
    h1 = (h1 & keep) | (g1 & take);
    h2 = (h2 & keep) | (g2 & take);
    h3 = (h3 & keep) | (g3 & take);
    h4 = (h4 & keep) | (g4 & take);
    h5 = (h5 & keep) | (g5 & take);
    // 128 low bits as words, plus s, mod 2^128.
    const w0 = (h0 | (h1 << 22)) >>> 0;
    const w1 = ((h1 >>> 10) | (h2 << 12)) >>> 0;
    const w2 = ((h2 >>> 20) | (h3 << 2) | (h4 << 24)) >>> 0;
    const w3 = ((h4 >>> 8) | (h5 << 14)) >>> 0;
    const s = this.#s;
    const tag = this.#tag;
    let t = w0 + s[0]!;
    store(tag, 0, t);
    t = w1 + s[1]! + Math.floor(t / 4294967296);
    store(tag, 4, t);
    t = w2 + s[2]! + Math.floor(t / 4294967296);
    store(tag, 8, t);
    t = w3 + s[3]! + Math.floor(t / 4294967296);
    store(tag, 12, t);
  }
}

/** Writes the low 32 bits of `x` little-endian. */
function store(b: Uint8Array, at: number, x: number): void {
  b[at] = x;
  b[at + 1] = x >>> 8;
  b[at + 2] = x >>> 16;
  b[at + 3] = x >>> 24;
}

/** A length as u64 LE (lengths here are far below 2^32). */
function writeLength(b: Uint8Array, at: number, n: number): void {
  store(b, at, n);
  store(b, at + 4, Math.floor(n / 4294967296));
}
