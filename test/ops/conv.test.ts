import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck, runGradients } from '../helpers/gradcheck.js';

// onnxruntime's CPU provider has no double Conv/ConvTranspose kernel: float32, eps 1e-2, atol/rtol 1e-2
// (Conv is linear in X and in W, so central differences are exact up to float32 rounding).
interface Case {
  label: string; x: number[]; w: number[]; attrs: Record<string, number[]>; group?: number; bias?: boolean;
  /** Ops the gradient must use (the formulation the case is there to exercise). */
  gradOps?: string[];
}

/** One gradcheck test per case; the bias has Conv's output channels W[0], or ConvTranspose's W[1] x group. */
function gradcheckCases(op: 'Conv' | 'ConvTranspose', list: Case[]): void {
  for (const c of list) {
    const group = c.group ?? 1;
    const biasSize = op === 'Conv' ? c.w[0] : c.w[1] * group;
    test(`${op} ${c.label}: gradients of X, W${c.bias ? ', B' : ''} match central differences`, async () => {
      const run = await gradcheck({
        dtype: 'float32',
        inputs: { x: { dims: c.x }, w: { dims: c.w }, ...(c.bias ? { b: { dims: [biasSize] } } : {}) },
        build: (b, v) => b.op1(op, c.bias ? [v.x, v.w, v.b] : [v.x, v.w], group > 1 ? { ...c.attrs, group } : c.attrs),
      });
      for (const o of c.gradOps ?? []) assert.ok(run.gradOps.includes(o), `no ${o} in the gradient ops: ${run.gradOps.join(' ')}`);
    });
  }
}

const cases: Case[] = [
  { label: 'k3 p1 s1 with bias (im2col weight gradient)', x: [2, 3, 6, 6], w: [4, 3, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true },
  { label: 'k3 p1 s2, output_padding 1 for dX', x: [2, 2, 6, 6], w: [3, 2, 3, 3], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] }, bias: true },
  { label: 'k5 p2 s1 (swapped-Conv weight gradient)', x: [2, 2, 6, 6], w: [3, 2, 5, 5], attrs: { pads: [2, 2, 2, 2] }, bias: true },
  { label: 'k5 p2 s2, swapped Conv cropped to the kernel', x: [2, 2, 6, 6], w: [2, 2, 5, 5], attrs: { pads: [2, 2, 2, 2], strides: [2, 2] } },
  { label: 'k7 p3 s1 without bias', x: [1, 2, 7, 7], w: [2, 2, 7, 7], attrs: { pads: [3, 3, 3, 3] } },
  { label: 'k2x3 asymmetric pads [0,1,1,0], strides [1,2]', x: [2, 2, 5, 6], w: [3, 2, 2, 3], attrs: { pads: [0, 1, 1, 0], strides: [1, 2] }, bias: true },
];
gradcheckCases('Conv', cases);

test('Conv: no input gradient (no ConvTranspose) when only W and B are wanted; shapes inferred', async () => {
  const run = await runGradients({
    dtype: 'float32',
    inputs: { x: { dims: [2, 1, 6, 6], wrt: false }, w: { dims: [4, 1, 3, 3] }, b: { dims: [4] } },
    build: (b, v) => {
      const y = b.op1('Conv', [v.x, v.w, v.b], { pads: [1, 1, 1, 1], strides: [2, 2] });
      assert.deepEqual(b.shape(y), [2, 4, 3, 3]);
      return y;
    },
  });
  assert.ok(!run.gradOps.includes('ConvTranspose'), `gradient ops: ${run.gradOps.join(' ')}`);
  assert.deepEqual(Object.keys(run.grads), ['w', 'b']);
  // dB[m] = sum over n, h, w of R[n, m]
  for (let m = 0; m < 4; m++) {
    let s = 0;
    for (let n = 0; n < 2; n++) for (let k = 0; k < 9; k++) s += run.weights[(n * 4 + m) * 9 + k];
    assert.ok(Math.abs(run.grads.b[m] - s) < 1e-5);
  }
});

/**
 * Grouped convolutions: dX through a grouped ConvTranspose; dW with a fixed number of nodes whatever the
 * group count, one grouped Conv with batch and channels swapped (depthwise) or one batched MatMul over the groups.
 */
const DEPTHWISE = ['ConvTranspose', 'Conv'];
const GROUPED = ['ConvTranspose', 'MatMul'];
const groupCases: Case[] = [
  { label: 'group 2, k3 p1 with bias', x: [2, 4, 5, 5], w: [6, 2, 3, 3], attrs: { pads: [1, 1, 1, 1] }, group: 2, bias: true, gradOps: GROUPED },
  { label: 'group 3, k2x3 asymmetric pads [0,1,1,0], strides [1,2], dilations [2,1]', x: [2, 6, 6, 7], w: [3, 2, 2, 3], attrs: { pads: [0, 1, 1, 0], strides: [1, 2], dilations: [2, 1] }, group: 3, gradOps: GROUPED },
  { label: 'depthwise (group 4), k3 p1 s2', x: [2, 4, 6, 6], w: [4, 1, 3, 3], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] }, group: 4, gradOps: DEPTHWISE },
  { label: 'depthwise x2 (group 3, 6 filters), k5 p2 with bias', x: [1, 3, 6, 6], w: [6, 1, 5, 5], attrs: { pads: [2, 2, 2, 2] }, group: 3, bias: true, gradOps: DEPTHWISE },
  { label: 'depthwise (group 5), k3 dilation 2 p2, 1x1 output rows', x: [2, 5, 5, 4], w: [5, 1, 3, 3], attrs: { pads: [2, 2, 2, 2], dilations: [2, 2], strides: [3, 1] }, group: 5, gradOps: DEPTHWISE },
];
gradcheckCases('Conv', groupCases);

