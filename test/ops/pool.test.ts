import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGradients } from '../../src/autodiff/gradients.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { gradcheck, runGradients, rng } from '../helpers/gradcheck.js';

/** PyTorch's max_pool2d backward: each window's dY goes to its first maximum in row-major order. */
function referenceMaxGrad(x: number[], [N, C, H, W]: number[], k: number[], s: number[], p: number[], dy: number[]): number[] {
  const Ho = Math.floor((H + p[0] + p[2] - k[0]) / s[0]) + 1;
  const Wo = Math.floor((W + p[1] + p[3] - k[1]) / s[1]) + 1;
  const dx = new Array<number>(x.length).fill(0);
  for (let nc = 0; nc < N * C; nc++) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        let best = -Infinity;
        let at = -1;
        for (let a = 0; a < k[0]; a++) {
          for (let c = 0; c < k[1]; c++) {
            const h = i * s[0] - p[0] + a;
            const w = j * s[1] - p[1] + c;
            if (h < 0 || w < 0 || h >= H || w >= W) continue;
            const v = x[(nc * H + h) * W + w];
            if (v > best) [best, at] = [v, (nc * H + h) * W + w];
          }
        }
        dx[at] += dy[(nc * Ho + i) * Wo + j];
      }
    }
  }
  return dx;
}

/** Fashion-MNIST-like: mostly the -1 background, some 0 and 1, so windows hold exact ties. */
function tied(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => [-1, -1, -1, 0, 1][Math.floor(r() * 5)]);
}

interface PoolCase { label: string; dims: number[]; k: number[]; s: number[]; p: number[]; outputs: 1 | 2; dtype: 'float64' | 'float32'; via: string }
const cases: PoolCase[] = [
  { label: 'k2 s2, one output (SpaceToDepth path)', dims: [2, 3, 4, 6], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0], outputs: 1, dtype: 'float64', via: 'SpaceToDepth' },
  { label: 'k2 s2, [Y, Indices] outputs (MaxUnpool path)', dims: [2, 3, 4, 4], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0], outputs: 2, dtype: 'float32', via: 'MaxUnpool' },
  { label: 'k3 s2 p1 overlapping, one output (own Indices + ScatterElements add)', dims: [1, 2, 5, 5], k: [3, 3], s: [2, 2], p: [1, 1, 1, 1], outputs: 1, dtype: 'float64', via: 'ScatterElements' },
  { label: 'k2 s2 on odd 5x5 (floor), one output', dims: [1, 2, 5, 5], k: [2, 2], s: [2, 2], p: [0, 0, 0, 0], outputs: 1, dtype: 'float64', via: 'ScatterElements' },
];
for (const c of cases) {
  const attrs = { kernel_shape: c.k, strides: c.s, pads: c.p };
  const build = (b: import('../../src/graph/builder.js').GraphBuilder, v: Record<string, string>) => b.op('MaxPool', [v.x], attrs, { outputs: c.outputs })[0];
  test(`MaxPool ${c.label}: matches central differences on distinct values`, async () => {
    const run = await gradcheck({ dtype: c.dtype, inputs: { x: { dims: c.dims } }, build });
    assert.ok(run.gradOps.includes(c.via), `expected ${c.via} in ${run.gradOps.join(' ')}`);
  });
  test(`MaxPool ${c.label}: exact ties send the gradient to the first maximum only, as PyTorch`, async () => {
    const x = tied(c.dims.reduce((p, q) => p * q, 1), 5);
    const run = await runGradients({ dtype: c.dtype, inputs: { x: { dims: c.dims, values: x } }, build });
    const want = referenceMaxGrad(x, c.dims, c.k, c.s, c.p, run.weights);
    run.grads.x.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-6, `element ${i}: ${g} vs ${want[i]}`));
    assert.ok(want.filter((v) => v === 0).length > x.length / 2, 'the case has tied windows');
  });
}

