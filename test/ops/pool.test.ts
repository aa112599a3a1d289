import { test } from 'node:test';
import assert from 'node:assert/strict';
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