test('Conv: grouped and depthwise gradients have the same nodes for 4 groups as for 64 (no per-group subgraph)', async () => {
  const gradOps = async (C: number, group: number) => (await runGradients({
    dtype: 'float32',
    inputs: { x: { dims: [1, C, 6, 6] }, w: { dims: [C, C / group, 3, 3] } },
    build: (b, v) => b.op1('Conv', [v.x, v.w], { pads: [1, 1, 1, 1], group }),
  })).gradOps;
  assert.deepEqual(await gradOps(64, 64), await gradOps(4, 4));
  assert.deepEqual(await gradOps(128, 64), await gradOps(8, 4));
  assert.ok(!(await gradOps(64, 64)).includes('Split'));
});

const dilatedCases: Case[] = [
  { label: 'dilation 2, k3 p2 with bias', x: [2, 2, 7, 7], w: [3, 2, 3, 3], attrs: { pads: [2, 2, 2, 2], dilations: [2, 2] }, bias: true },
  { label: 'dilation 2 and stride 2, k3 p1', x: [2, 2, 8, 8], w: [2, 2, 3, 3], attrs: { pads: [1, 1, 1, 1], strides: [2, 2], dilations: [2, 2] } },
  { label: 'dilations [1, 3], k2x3 p0, 16 channels', x: [1, 16, 5, 9], w: [2, 16, 2, 3], attrs: { dilations: [1, 3] }, bias: true },
];
gradcheckCases('Conv', dilatedCases);

test('ConvTranspose: inferred shape matches onnxruntime, with strides, pads and output_padding', async () => {
  const run = await runGradients({
    dtype: 'float32',
    inputs: { x: { dims: [1, 3, 4, 4], wrt: false }, w: { dims: [3, 2, 3, 3], wrt: false }, z: { dims: [1] } },
    build: (b, v) => {
      const y = b.op1('ConvTranspose', [v.x, v.w], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] });
      assert.deepEqual(b.shape(y), [1, 2, 8, 8]);
      return b.op1('Add', [y, v.z]);
    },
  });
  assert.equal(run.output.length, 2 * 8 * 8);
});

// ConvTranspose is linear in X and in W as Conv is: the same float32 central differences are exact.
const transposeCases: Case[] = [
  { label: 'k3 p1 s1 with bias', x: [2, 3, 5, 5], w: [3, 4, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true },
  { label: 'k3 p1 s2, output_padding 1', x: [2, 2, 4, 4], w: [2, 3, 3, 3], attrs: { pads: [1, 1, 1, 1], strides: [2, 2], output_padding: [1, 1] }, bias: true },
  { label: 'k2 s2 p0 (2x upsampling) without bias', x: [2, 3, 3, 4], w: [3, 2, 2, 2], attrs: { strides: [2, 2] } },
  { label: 'k4 s2 p1, asymmetric strides [2, 1]', x: [1, 2, 3, 4], w: [2, 2, 4, 4], attrs: { pads: [1, 1, 1, 1], strides: [2, 1] }, bias: true },
  { label: 'k5 p2 s1 (swapped-Conv weight gradient)', x: [1, 2, 5, 5], w: [2, 2, 5, 5], attrs: { pads: [2, 2, 2, 2] } },
  { label: 'k3 p1 s1, 16 output channels (gathered weight gradient)', x: [2, 3, 8, 8], w: [3, 16, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true },
  { label: 'group 2, k3 p1 s2, output_padding 1', x: [2, 4, 3, 3], w: [4, 3, 3, 3], attrs: { pads: [1, 1, 1, 1], strides: [2, 2], output_padding: [1, 1] }, group: 2, bias: true },
  { label: 'dilation 2, k3 p2', x: [1, 2, 5, 5], w: [2, 3, 3, 3], attrs: { pads: [2, 2, 2, 2], dilations: [2, 2] } },
];
gradcheckCases('ConvTranspose', transposeCases);

test('ConvTranspose gradient: output_shape or auto_pad fail with a clear error', async () => {
  const fails: [Record<string, number[] | number | string>, RegExp][] = [
    [{ strides: [2, 2], output_shape: [9, 9] }, /give pads and output_padding instead of output_shape/],
    [{ auto_pad: 'SAME_UPPER' }, /give pads and output_padding instead of output_shape or auto_pad/],
  ];
  for (const [attrs, re] of fails) {
    await assert.rejects(runGradients({
      dtype: 'float32',
      inputs: { x: { dims: [1, 2, 4, 4] }, w: { dims: [2, 1, 3, 3] } },
      build: (b, v) => b.op1('ConvTranspose', [v.x, v.w], attrs),
    }), re);
  }
});
