import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convBackwardReference } from '../helpers/conv_reference.js';
import { runGradients } from '../helpers/gradcheck.js';

// 16+ input channels, planes from 8x8 and C Ho Wo <= 25088: dW through Gathers of X's taps (channels last),
// one Gemm per group of taps (all of them, a kernel row, or one tap, as the columns grow). Checked against a
// direct float64 evaluation of the backward sums.


const cases = [
  { label: 'k3 p1 s1, 16 -> 5 channels, 8x10 (all taps in one Gemm)', x: [3, 16, 8, 10], w: [5, 16, 3, 3], s: 1, p: 1, gather: true, gemms: 1 },
  { label: 'k3 p0 s2, 20 -> 3 channels, 19x17 (all taps in one Gemm)', x: [2, 20, 19, 17], w: [3, 20, 3, 3], s: 2, p: 0, gather: true, gemms: 1 },
  { label: 'k2 p1 s1, 16 -> 4 channels, 9x9 (all taps in one Gemm)', x: [2, 16, 9, 9], w: [4, 16, 2, 2], s: 1, p: 1, gather: true, gemms: 1 },
  { label: 'k3 p1 s1, 16 -> 3 channels, 14x14 (a Gemm per kernel row)', x: [2, 16, 14, 14], w: [3, 16, 3, 3], s: 1, p: 1, gather: true, gemms: 3 },
  { label: 'k3 p1 s1, 32 -> 2 channels, 14x15 (a Gemm per tap)', x: [1, 32, 14, 15], w: [2, 32, 3, 3], s: 1, p: 1, gather: true, gemms: 9 },
  { label: 'k3 p1 s1, 16 -> 2 channels, 40x40 (planes too large: Slices)', x: [1, 16, 40, 40], w: [2, 16, 3, 3], s: 1, p: 1, gather: false, gemms: 9 },
];
for (const c of cases) {
  test(`Conv dW ${c.label}: equals the direct sums`, async () => {
    const run = await runGradients({
      dtype: 'float32',
      inputs: { x: { dims: c.x }, w: { dims: c.w } },
      build: (b, v) => b.op1('Conv', [v.x, v.w], { pads: [c.p, c.p, c.p, c.p], strides: [c.s, c.s] }),
    });
    const want = convBackwardReference(run.inputs.x, null, run.weights, c.x, c.w, c.s, c.p).dw;
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    run.grads.w.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-4 * scale + 1e-5, `dW[${i}]: ${g} vs ${want[i]}`));
    assert.equal(run.gradOps.includes('Gather'), c.gather, `gradient ops: ${run.gradOps.join(' ')}`);
    assert.equal(run.gradOps.filter((o) => o === 'Gemm').length, c.gemms);
  });
}
