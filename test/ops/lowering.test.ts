import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseInputGrad, chooseWeightGrad, CONV_GRAD_THRESHOLDS } from '../../src/ops/lowering/conv_grad.js';
import { chooseMaxPoolGrad } from '../../src/ops/lowering/maxpool_grad.js';
import type { Window } from '../../src/ops/window.js';

/** A square window: kernel k, stride s, pad p on every side, dilation d. */
const win = (k: number, { s = 1, p = 0, d = 1 } = {}): Window => ({
  kernel: [k, k], strides: [s, s], dilations: [d, d], pads: [p, p, p, p], ceil: false,
});

/** A stride-1 "same" Conv layer of C input channels at size x size. */
const layer = (C: number, size: number, k = 3, extra: { s?: number; d?: number; group?: number } = {}) => ({
  window: win(k, { p: (k - 1) / 2, s: extra.s, d: extra.d }),
  C,
  group: extra.group ?? 1,
  outSize: [size / (extra.s ?? 1), size / (extra.s ?? 1)],
});

test('Conv dW: the formulation chosen for the reference models\' layers', () => {
  const cases: [string, ReturnType<typeof layer>, string][] = [
    ['basic-cnn conv1, 1 ch 28x28', layer(1, 28), 'im2col'],
    ['basic-cnn conv2, 16 ch 14x14', layer(16, 14), 'gathered'],
    ['cifar10-cnn conv1, 3 ch 32x32', layer(3, 32), 'im2col'],
    ['complex-cnn 32 ch 28x28', layer(32, 28), 'gathered'],
    ['cifar10-cnn 32 ch 32x32', layer(32, 32), 'gathered'],
    ['complex-cnn 64 ch 14x14', layer(64, 14), 'gathered'],
    ['64 ch 7x7', layer(64, 7), 'gathered'],
    ['residual shortcut 1x1, 32 ch 14x14', layer(32, 14, 1), 'gathered'],
    ['kernel 5 (25 taps)', layer(32, 28, 5), 'swapped'],
    ['kernel 7, 1 ch', layer(1, 28, 7), 'swapped'],
    ['kernel 3 dilated', layer(1, 28, 3, { d: 2 }), 'swapped'],
  ];
  for (const [what, l, want] of cases) assert.equal(chooseWeightGrad(l), want, what);
});

test('Conv dW: thresholds sit where CONV_GRAD_THRESHOLDS says', () => {
  const T = CONV_GRAD_THRESHOLDS;
  assert.equal(chooseWeightGrad(layer(T.gatherMinChannels - 1, 14)), 'im2col');
  assert.equal(chooseWeightGrad(layer(T.gatherMinChannels, 14)), 'gathered');
  const taps = (n: number) => ({ ...layer(1, 28), window: { ...win(1), kernel: [1, n] } });
  assert.equal(chooseWeightGrad(taps(T.im2colMaxTaps)), 'im2col');
  assert.equal(chooseWeightGrad(taps(T.im2colMaxTaps + 1)), 'swapped');
});

test('Conv dW on the CPU: the gathered columns go by output rows; the other formulations as elsewhere', () => {
  const T = CONV_GRAD_THRESHOLDS;
  assert.equal(chooseWeightGrad(layer(T.gatherMinChannels, 14), 'cpu'), 'gatheredRows');
  assert.equal(chooseWeightGrad(layer(T.gatherMinChannels, 14), 'portable'), 'gathered');
  assert.equal(chooseWeightGrad(layer(T.gatherMinChannels - 1, 14), 'cpu'), 'im2col');
  assert.equal(chooseWeightGrad({ ...layer(32, 14), window: win(3, { d: 2 }) }, 'cpu'), 'swapped');
});

test('Conv dX: the flipped-kernel Conv only for wide, stride-1, ungrouped, undilated layers', () => {
  const cases: [string, ReturnType<typeof layer>, string][] = [
    ['basic-cnn conv2, 16 input channels', layer(16, 14), 'transposed'],
    ['complex-cnn 32 ch 28x28', layer(32, 28), 'flipped'],
    ['complex-cnn 64 ch 14x14', layer(64, 14), 'flipped'],
    ['kernel 5, 32 ch', layer(32, 28, 5), 'flipped'],
    ['1x1 shortcut, 32 ch', layer(32, 14, 1), 'flipped'],
    ['stride 2', layer(64, 28, 3, { s: 2 }), 'transposed'],
    ['dilated', layer(64, 28, 3, { d: 2 }), 'transposed'],
    ['2 groups', layer(64, 28, 3, { group: 2 }), 'transposed'],
    ['pads beyond k - 1', { ...layer(64, 28), window: win(3, { p: 3 }) }, 'transposed'],
  ];
  for (const [what, l, want] of cases) assert.equal(chooseInputGrad(l), want, what);
  assert.equal(chooseInputGrad(layer(CONV_GRAD_THRESHOLDS.flippedMinChannels - 1, 28)), 'transposed');
});

test('MaxPool dX: blocks for tiling square windows, else Indices (given or recomputed)', () => {
  const pool = (k: number, s: number, size: number, p = 0) => ({ window: win(k, { s, p }), inSize: [size, size] });
  assert.equal(chooseMaxPoolGrad(pool(2, 2, 28)), 'blocks');
  assert.equal(chooseMaxPoolGrad(pool(2, 2, 14)), 'blocks');
  assert.equal(chooseMaxPoolGrad(pool(3, 3, 27)), 'blocks');
  assert.equal(chooseMaxPoolGrad({ ...pool(2, 2, 28), indices: 'Y.indices' }), 'indices');
  assert.equal(chooseMaxPoolGrad(pool(2, 2, 7)), 'recomputedIndices');
  assert.equal(chooseMaxPoolGrad(pool(3, 2, 28)), 'recomputedIndices');
  assert.equal(chooseMaxPoolGrad(pool(2, 2, 28, 1)), 'recomputedIndices');
  assert.equal(chooseMaxPoolGrad({ window: { ...win(2, { s: 2 }), kernel: [2, 1], strides: [2, 1] }, inSize: [28, 28] }), 'recomputedIndices');
});
