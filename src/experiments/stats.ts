/**
 * Statistics over seeds: mean, sample standard deviation, a confidence interval of the mean from Student's
 * t distribution, and the paired t-test that compares two variants run on the same seeds.
 */

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for one value. */
  sd: number;
  min: number;
  max: number;
  /** 95 % confidence interval of the mean (t distribution, n - 1 degrees of freedom); null for one value. */
  ci: [number, number] | null;
}

export interface PairedTest {
  /** Seeds with a value on both sides. */
  n: number;
  /** Mean of (variant - baseline). */
  meanDiff: number;
  sdDiff: number;
  /** 95 % confidence interval of the mean difference. */
  ci: [number, number];
  /** Half-width of that interval: the "±" of a verdict. */
  halfWidth: number;
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
  /** Seeds where the variant is higher, lower, equal. */
  higher: number;
  lower: number;
  equal: number;
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;

export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Mean, sd, range and 95 % CI of `xs` (at least one value). */
export function summarize(xs: readonly number[], level = 0.95): Summary {
  if (xs.length === 0) throw new Error('summarize: no values');
  const m = mean(xs);
  const sd = sampleSd(xs);
  const half = xs.length > 1 ? tQuantile(1 - (1 - level) / 2, xs.length - 1) * sd / Math.sqrt(xs.length) : 0;
  return { n: xs.length, mean: m, sd, min: Math.min(...xs), max: Math.max(...xs), ci: xs.length > 1 ? [m - half, m + half] : null };
}

/** Paired t-test of `variant` against `baseline` (same length, index = seed); needs at least two pairs. */
export function pairedTTest(variant: readonly number[], baseline: readonly number[], level = 0.95): PairedTest {
  if (variant.length !== baseline.length) throw new Error(`pairedTTest: ${variant.length} vs ${baseline.length} values; pair them by seed`);
  if (variant.length < 2) throw new Error('pairedTTest: needs at least two pairs');
  const d = variant.map((v, i) => v - baseline[i]);
  const n = d.length;
  const df = n - 1;
  const m = mean(d);
  const sd = sampleSd(d);
  const se = sd / Math.sqrt(n);
  const halfWidth = tQuantile(1 - (1 - level) / 2, df) * se;
  // All differences equal: no spread, so the test is decided by whether they are zero.
  const t = se === 0 ? (m === 0 ? 0 : Math.sign(m) * Infinity) : m / se;
  const p = Number.isFinite(t) ? 2 * (1 - tCdf(Math.abs(t), df)) : 0;
  return {
    n, meanDiff: m, sdDiff: sd, ci: [m - halfWidth, m + halfWidth], halfWidth, t, df, p,
    higher: d.filter((x) => x > 0).length, lower: d.filter((x) => x < 0).length, equal: d.filter((x) => x === 0).length,
  };
}

/**
 * P(T <= t) for Student's t with `df` degrees of freedom:
 * for t >= 0, 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t^2) (I: the regularized incomplete beta function).
 */
export function tCdf(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`tCdf: df must be > 0, got ${df}`);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom (bisection on tCdf, to 1e-12). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`tQuantile: p must be in (0, 1), got ${p}`);
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (tCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits). */
export function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz), using the
 * symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
 */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - front * betaFraction(1 - x, b, a) / b;
  return front * betaFraction(x, a, b) / a;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - (a + b) * x / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    // Even step: m(b-m)x / ((a+2m-1)(a+2m)); odd step: -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
    for (const num of [m * (b - m) * x / ((a + m2 - 1) * (a + m2)), -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))]) {
      d = 1 + num * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + num / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}
