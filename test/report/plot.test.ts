import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, paddedRange, stepDecimals } from '../../src/report/chart.js';
import type { EpochMetrics } from '../../src/report/metrics.js';
import { curvesSvg, overlaySvg, renderCurves, renderOverlay } from '../../src/report/plot.js';
import { PALETTE } from '../../src/report/svg.js';
import { assertPng, countColor } from '../helpers/png.js';

function history(epochs: number, shift = 0): EpochMetrics[] {
  return Array.from({ length: epochs }, (_, i) => {
    const e = i + 1;
    return {
      epoch: e, trainLoss: 0.6 * Math.exp(-e / 4) + 0.15, trainAcc: 0.95 - 0.15 * Math.exp(-e / 5) - shift,
      valLoss: 0.45 * Math.exp(-e / 3) + 0.3, valAcc: 0.9 - 0.08 * Math.exp(-e / 4) - shift, seconds: 10,
    };
  });
}

test('niceTicks picks 1/2/2.5/5 steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 1, 6), { ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
  assert.deepEqual(niceTicks(0.13, 0.52, 5).ticks, [0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual(niceTicks(0.43, 20.57, 12, true).ticks, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
  assert.deepEqual(niceTicks(0.43, 20.57, 11, true).ticks, [5, 10, 15, 20]);
  assert.deepEqual(niceTicks(0.5, 2.5, 6, true).ticks, [1, 2], 'integer ticks never go below a step of 1');
  assert.equal(stepDecimals(0.25), 2);
  assert.equal(stepDecimals(5), 0);
  assert.equal(stepDecimals(0.001), 3);
  assert.throws(() => niceTicks(1, 1), /need lo < hi/);
  assert.deepEqual(paddedRange([NaN, Infinity]), [0, 1]);
  assert.deepEqual(paddedRange([2, 2]), [1.9, 2.1]);
});

test('renderCurves gives a non-blank PNG of the requested size with both series drawn', async () => {
  const png = await renderCurves(history(20), { width: 1000, height: 400 });
  const raw = await assertPng(png, 1000, 400);
  assert.ok(countColor(raw, PALETTE[0]) > 500, 'train line (blue) is drawn');
  assert.ok(countColor(raw, PALETTE[1]) > 500, 'validation line (orange) is drawn');

  const svg = curvesSvg(history(20), { title: 'basic-cnn <fashion>' });
  for (const text of ['Training and Validation Loss', 'Training and Validation Accuracy', '>Epoch<', '>Loss<', 'Accuracy (%)', '>Train<', '>Validation<', 'basic-cnn &lt;fashion&gt;']) {
    assert.ok(svg.includes(text), `SVG contains ${text}`);
  }
  assert.ok(/>9\d%</.test(svg), 'accuracy ticks are printed in percent');
  assert.ok(png.length < 200_000);
});

test('text renders with the fonts present: the figure title puts dark pixels above the panels', async () => {
  const withTitle = await assertPng(await renderCurves(history(5), { title: 'A TITLE THAT MUST SHOW' }), 1200, 480);
  const noTitle = await assertPng(await renderCurves(history(5), { height: 480 }), 1200, 480);
  // The band between the two panel titles, above the plots: only the figure title draws there.
  const darkInBand = (raw: { data: Buffer; channels: number }): number => {
    let n = 0;
    for (let y = 0; y < 30; y++) {
      for (let x = 450; x < 750; x++) {
        const i = (y * 1200 + x) * raw.channels;
        if (raw.data[i] < 100 && raw.data[i + 1] < 100 && raw.data[i + 2] < 100) n++;
      }
    }
    return n;
  };
  assert.ok(darkInBand(withTitle) > 300, `title glyphs rendered (${darkInBand(withTitle)} dark pixels)`);
  assert.equal(darkInBand(noTitle), 0);
});

test('renderCurves copes with one epoch and a diverged (NaN) epoch; rejects an empty history', async () => {
  await assertPng(await renderCurves(history(1)), 1200, 450);
  const h = history(6);
  h[3] = { ...h[3], trainLoss: NaN, valLoss: Infinity };
  const svg = curvesSvg(h);
  assert.ok(!svg.includes('NaN'), 'no NaN coordinates reach the SVG');
  await assertPng(await renderCurves(h), 1200, 450);
  await assert.rejects(renderCurves([]), /history is empty/);
});

test('renderOverlay draws each run in its own colour with a legend', async () => {
  const runs = [0, 0.01, 0.02].map((s, i) => ({ label: `lr run ${i}`, history: history(10, s) }));
  const png = await renderOverlay(runs, 'valAcc', { width: 800, height: 500 });
  const raw = await assertPng(png, 800, 500);
  for (let i = 0; i < 3; i++) assert.ok(countColor(raw, PALETTE[i]) > 300, `run ${i} drawn in ${PALETTE[i]}`);
  assert.equal(countColor(raw, PALETTE[3]), 0, 'no fourth colour');

  const svg = overlaySvg(runs, 'valAcc');
  for (const label of ['lr run 0', 'lr run 1', 'lr run 2', 'Validation accuracy by epoch']) assert.ok(svg.includes(label));
  const many = Array.from({ length: 12 }, (_, i) => ({ label: `r${i}`, history: history(3, i / 100) }));
  assert.equal((overlaySvg(many, 'trainLoss').match(/stroke-dasharray/g) ?? []).length, 4, 'runs 11 and 12 are dashed (line and legend)');
  assert.throws(() => overlaySvg([], 'valAcc'), /no runs given/);
  assert.throws(() => overlaySvg(runs, 'bogus' as 'valAcc'), /unknown metric "bogus"/);
});
