import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blues, confusionMatrix, confusionSvg, formatConfusion, overallAccuracy, perClassAccuracy, renderConfusion,
} from '../../src/report/confusion.js';
import { assertPng, countColor } from '../helpers/png.js';

const NAMES = ['cat', 'dog', 'bird'];
// actual:    0 0 0 0 1 1 1 2 2 2
// predicted: 0 0 1 2 1 1 0 2 2 2
const ACTUAL = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
const PREDICTED = [0, 0, 1, 2, 1, 1, 0, 2, 2, 2];

test('confusionMatrix counts rows = actual, columns = predicted', () => {
  const cm = confusionMatrix(PREDICTED, ACTUAL, 3);
  assert.deepEqual(cm.counts, [[2, 1, 1], [1, 2, 0], [0, 0, 3]]);
  assert.equal(cm.total, 10);
  assert.equal(overallAccuracy(cm), 0.7);
  assert.deepEqual(perClassAccuracy(cm), [0.5, 2 / 3, 1]);
  const fromInt64 = confusionMatrix(new BigInt64Array(PREDICTED.map(BigInt)), new BigInt64Array(ACTUAL.map(BigInt)), 3);
  assert.deepEqual(fromInt64.counts, cm.counts);
});

test('a class without samples has NaN accuracy; bad inputs fail with one clear line', () => {
  const cm = confusionMatrix([0, 1], [0, 0], 3);
  assert.deepEqual(perClassAccuracy(cm), [0.5, NaN, NaN]);
  assert.ok(Number.isNaN(overallAccuracy(confusionMatrix([], [], 2))));
  assert.throws(() => confusionMatrix([0, 1], [0], 2), /2 predictions but 1 labels/);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /prediction 1 is 3, outside the classes 0\.\.2/);
  assert.throws(() => confusionMatrix([0, 1], [0, 1.5], 3), /label 1 is 1\.5/);
  assert.throws(() => confusionMatrix([0], [0], 0), /numClasses must be a positive integer/);
  assert.throws(() => formatConfusion(cm, ['a', 'b']), /2 class names for 3 classes/);
});

test('formatConfusion prints an aligned table with per-class and overall accuracy', () => {
  const text = formatConfusion(confusionMatrix(PREDICTED, ACTUAL, 3), NAMES);
  assert.equal(text, [
    'Confusion matrix (rows: actual class, columns: predicted class)',
    '        cat  dog  bird  |  Accuracy',
    'cat       2    1     1  |    50.00%',
    'dog       1    2     0  |    66.67%',
    'bird      0    0     3  |   100.00%',
    'Overall accuracy: 70.00% (7/10)',
    '',
  ].join('\n'));
});

test('renderConfusion gives a PNG heatmap of the requested size with the diagonal shaded darkest', async () => {
  const png = await renderConfusion(confusionMatrix(PREDICTED, ACTUAL, 3), NAMES, { width: 500, height: 460 });
  const raw = await assertPng(png, 500, 460);
  assert.ok(countColor(raw, blues(1), 2) > 1000, 'the all-correct bird row is drawn in the darkest blue');
  assert.ok(countColor(raw, blues(0.5), 2) > 1000, 'half-correct cells in the middle blue');
  const svg = confusionSvg(confusionMatrix(PREDICTED, ACTUAL, 3), ['T-shirt/top', 'dog', 'bird']);
  for (const t of ['>T-shirt/top<', '>Actual<', '>Predicted<', '>Confusion matrix<']) assert.ok(svg.includes(t), t);
  assert.throws(() => confusionSvg(confusionMatrix([0], [0], 100), NAMES.concat(new Array(97).fill('x')), { width: 300, height: 300 }), /too small for 100 classes/);
});

test('blues follows matplotlib anchors', () => {
  assert.equal(blues(0), '#f7fbff');
  assert.equal(blues(1), '#08306b');
  assert.equal(blues(0.5), '#6baed6');
  assert.equal(blues(-3), '#f7fbff');
});
