import assert from 'node:assert/strict';
import { test } from 'node:test';
import { incompleteBeta, lnGamma, pairedTTest, sampleSd, summarize, tCdf, tQuantile } from '../../src/experiments/stats.js';

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);

// The two-sided 95 % critical values t(0.975, df) of a printed t-table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), 3 decimals.
const T_TABLE_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
  2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];

test('tQuantile(0.975, df) equals the printed t-table for df 1..30', () => {
  for (const [i, expected] of T_TABLE_975.entries()) close(tQuantile(0.975, i + 1), expected, 5e-4, `df ${i + 1}`);
});

test('tQuantile and tCdf to 9 digits against mpmath (quadrature of the t density at 30 digits)', () => {
  // mp.findroot(lambda t: 1/2 + mp.quad(density(df), [0, t]) - 0.975, 2)
  const reference: [number, number][] = [[1, 12.7062047362], [2, 4.30265272975], [3, 3.18244630528], [4, 2.7764451052],
    [5, 2.57058183564], [10, 2.22813885199], [30, 2.0422724563], [100, 1.98397151852]];
  for (const [df, q] of reference) close(tQuantile(0.975, df), q, 1e-9, `t(0.975, ${df})`);
  close(tCdf(2.5, 7), 0.979503890707123551555, 1e-12, 'P(T7 <= 2.5)');
  close(tCdf(-2.5, 7), 1 - 0.979503890707123551555, 1e-12, 'P(T7 <= -2.5)');
  // df 1 is the Cauchy distribution: P(T <= 1) = 3/4 exactly.
  close(tCdf(1, 1), 0.75, 1e-14, 'Cauchy at 1');
  assert.equal(tCdf(0, 5), 0.5);
  close(tQuantile(0.025, 4), -2.7764451052, 1e-9, 'lower quantile');
});

test('lnGamma and the incomplete beta at known points', () => {
  close(lnGamma(5), Math.log(24), 1e-13, 'ln 4!');
  close(lnGamma(0.5), 0.5 * Math.log(Math.PI), 1e-13, 'ln Γ(1/2)');
  // I_x(1, 1) = x; I_x(2, 1) = x^2; I_x(1/2, 1/2) = (2/π) asin(√x).
  close(incompleteBeta(0.3, 1, 1), 0.3, 1e-14, 'I(1,1)');
  close(incompleteBeta(0.3, 2, 1), 0.09, 1e-14, 'I(2,1)');
  close(incompleteBeta(0.7, 0.5, 0.5), (2 / Math.PI) * Math.asin(Math.sqrt(0.7)), 1e-13, 'I(1/2,1/2)');
});

test('summarize: mean, sample sd, range and the t interval, worked by hand', () => {
  // xs = 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, sd = sqrt(32/7) = 2.13809;
  // CI half-width = t(0.975, 7) * sd / sqrt(8) = 2.364624 * 0.755929 = 1.787488.
  const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(s.n, 8);
  assert.equal(s.mean, 5);
  close(s.sd, Math.sqrt(32 / 7), 1e-14, 'sd');
  assert.deepEqual([s.min, s.max], [2, 9]);
  close(s.ci![0], 5 - 1.787488, 1e-6, 'ci low');
  close(s.ci![1], 5 + 1.787488, 1e-6, 'ci high');
  const one = summarize([0.9]);
  assert.deepEqual(one, { n: 1, mean: 0.9, sd: 0, min: 0.9, max: 0.9, ci: null });
  assert.equal(sampleSd([3]), 0);
  assert.throws(() => summarize([]), /no values/);
});

test('pairedTTest against mpmath: five seeds of two variants', () => {
  const baseline = [0.9012, 0.8987, 0.9050, 0.8975, 0.9021];
  const variant = [0.9105, 0.9060, 0.9131, 0.9049, 0.9130];
  const r = pairedTTest(variant, baseline);
  // Differences 0.0093 0.0073 0.0081 0.0074 0.0109: mean 0.0086, sd 0.00151327, t = 12.70766, df 4,
  // p = 2 (1 - P(T4 <= t)) = 2.20886e-4, half-width t(0.975, 4) sd / sqrt(5) = 0.00187898.
  assert.equal(r.n, 5);
  assert.equal(r.df, 4);
  close(r.meanDiff, 0.0086, 1e-15, 'mean difference');
  close(r.sdDiff, 0.0015132745950421521, 1e-15, 'sd of differences');
  close(r.t, 12.707663678159186, 1e-9, 't');
  close(r.p, 2.20886202412529e-4, 1e-12, 'p');
  close(r.halfWidth, 0.00187897858406022, 1e-12, 'half-width');
  assert.deepEqual([r.higher, r.lower, r.equal], [5, 0, 0]);
  // Swapping the sides flips the sign, not the p-value.
  const s = pairedTTest(baseline, variant);
  close(s.t, -r.t, 1e-12, 't swapped');
  close(s.p, r.p, 1e-15, 'p swapped');
  assert.deepEqual([s.higher, s.lower], [0, 5]);
});

test('pairedTTest edge cases: identical runs, a constant shift, too few pairs', () => {
  const same = pairedTTest([0.9, 0.8], [0.9, 0.8]);
  assert.deepEqual([same.t, same.p, same.equal], [0, 1, 2]);
  const shift = pairedTTest([0.91, 0.81, 0.71], [0.9, 0.8, 0.7].map((x) => x));
  assert.ok(shift.p < 0.05, `a constant shift with no spread is shown: p = ${shift.p}`);
  assert.throws(() => pairedTTest([1], [1]), /at least two pairs/);
  assert.throws(() => pairedTTest([1, 2], [1]), /pair them by seed/);
});
