import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { float } from '../../src/graph/ir.js';
import { buildGradients } from '../../src/autodiff/gradients.js';
import { encodeModel } from '../../src/onnx/model.js';
import { gradcheck, runGradients, spaced, type CheckInput } from '../helpers/gradcheck.js';

// onnxruntime's CPU provider has a double kernel for training-mode BatchNormalization: float64 throughout.

/** X, scale, B as gradient inputs; the running statistics as inputs without gradients. */
const bnInputs = (dims: number[], x?: number[]): Record<string, CheckInput> => ({
  x: { dims, values: x }, scale: { dims: [dims[1]] }, bias: { dims: [dims[1]] },
  mean: { dims: [dims[1]], wrt: false }, var: { dims: [dims[1]], values: Array.from({ length: dims[1] }, (_, c) => 0.5 + c), wrt: false },
});

const trainingBn = (momentum: number, epsilon = 1e-5) => (b: GraphBuilder, v: Record<string, string>) =>
  b.op('BatchNormalization', [v.x, v.scale, v.bias, v.mean, v.var], { epsilon: float(epsilon), momentum: float(momentum), training_mode: 1 }, { outputs: 3 })[0];

/** Channel c of an NC... tensor, flattened. */
function channel(x: number[], dims: number[], c: number): number[] {
  const [N, C] = dims;
  const inner = x.length / (N * C);
  return Array.from({ length: N }, (_, n) => x.slice((n * C + c) * inner, (n * C + c + 1) * inner)).flat();
}

test('BatchNormalization (training, momentum 0.9): gradients of X, scale and B on [4, 3, 2, 2]', async () => {
  const run = await gradcheck({ inputs: bnInputs([4, 3, 2, 2]), build: trainingBn(0.9) });
  assert.ok(run.gradOps.includes('ReduceMean'), 'recomputes the batch statistics');
});

test('BatchNormalization (training): a constant channel (variance 0, so eps sets the scale) and a near-constant one', async () => {
  const dims = [3, 3, 2, 2];
  const x = spaced(36, 5).map((v, i) => {
    const c = Math.floor(i / 4) % 3;
    return c === 0 ? 0.25 : c === 1 ? 0.5 + 1e-3 * v : v;
  });
  const run = await gradcheck({ inputs: bnInputs(dims, x), build: trainingBn(0.9) });
  // In the constant channel Xh = 0, so dX = scale / sqrt(eps) (dY - mean(dY)): large, and set by eps alone.
  const scale = run.inputs.scale[0];
  const dy = channel(run.weights, dims, 0);
  const meanDy = dy.reduce((p, q) => p + q) / dy.length;
  const inv = 1 / Math.sqrt(Math.fround(1e-5));
  channel(run.grads.x, dims, 0).forEach((g, i) => assert.ok(Math.abs(g - scale * inv * (dy[i] - meanDy)) < 1e-9 * inv, `element ${i}: ${g}`));
  assert.ok(Math.abs(run.grads.scale[0]) < 1e-12, `dscale of the constant channel is 0, got ${run.grads.scale[0]}`);
});

test('BatchNormalization (training): batch 1 [1, 2, 3, 3], and [N, C] input', async () => {
  await gradcheck({ inputs: bnInputs([1, 2, 3, 3]), build: trainingBn(0.9, 1e-3) });
  await gradcheck({ inputs: bnInputs([5, 3]), build: trainingBn(0.9) });
});

test('BatchNormalization (training, momentum 0): the backward reads the batch statistics from the running outputs', async () => {
  const run = await gradcheck({ inputs: bnInputs([4, 3, 2, 2]), build: trainingBn(0) });
  assert.ok(!run.gradOps.includes('ReduceMean'), `gradient ops: ${run.gradOps.join(' ')}`);
});

test('onnxruntime training-mode running statistics: r = momentum r + (1 - momentum) stat, with the BIASED batch variance', async () => {
  const dims = [2, 3, 2, 2];
  const b = new GraphBuilder('bn');
  const v = Object.fromEntries(['x', 'scale', 'bias', 'mean', 'var'].map((k) => [k, b.input(k, 'float64', k === 'x' ? dims : [3])]));
  const outs = b.op('BatchNormalization', [v.x, v.scale, v.bias, v.mean, v.var], { epsilon: float(1e-5), momentum: float(0.75), training_mode: 1 }, { outputs: 3 });
  outs.forEach((o) => b.output(o));
  assert.deepEqual(outs.map((o) => b.shape(o)), [dims, [3], [3]]);
  const session = await ort.InferenceSession.create(encodeModel(b.graph));
  const x = spaced(24, 3).map((q) => 2 * q + 1);
  const stats = { mean: [0.1, -0.2, 0.3], var: [1, 2, 0.5] };
  const t = (data: number[], d: number[]) => new ort.Tensor('float64', Float64Array.from(data), d);
  const res = await session.run({ x: t(x, dims), scale: t([1, 2, 3], [3]), bias: t([0, 1, 0], [3]), mean: t(stats.mean, [3]), var: t(stats.var, [3]) });
  const [y, rm, rv] = outs.map((o) => Array.from(res[o].data as Float64Array));
  for (let c = 0; c < 3; c++) {
    const xs = channel(x, dims, c);
    const mu = xs.reduce((p, q) => p + q) / xs.length;
    const biased = xs.reduce((p, q) => p + (q - mu) ** 2, 0) / xs.length;
    // momentum is a float32 attribute: 0.75 is exact.
    assert.ok(Math.abs(rm[c] - (0.75 * stats.mean[c] + 0.25 * mu)) < 1e-12, `running_mean[${c}]`);
    assert.ok(Math.abs(rv[c] - (0.75 * stats.var[c] + 0.25 * biased)) < 1e-12, `running_var[${c}] ${rv[c]}: biased variance`);
    assert.ok(Math.abs(rv[c] - (0.75 * stats.var[c] + 0.25 * biased * 8 / 7)) > 1e-3, `running_var[${c}] is not the unbiased update`);
    const yc = channel(y, dims, c);
    xs.forEach((q, i) => assert.ok(Math.abs(yc[i] - ((c + 1) * (q - mu) / Math.sqrt(biased + Math.fround(1e-5)) + [0, 1, 0][c])) < 1e-12, `Y channel ${c} element ${i}`));
  }
});

test('BatchNormalization (training): a loss that depends on running_mean fails, naming the node', async () => {
  const b = new GraphBuilder('bn');
  const v = Object.fromEntries(['x', 'scale', 'bias', 'mean', 'var'].map((k) => [k, b.input(k, 'float64', k === 'x' ? [2, 3, 2, 2] : [3])]));
  const [y, rm] = b.op('BatchNormalization', [v.x, v.scale, v.bias, v.mean, v.var], { training_mode: 1 }, { outputs: 3, name: 'bn0' });
  const loss = b.op1('Add', [b.op1('ReduceSum', [y], { keepdims: 0 }), b.op1('ReduceSum', [rm], { keepdims: 0 })]);
  assert.throws(() => buildGradients(b, loss, [v.x]), /BatchNormalization gradient \(node 'bn0'\): the loss depends on running_mean/);
});

test('BatchNormalization (training): running statistics inputs get no gradient', async () => {
  const inputs = bnInputs([2, 2, 2, 2]);
  inputs.mean.wrt = true;
  await assert.rejects(runGradients({ inputs, build: trainingBn(0.9) }), /no gradient reached 'mean'/);
});
