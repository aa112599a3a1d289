import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float } from '../../src/graph/ir.js';
import { gradcheck, runGradients } from '../helpers/gradcheck.js';

// BatchNormalization and Dropout have double kernels: float64.
test('BatchNormalization (inference): gradients of X, scale, B, mean and var', async () => {
  await gradcheck({
    inputs: {
      x: { dims: [2, 3, 2, 2] }, scale: { dims: [3] }, bias: { dims: [3] }, mean: { dims: [3] },
      var: { dims: [3], values: [0.5, 1.2, 0.8] },
    },
    build: (b, v) => b.op1('BatchNormalization', [v.x, v.scale, v.bias, v.mean, v.var], { epsilon: float(1e-3) }),
  });
});

test('BatchNormalization (inference) on [N, C] input, frozen statistics as constants', async () => {
  await gradcheck({
    inputs: {
      x: { dims: [4, 3] }, scale: { dims: [3] }, bias: { dims: [3] },
      mean: { dims: [3], constant: true }, var: { dims: [3], values: [0.5, 1.2, 0.8], constant: true },
    },
    build: (b, v) => b.op1('BatchNormalization', [v.x, v.scale, v.bias, v.mean, v.var]),
  });
});

test('training-mode BN built from primitives (as the BatchNorm2d layer does) matches central differences', async () => {
  const eps = 1e-5;
  await gradcheck({
    inputs: { x: { dims: [4, 3, 2, 2] }, weight: { dims: [3] }, bias: { dims: [3] } },
    build: (b, v) => {
      const axes = [0, 2, 3];
      const chw = b.constant([1, 2], 'int64');
      const mean = b.op1('ReduceMean', [v.x], { axes, keepdims: 1 });
      const xc = b.op1('Sub', [v.x, mean]);
      const variance = b.op1('ReduceMean', [b.op1('Mul', [xc, xc])], { axes, keepdims: 1 });
      const inv = b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [variance, b.constant(eps, 'float64')])])]);
      const scaled = b.op1('Mul', [b.op1('Mul', [xc, inv]), b.op1('Unsqueeze', [v.weight, chw])]);
      return b.op1('Add', [scaled, b.op1('Unsqueeze', [v.bias, chw])]);
    },
  });
});

const kept = (run: { output: number[] }) => run.output.map((y) => y !== 0);

test('Dropout without training_mode is the identity: dX = dY, no extra ops', async () => {
  const run = await runGradients({ inputs: { x: { dims: [4, 4] } }, build: (b, v) => b.op1('Dropout', [v.x, b.constant(0.5, 'float64')]) });
  assert.deepEqual(run.grads.x, run.weights);
});

for (const outputs of [2, 1]) {
  test(`Dropout training mode (ratio 0.3, ${outputs === 2 ? 'with' : 'without'} a mask output): dX = dY mask / (1 - ratio)`, async () => {
    const run = await runGradients({
      inputs: { x: { dims: [8, 8] } },
      build: (b, v) => b.op('Dropout', [v.x, b.constant(0.3, 'float64'), b.constant(1, 'bool')], {}, { outputs })[0],
    });
    const mask = kept(run);
    const dropped = mask.filter((m) => !m).length;
    assert.ok(dropped > 5 && dropped < 40, `dropped ${dropped} of 64`);
    run.grads.x.forEach((g, i) => assert.ok(Math.abs(g - (mask[i] ? run.weights[i] / 0.7 : 0)) < 1e-12, `element ${i}`));
  });
}

for (const mode of [0, 1]) {
  test(`Dropout with a run-time training_mode input = ${mode === 1}`, async () => {
    const run = await runGradients({
      inputs: { x: { dims: [6, 6] }, mode: { dims: [], values: [mode], dtype: 'bool', wrt: false } },
      build: (b, v) => b.op1('Dropout', [v.x, b.constant(0.5, 'float64'), v.mode]),
    });
    const mask = kept(run);
    run.grads.x.forEach((g, i) => assert.ok(Math.abs(g - (mode ? (mask[i] ? run.weights[i] * 2 : 0) : run.weights[i])) < 1e-12, `element ${i}`));
  });
}
