/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna), 128 bits of state, period 2^128 - 1.
 * The whole state (including the spare normal deviate) is JSON-serialisable, so a resumed run continues
 * the exact same stream.
 */

export interface RngState {
  algorithm: 'xoshiro128**';
  /** Four unsigned 32-bit words; never all zero. */
  s: [number, number, number, number];
  /** Second deviate of the last Box–Muller pair, served by the next normal() call. */
  spare: number | null;
}

const TWO_POW_32 = 4294967296;

/** splitmix32: spreads a 32-bit counter into well-mixed words, used only to expand seeds. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over UTF-16 code units: names a stream so that (seed, "shuffle") and (seed, "init") differ. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  private constructor() {}

  /**
   * A generator for an integer seed (any safe integer) and an optional stream label; the same
   * (seed, stream) always gives the same sequence, different labels give independent-looking streams.
   */
  static fromSeed(seed: number, stream = ''): Rng {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng seed must be a safe integer, got ${seed}: pass e.g. --seed 42`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    const mix = { x: lo ^ Math.imul(hi, 0x27d4eb2d) ^ hashLabel(stream) };
    const r = new Rng();
    r.s0 = splitmix32(mix);
    r.s1 = (splitmix32(mix) ^ hi) >>> 0;
    r.s2 = splitmix32(mix);
    r.s3 = splitmix32(mix);
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) r.s0 = 1;
    return r;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng();
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  setState(state: RngState): void {
    if (state?.algorithm !== 'xoshiro128**' || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new Error(`Rng state is not an xoshiro128** state (got ${JSON.stringify(state)?.slice(0, 80)}): pass the object returned by getState()`);
    }
    const words = state.s.map((w) => {
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) throw new Error(`Rng state word ${w} is not an unsigned 32-bit integer: pass the object returned by getState()`);
      return w;
    });
    if (words.every((w) => w === 0)) throw new Error('Rng state is all zero, which xoshiro128** cannot leave: pass the object returned by getState()');
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    this.spare = typeof state.spare === 'number' ? state.spare : null;
  }

  /** A new independent generator seeded from this one's next outputs (advances this generator). */
  fork(stream = ''): Rng {
    const seedLo = this.nextU32();
    const seedHi = this.nextU32() & 0x1fffff;
    return Rng.fromSeed(seedHi * TWO_POW_32 + seedLo, stream);
  }

  /** Uniform unsigned 32-bit integer. */
  nextU32(): number {
    const s0 = this.s0, s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.nextFloat();
  }

  /** Unbiased uniform integer in [0, n), 1 <= n <= 2^32 (rejection of the short last bucket). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new Error(`Rng.int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  /** Standard normal deviate (Box–Muller; the pair's second value is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const u1 = 1 - this.nextFloat(); // (0, 1]: log stays finite
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
