import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float } from '../../src/graph/ir.js';
import { gradcheck, runGradients } from '../helpers/gradcheck.js';

// Ops that models exported from PyTorch use (ReLU6, GELU, LayerNorm, padding, indexing). float64 where
// onnxruntime's CPU provider has a double kernel; Erf has only float32.
test('Clip (ReLU6): dX = dY strictly inside the bounds, 0 outside; bounds given as inputs or one bound only', async () => {
  const x = { dims: [4, 5], values: Array.from({ length: 20 }, (_, i) => -2.05 + 0.5 * i) };
  const run = await gradcheck({ inputs: { x }, build: (b, v) => b.op1('Clip', [v.x, b.constant(0, 'float64'), b.constant(6, 'float64')]) });
  // g + 0: the masked product gives -0 where dY < 0, which is 0.
  run.grads.x.forEach((g, i) => assert.equal(g + 0, x.values[i] > 0 && x.values[i] < 6 ? run.weights[i] : 0, `element ${i}`));
  await gradcheck({ inputs: { x }, build: (b, v) => b.op1('Clip', [v.x, '', b.constant(1, 'float64')]) });
  await gradcheck({ inputs: { x }, build: (b, v) => b.op1('Clip', [v.x]) });
});

test('Erf (GELU): dX = dY 2/sqrt(pi) exp(-X^2)', async () => {
  await gradcheck({ dtype: 'float32', eps: 1e-3, atol: 2e-3, rtol: 2e-3, inputs: { x: { dims: [3, 4] } }, build: (b, v) => b.op1('Erf', [v.x]) });
});

test('Pow: gradients of base and exponent (x^3 as GELU-tanh exports it, and a tensor exponent)', async () => {
  const pos = { dims: [2, 3], values: [0.5, 0.7, 1.1, 1.3, 1.9, 2.2] };
  await gradcheck({ inputs: { x: pos }, build: (b, v) => b.op1('Pow', [v.x, b.constant(3, 'float64')]) });
  await gradcheck({ inputs: { x: pos, e: { dims: [3] } }, build: (b, v) => b.op1('Pow', [v.x, v.e]) });
});

test('LayerNormalization over the last axis and the last two, with and without bias', async () => {
  await gradcheck({
    inputs: { x: { dims: [2, 3, 4] }, scale: { dims: [4] }, bias: { dims: [4] } },
    build: (b, v) => b.op1('LayerNormalization', [v.x, v.scale, v.bias], { axis: -1, epsilon: float(1e-5) }),
  });
  await gradcheck({
    inputs: { x: { dims: [2, 3, 4] }, scale: { dims: [3, 4] } },
    build: (b, v) => b.op1('LayerNormalization', [v.x, v.scale], { axis: 1 }),
  });
});

test('Pad (constant): positive pads, and crops (negative pads)', async () => {
  await gradcheck({ inputs: { x: { dims: [1, 2, 3, 3] } }, build: (b, v) => b.op1('Pad', [v.x, b.constant([0, 0, 1, 2, 0, 0, 2, 1], 'int64')]) });
  await gradcheck({ inputs: { x: { dims: [2, 5] } }, build: (b, v) => b.op1('Pad', [v.x, b.constant([-1, 2, 1, -2], 'int64')]) });
});

test('Pad in reflect mode is refused naming the node', async () => {
  await assert.rejects(
    runGradients({ inputs: { x: { dims: [1, 1, 3, 3] } }, build: (b, v) => b.op1('Pad', [v.x, b.constant([0, 0, 1, 1, 0, 0, 1, 1], 'int64')], { mode: 'reflect' }) }),
    /Pad gradient .*mode 'reflect' has no rule/,
  );
});

test('Slice with axes, negative starts and clamped ends', async () => {
  await gradcheck({
    inputs: { x: { dims: [2, 5, 4] } },
    build: (b, v) => b.op1('Slice', [v.x, b.constant([1, -3], 'int64'), b.constant([100, -1], 'int64'), b.constant([1, 2], 'int64')]),
  });
  await gradcheck({ inputs: { x: { dims: [3, 4] } }, build: (b, v) => b.op1('Slice', [v.x, b.constant([0], 'int64'), b.constant([1], 'int64')]) });
});

test('Expand: dX sums dY over the broadcast axes', async () => {
  await gradcheck({ inputs: { x: { dims: [3, 1] } }, build: (b, v) => b.op1('Expand', [v.x, b.constant([2, 3, 4], 'int64')]) });
});

test('Gather: repeated and negative indices accumulate; axis 0, 1 and a scalar index (the ViT class token)', async () => {
  const idx = { dims: [2, 2], values: [0, 2, -1, 0], dtype: 'int64' as const, wrt: false };
  await gradcheck({ inputs: { x: { dims: [4, 3] }, i: idx }, build: (b, v) => b.op1('Gather', [v.x, v.i], { axis: 0 }) });
  await gradcheck({ inputs: { x: { dims: [2, 4, 3] }, i: idx }, build: (b, v) => b.op1('Gather', [v.x, v.i], { axis: 1 }) });
  await gradcheck({ inputs: { x: { dims: [2, 4, 3] } }, build: (b, v) => b.op1('Gather', [v.x, b.constant(0, 'int64')], { axis: 1 }) });
});

test('Split: equal parts, given sizes, and an output that no gradient reaches', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 6] } }, build: (b, v) => {
    const [p, q] = b.op('Split', [v.x], { axis: 1 }, { outputs: 2 });
    return b.op1('Mul', [p, q]);
  } });
  await gradcheck({ inputs: { x: { dims: [5, 2] } }, build: (b, v) => b.op('Split', [v.x, b.constant([2, 3], 'int64')], { axis: 0 }, { outputs: 2 })[1] });
});
