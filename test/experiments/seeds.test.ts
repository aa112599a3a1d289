import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findExperiment } from '../../src/experiments/catalog.js';
import { compareWithBaseline, summarizeVariants } from '../../src/experiments/compare.js';
import { seedBandSeries, writeReport, type ReportRow } from '../../src/experiments/report.js';
import { runExperiment } from '../../src/experiments/run.js';
import { pairedTTest, summarize } from '../../src/experiments/stats.js';
import type { EpochMetrics } from '../../src/report/metrics.js';
import { assertPng } from '../helpers/png.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-seeds-'));

/** The data rows of the markdown table under `## <section>`, as cells. */
function sectionTable(md: string, section: string): string[][] {
  const after = md.split(`\n## ${section}\n`)[1];
  assert.ok(after !== undefined, `no section ${section} in\n${md}`);
  const lines = after.split('\n').slice(1);
  return lines.slice(2, lines.findIndex((l, i) => i > 0 && !l.startsWith('|'))).map((l) => l.slice(2, -2).split(' | '));
}

const history = (valAccs: number[], seconds = 1): EpochMetrics[] =>
  valAccs.map((valAcc, i) => ({ epoch: i + 1, trainLoss: 0.5, trainAcc: 0.8, valLoss: 1 - valAcc, valAcc, seconds }));

function row(variant: string, label: string, seed: number, testAcc: number, valAccs: number[]): ReportRow {
  const h = history(valAccs);
  const best = h.reduce((b, m) => (m.valAcc > b.valAcc ? m : b));
  return { variant, label, model: 'basic-cnn', seed, status: 'done', epochs: h.length, bestValAcc: best.valAcc, bestEpoch: best.epoch,
    finalValAcc: h.at(-1)!.valAcc, testAcc, secondsPerEpoch: 1, parameters: 206922, history: h };
}

test('report: per-variant mean ± sd and 95 % CI, paired verdicts in plain words, seed bands in the plots', async () => {
  // The same five pairs as the paired t-test of stats.test.ts: +0.86 points, half-width 0.19, p = 0.00022.
  const base = [0.9012, 0.8987, 0.9050, 0.8975, 0.9021];
  const avg = [0.9105, 0.9060, 0.9131, 0.9049, 0.9130];
  const same = [0.9020, 0.8980, 0.9040, 0.8990, 0.9010];
  const rows = [
    ...base.map((t, s) => row('max-pool', 'MaxPool', s, t, [0.88 + s / 1000, 0.89])),
    ...avg.map((t, s) => row('avg-pool', 'AvgPool', s, t, [0.89, 0.90 + s / 1000])),
    ...same.map((t, s) => row('other', 'Other', s, t, [0.88, 0.89])),
  ];
  const dir = tmp();
  await writeReport(dir, rows, { experiment: findExperiment('pooling'), settingsLine: 'Runs: test.', baseline: 'max-pool', seeds: [0, 1, 2, 3, 4] });
  const md = readFileSync(join(dir, 'report.md'), 'utf8');

  const variants = sectionTable(md, 'Variants');
  const s = summarize(avg);
  assert.deepEqual(variants[1].slice(0, 5), ['AvgPool', 'basic-cnn', '5', `${(s.mean * 100).toFixed(2)} ± ${(s.sd * 100).toFixed(2)}%`,
    `${(s.ci![0] * 100).toFixed(2)}–${(s.ci![1] * 100).toFixed(2)}%`]);
  assert.equal(variants[1][3], '90.95 ± 0.39%');

  assert.ok(md.includes('- AvgPool is better than MaxPool by 0.86 ± 0.19 points of test accuracy (95 % CI), higher in 5 of 5 seeds (paired t-test, p < 0.001)'), md);
  const t = pairedTTest(same, base);
  assert.ok(t.p > 0.05);
  assert.ok(md.includes(`- no difference shown between Other and MaxPool: −0.01 ± ${(t.halfWidth * 100).toFixed(2)} points of test accuracy (95 % CI), higher in 2 of 5 seeds (paired t-test, p = ${t.p.toFixed(3)})`), md);
  const compared = sectionTable(md, 'Compared with MaxPool');
  assert.deepEqual(compared[0], ['AvgPool', '+0.86 points', '+0.67 to +1.05', '5 of 5', '< 0.001', 'better']);
  assert.equal(compared[1][5], 'no difference');

  const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  assert.equal(json.baseline, 'max-pool');
  assert.equal(json.comparisons[0].outcome, 'better');
  assert.equal(json.variants[1].testAcc.mean, s.mean);
  assert.equal(json.rows.length, 15);

  // The band spans the seeds' lowest and highest value at each epoch; the line is their mean.
  const [maxPool] = seedBandSeries(rows, 'valAcc');
  assert.equal(maxPool.label, 'MaxPool (5 seeds)');
  assert.ok(Math.abs(maxPool.band![0][1] - 88.0) < 1e-9 && Math.abs(maxPool.band![0][2] - 88.4) < 1e-9, JSON.stringify(maxPool.band));
  assert.ok(Math.abs(maxPool.points[0][1] - 88.2) < 1e-9);
  await assertPng(readFileSync(join(dir, 'val_acc.png')), 900, 520);

  // One seed: no test, and the report says how to get one.
  const one = compareWithBaseline(rows.filter((r) => r.seed === 0), 'max-pool');
  assert.equal(one[0].outcome, 'not tested');
  assert.match(one[0].verdict, /AvgPool vs MaxPool: not tested \(one seed\); run with --seeds 3 or more/);
  // A diverged seed is left out of the statistics and named.
  const withDiverged = rows.map((r) => (r.variant === 'avg-pool' && r.seed === 4 ? { ...r, status: 'diverged' as const } : r));
  const v = summarizeVariants(withDiverged).find((x) => x.variant === 'avg-pool')!;
  assert.deepEqual(v.seeds, [0, 1, 2, 3]);
  assert.deepEqual(v.notDone, ['seed 4: diverged']);
  assert.equal(compareWithBaseline(withDiverged, 'max-pool')[0].test!.n, 4);
});