test('MaxPool: a window of all -1 passes its gradient to its top-left element alone', async () => {
  const run = await runGradients({
    inputs: { x: { dims: [1, 1, 2, 4], values: [-1, -1, -1, 0, -1, -1, 0, -1] } },
    build: (b, v) => b.op1('MaxPool', [v.x], { kernel_shape: [2, 2], strides: [2, 2] }),
  });
  const [r0, r1] = run.weights;
  assert.deepEqual(run.grads.x, [r0, 0, 0, r1, 0, 0, 0, 0]);
});

// Relu then MaxPool: the MaxPool's rule applies the Relu's mask to dY at the pooled size (pool.ts).
for (const c of cases.filter((k) => k.outputs === 1 || k.dtype === 'float32')) {
  const attrs = { kernel_shape: c.k, strides: c.s, pads: c.p };
  test(`Relu then MaxPool ${c.label}: the gradient of PyTorch's relu + max_pool2d, ties at 0 included`, async () => {
    const r = rng(3);
    const x = Array.from({ length: c.dims.reduce((p, q) => p * q, 1) }, () => (r() < 0.25 ? 0.25 + r() : [-0.5, 0, 0][Math.floor(r() * 3)]));
    const run = await runGradients({ dtype: c.dtype, inputs: { x: { dims: c.dims, values: x } }, build: (b, v) => b.op('MaxPool', [b.op1('Relu', [v.x])], attrs, { outputs: c.outputs })[0] });
    const routed = referenceMaxGrad(x.map((v) => Math.max(v, 0)), c.dims, c.k, c.s, c.p, run.weights);
    const want = routed.map((g, i) => (x[i] > 0 ? g : 0));
    run.grads.x.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-6, `element ${i}: ${g} vs ${want[i]}`));
    assert.ok(want.some((g, i) => g === 0 && routed[i] !== 0), 'some window has its maximum at a Relu zero');
  });
}

/** The shapes the backward's Greater nodes test, for Relu -> MaxPool k2 s2 on [2, 3, 8, 8], with `extra` readers of the Relu. */
function maskShapes(extra: boolean): string[] {
  const b = new GraphBuilder('relu_pool');
  const x = b.input('x', 'float32', [2, 3, 8, 8]);
  const a = b.op1('Relu', [x]);
  let y = b.op1('ReduceSum', [b.op1('MaxPool', [a], { kernel_shape: [2, 2], strides: [2, 2] })], { keepdims: 0 });
  if (extra) y = b.op1('Add', [y, b.op1('ReduceSum', [a], { keepdims: 0 })]);
  const nForward = b.graph.nodes.length;
  buildGradients(b, y, [x]);
  return b.graph.nodes.slice(nForward).filter((n) => n.opType === 'Greater').map((n) => String(b.shape(n.inputs[0])));
}

test('Relu read by a MaxPool alone is masked once, at the pooled size; with another reader, by its own rule', () => {
  assert.deepEqual(maskShapes(false), ['2,3,4,4']);
  assert.deepEqual(maskShapes(true), ['2,3,8,8']);
});

// AveragePool and GlobalAveragePool have no double kernel in onnxruntime's CPU provider: float32.
const avgCases: [string, Record<string, number[] | number>][] = [
  ['k2 s2', { kernel_shape: [2, 2], strides: [2, 2] }],
  ['k3 s1 p1 count_include_pad=0', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 0 }],
  ['k3 s1 p1 count_include_pad=1 (PyTorch AvgPool2d default)', { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }],
  ['k3 s2 p1 count_include_pad=0 (output_padding)', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
];
for (const [label, attrs] of avgCases) {
  test(`AveragePool ${label}`, async () => {
    await gradcheck({ dtype: 'float32', inputs: { x: { dims: [2, 2, 6, 6] } }, build: (b, v) => b.op1('AveragePool', [v.x], attrs) });
  });
}

test('GlobalAveragePool', async () => {
  const run = await gradcheck({ dtype: 'float32', inputs: { x: { dims: [2, 3, 3, 4] } }, build: (b, v) => b.op1('GlobalAveragePool', [v.x]) });
  // dX[n, c, h, w] = R[n, c] / 12
  assert.ok(Math.abs(run.grads.x[13] - run.weights[1] / 12) < 1e-7);
});
