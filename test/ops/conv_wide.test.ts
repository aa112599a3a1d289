import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convBackwardReference } from '../helpers/conv_reference.js';
import { runGradients } from '../helpers/gradcheck.js';

// Wide layers take the faster formulations (32+ input channels: dX through a Conv with the flipped kernel;
// 16+: dW through the gathered taps, one Gemm for these small planes): checked against a direct float64 evaluation of the backward sums.


function close(got: number[], want: Float64Array, what: string) {
  const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-4 * scale + 1e-5, `${what}[${i}]: ${g} vs ${want[i]}`));
}

const cases = [
  { label: 'k3 p1 s1, 32 -> 4 channels', x: [2, 32, 5, 5], w: [4, 32, 3, 3], s: 1, p: 1, flipped: true },
  { label: 'k3 p0 s1, 40 -> 3 channels', x: [2, 40, 4, 6], w: [3, 40, 3, 3], s: 1, p: 0, flipped: true },
  { label: 'k3 p1 s2, 32 -> 2 channels (ConvTranspose for dX)', x: [2, 32, 6, 6], w: [2, 32, 3, 3], s: 2, p: 1, flipped: false },
  { label: 'k3 p1 s1, 16 -> 3 channels (ConvTranspose for dX)', x: [2, 16, 5, 5], w: [3, 16, 3, 3], s: 1, p: 1, flipped: false },
];
for (const c of cases) {
  test(`Conv ${c.label}: dX and dW equal the direct sums`, async () => {
    const run = await runGradients({
      dtype: 'float32',
      inputs: { x: { dims: c.x }, w: { dims: c.w } },
      build: (b, v) => b.op1('Conv', [v.x, v.w], { pads: [c.p, c.p, c.p, c.p], strides: [c.s, c.s] }),
    });
    const want = convBackwardReference(run.inputs.x, run.inputs.w, run.weights, c.x, c.w, c.s, c.p);
    close(run.grads.x, want.dx, 'dX');
    close(run.grads.w, want.dw, 'dW');
    assert.equal(run.gradOps.includes('ConvTranspose'), !c.flipped, `gradient ops: ${run.gradOps.join(' ')}`);
    assert.equal(run.gradOps.filter((o) => o === 'Gemm').length, 1, 'one Gemm for all taps');
  });
}
