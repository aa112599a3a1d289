import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, summaryTotals } from '../../src/report/summary.js';
import type { SummaryRow } from '../../src/report/summary.js';

// basic-cnn for one 1x28x28 image. Params: Conv(1,16,3) 16*9+16, Conv(16,32,3) 32*16*9+32,
// Linear(1568,128) 1568*128+128, Linear(128,10) 128*10+10. MACs: conv = out elements * in_ch * k*k,
// linear = in*out.
const BASIC_CNN: SummaryRow[] = [
  { name: 'features.0', type: 'Conv2d', outputShape: [-1, 16, 28, 28], params: 160, trainable: true, macs: 16 * 28 * 28 * 9 },
  { name: 'features.1', type: 'ReLU', outputShape: [-1, 16, 28, 28], params: 0, trainable: false, macs: 0 },
  { name: 'features.2', type: 'MaxPool2d', outputShape: [-1, 16, 14, 14], params: 0, trainable: false, macs: 0 },
  { name: 'features.3', type: 'Conv2d', outputShape: [-1, 32, 14, 14], params: 4640, trainable: true, macs: 32 * 14 * 14 * 16 * 9 },
  { name: 'features.4', type: 'ReLU', outputShape: [-1, 32, 14, 14], params: 0, trainable: false, macs: 0 },
  { name: 'features.5', type: 'MaxPool2d', outputShape: [-1, 32, 7, 7], params: 0, trainable: false, macs: 0 },
  { name: 'classifier.0', type: 'Flatten', outputShape: [-1, 1568], params: 0, trainable: false, macs: 0 },
  { name: 'classifier.1', type: 'Linear', outputShape: [-1, 128], params: 200832, trainable: true, macs: 1568 * 128 },
  { name: 'classifier.2', type: 'ReLU', outputShape: [-1, 128], params: 0, trainable: false, macs: 0 },
  { name: 'classifier.3', type: 'Linear', outputShape: [-1, 10], params: 1290, trainable: true, macs: 1280 },
];

test('summaryTotals gives torchsummary totals for basic-cnn', () => {
  const t = summaryTotals(BASIC_CNN, { inputShape: [-1, 1, 28, 28] });
  assert.equal(t.totalParams, 206922);
  assert.equal(t.trainableParams, 206922);
  assert.equal(t.nonTrainableParams, 0);
  assert.equal(t.totalMacs, 112896 + 903168 + 200704 + 1280);
  // torchsummary prints Params size 0.79, Forward/backward 0.34, Input 0.00 for this model.
  assert.equal(t.paramsMB, (206922 * 4) / 2 ** 20);
  assert.equal(t.forwardBackwardMB, (2 * 44170 * 4) / 2 ** 20);
  assert.equal(t.inputMB, (784 * 4) / 2 ** 20);
});

test('formatSummary prints the table and totals', () => {
  const text = formatSummary(BASIC_CNN, 'basic-cnn', { inputShape: [-1, 1, 28, 28] });
  const lines = text.split('\n');
  assert.equal(lines[0], 'basic-cnn');
  assert.match(lines[2], /^Layer \(type\) +Output Shape +Param # +Mult-Adds$/);
  assert.match(lines[3], /^=+$/);
  assert.equal(lines[1].length, lines[3].length);
  assert.match(lines[4], /^features\.0 \(Conv2d\) +\[-1, 16, 28, 28\] +160 +112,896$/);
  assert.match(lines[11], /^classifier\.1 \(Linear\) +\[-1, 128\] +200,832 +200,704$/);
  assert.equal(lines[2].length, lines[4].length, 'columns are right-aligned to the same width');
  for (const expected of [
    'Total params: 206,922',
    'Trainable params: 206,922',
    'Non-trainable params: 0',
    'Total mult-adds (M): 1.22',
    'Input size (MB): 0.00',
    'Forward/backward pass size (MB): 0.34',
    'Params size (MB): 0.79',
    'Estimated Total Size (MB): 1.13',
  ]) assert.ok(lines.includes(expected), `summary has "${expected}"`);
  assert.ok(text.endsWith('-\n'));
});

test('frozen layers count as non-trainable; input size is optional', () => {
  const frozen = BASIC_CNN.map((r) => (r.name.startsWith('features') && r.params > 0 ? { ...r, trainable: false } : r));
  const text = formatSummary(frozen, 'transfer');
  assert.ok(text.includes('Trainable params: 202,122\n'));
  assert.ok(text.includes('Non-trainable params: 4,800\n'));
  assert.ok(!text.includes('Input size'));
  assert.ok(!text.includes('Estimated Total Size'));
  assert.ok(formatSummary([{ ...BASIC_CNN[9], macs: 999 }], 'tiny').includes('Total mult-adds: 999.00\n'));
});

test('bad rows fail with a message naming the row and field', () => {
  assert.throws(() => formatSummary([], 'empty'), /no layers for "empty"/);
  assert.throws(() => summaryTotals([{ ...BASIC_CNN[0], params: -1 }]), /summary row 0 \(features\.0\): params must be a non-negative integer/);
  assert.throws(() => summaryTotals([{ ...BASIC_CNN[0], outputShape: [NaN, 16] }]), /outputShape must be integers \(use -1 for the batch\)/);
});
