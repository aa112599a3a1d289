import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng, runGradients } from '../helpers/gradcheck.js';

// float32 k x k / stride k MaxPool takes the ArgMax + Resize backward (onnxruntime has no double Resize,
// so the float64 cases of pool.test.ts cover the other branch): same first-maximum routing as PyTorch.

/** dX: each window's dY at its first maximum in row-major order. */
function reference(x: number[], [N, C, H, W]: number[], k: number, dy: number[]): number[] {
  const [Ho, Wo] = [Math.floor(H / k), Math.floor(W / k)];
  const dx = new Array<number>(x.length).fill(0);
  for (let r = 0; r < N * C; r++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) {
    let at = -1;
    for (let a = 0; a < k; a++) for (let c = 0; c < k; c++) {
      const p = (r * H + i * k + a) * W + j * k + c;
      if (at < 0 || x[p] > x[at]) at = p;
    }
    dx[at] += dy[(r * Ho + i) * Wo + j];
  }
  return dx;
}

for (const { dims, k } of [{ dims: [2, 3, 4, 6], k: 2 }, { dims: [1, 2, 6, 9], k: 3 }]) {
  test(`MaxPool k${k} s${k} float32 [${dims}]: ties go to the first maximum; no Space/DepthToSpace`, async () => {
    const r = rng(11);
    const x = Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => [-1, -1, -1, 0, 0.5, 1][Math.floor(r() * 6)]);
    const run = await runGradients({
      dtype: 'float32',
      inputs: { x: { dims, values: x } },
      build: (b, v) => b.op1('MaxPool', [v.x], { kernel_shape: [k, k], strides: [k, k] }),
    });
    const want = reference(x, dims, k, run.weights);
    run.grads.x.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-6, `element ${i}: ${g} vs ${want[i]}`));
    assert.ok(run.gradOps.includes('ArgMax') && !run.gradOps.includes('DepthToSpace') && !run.gradOps.includes('SpaceToDepth'), `gradient ops: ${run.gradOps.join(' ')}`);
  });
}
