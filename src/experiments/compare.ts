/** Runs of several seeds per variant, summarised per variant and compared with the baseline in plain words. */
import type { ReportRow } from './report.js';
import { pairedTTest, summarize, type PairedTest, type Summary } from './stats.js';

export interface VariantSummary {
  variant: string;
  label: string;
  model: string;
  parameters: number;
  /** Seeds with a finished run (status done), ascending. */
  seeds: number[];
  /** Seeds without one, with why ("seed 3: diverged"). */
  notDone: string[];
  testAcc: Summary | null;
  bestValAcc: Summary | null;
  bestEpoch: Summary | null;
  secondsPerEpoch: Summary | null;
  epochs: Summary | null;
}

export interface Comparison {
  variant: string;
  label: string;
  baseline: string;
  baselineLabel: string;
  /** Paired t-test of test accuracy (fractions) over the seeds both finished; null with fewer than two. */
  test: PairedTest | null;
  /** Seeds both finished. */
  pairedSeeds: number[];
  /** better / worse: the 95 % interval of the mean difference excludes zero (p < 0.05). */
  outcome: 'better' | 'worse' | 'no difference' | 'not tested';
  verdict: string;
}

const summaryOf = (rows: readonly ReportRow[], pick: (r: ReportRow) => number | null): Summary | null => {
  const xs = rows.map(pick).filter((x): x is number => x !== null && Number.isFinite(x));
  return xs.length ? summarize(xs) : null;
};

/** One summary per variant, in the order the rows first name them. */
export function summarizeVariants(rows: readonly ReportRow[]): VariantSummary[] {
  const names = [...new Set(rows.map((r) => r.variant))];
  return names.map((name) => {
    const all = rows.filter((r) => r.variant === name).sort((a, b) => a.seed - b.seed);
    const done = all.filter((r) => r.status === 'done' && r.history.length > 0);
    const first = all[0];
    return {
      variant: name, label: first.label, model: first.model, parameters: first.parameters,
      seeds: done.map((r) => r.seed),
      notDone: all.filter((r) => !done.includes(r)).map((r) => `seed ${r.seed}: ${r.status === 'done' ? 'not trained' : r.status}`),
      testAcc: summaryOf(done, (r) => r.testAcc),
      bestValAcc: summaryOf(done, (r) => r.bestValAcc),
      bestEpoch: summaryOf(done, (r) => r.bestEpoch),
      secondsPerEpoch: summaryOf(done, (r) => r.secondsPerEpoch),
      epochs: summaryOf(done, (r) => r.epochs),
    };
  });
}

const points = (x: number) => (x * 100).toFixed(2);
const pValue = (p: number) => (p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`);

/** Each other variant's test accuracy against `baseline`'s, paired by seed. */
export function compareWithBaseline(rows: readonly ReportRow[], baseline: string): Comparison[] {
  const done = rows.filter((r) => r.status === 'done' && r.testAcc !== null && Number.isFinite(r.testAcc));
  const base = new Map(done.filter((r) => r.variant === baseline).map((r) => [r.seed, r.testAcc!]));
  const baseRow = rows.find((r) => r.variant === baseline);
  if (!baseRow) return [];
  const others = [...new Set(rows.map((r) => r.variant))].filter((v) => v !== baseline);
  return others.map((variant) => {
    const label = rows.find((r) => r.variant === variant)!.label;
    const mine = done.filter((r) => r.variant === variant && base.has(r.seed)).sort((a, b) => a.seed - b.seed);
    const pairedSeeds = mine.map((r) => r.seed);
    const common = { variant, label, baseline, baselineLabel: baseRow.label, pairedSeeds };
    if (mine.length < 2) {
      const why = mine.length === 1 ? 'one seed' : 'no seed finished on both sides';
      return { ...common, test: null, outcome: 'not tested' as const, verdict: `${label} vs ${baseRow.label}: not tested (${why}); run with --seeds 3 or more` };
    }
    const t = pairedTTest(mine.map((r) => r.testAcc!), mine.map((r) => base.get(r.seed)!));
    const shown = t.p < 0.05;
    const outcome = !shown ? 'no difference' as const : t.meanDiff > 0 ? 'better' as const : 'worse' as const;
    const size = `${points(Math.abs(t.meanDiff))} ± ${points(t.halfWidth)} points of test accuracy (95 % CI)`;
    const verdict = outcome === 'better'
      ? `${label} is better than ${baseRow.label} by ${size}, higher in ${t.higher} of ${t.n} seeds (paired t-test, ${pValue(t.p)})`
      : outcome === 'worse'
        ? `${label} is worse than ${baseRow.label} by ${size}, lower in ${t.lower} of ${t.n} seeds (paired t-test, ${pValue(t.p)})`
        : `no difference shown between ${label} and ${baseRow.label}: ${t.meanDiff >= 0 ? '+' : '−'}${size}, higher in ${t.higher} of ${t.n} seeds (paired t-test, ${pValue(t.p)})`;
    return { ...common, test: t, outcome, verdict };
  });
}