test('--seeds 3: one run folder per (variant, seed), statistics from the runs\' own files', { skip: noData }, async () => {
  const root = tmp();
  const r = await runExperiment({ name: 'depth', only: ['simple-mlp', 'medium-mlp'], seeds: 3, seed: 1, epochs: 1, limit: 600, root, threads: 1, log: () => {}, progress: null });
  assert.deepEqual(r.trained, ['simple-mlp/seed-1', 'medium-mlp/seed-1', 'simple-mlp/seed-2', 'medium-mlp/seed-2', 'simple-mlp/seed-3', 'medium-mlp/seed-3']);
  const test = (variant: string, seed: number) => JSON.parse(readFileSync(join(root, 'depth', variant, `seed-${seed}`, 'results.json'), 'utf8')).test.acc as number;
  const config = (variant: string, seed: number) => JSON.parse(readFileSync(join(root, 'depth', variant, `seed-${seed}`, 'config.json'), 'utf8'));
  for (const seed of [1, 2, 3]) assert.equal(config('simple-mlp', seed).seed, seed);
  const simple = [1, 2, 3].map((s) => test('simple-mlp', s));
  const medium = [1, 2, 3].map((s) => test('medium-mlp', s));
  assert.ok(new Set(simple).size > 1, `seeds should give different runs: ${simple}`);

  const json = JSON.parse(readFileSync(join(root, 'depth/report.json'), 'utf8'));
  assert.deepEqual(json.seeds, [1, 2, 3]);
  assert.equal(json.baseline, 'simple-mlp');
  assert.deepEqual(json.variants[0].testAcc, summarize(simple));
  const t = pairedTTest(medium, simple);
  assert.deepEqual(json.comparisons[0].test, t);
  const md = readFileSync(join(root, 'depth/report.md'), 'utf8');
  assert.ok(md.includes(`- ${json.comparisons[0].verdict}`));
  assert.match(md, /Runs: 1 epoch, first 600 training images \(--limit\), seeds 1–3 \(3 per variant\)/);
  assert.equal(sectionTable(md, 'Runs').length, 6);
  assert.equal(sectionTable(md, 'Variants')[0][2], '3');
});
