import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convBackwardReference } from '../helpers/conv_reference.js';
import { runGradients } from '../helpers/gradcheck.js';

// 16+ input channels: dW through Gathers of X's taps (batch innermost), one Gemm per group of taps (all of
// them, a kernel row, or one tap, as the columns C Ho Wo grow past CONV_GRAD_THRESHOLDS.gatherMaxGroupColumns).
// Checked against a direct float64 evaluation of the backward sums.

interface DWCase { label: string; x: number[]; w: number[]; s: number; p: number; gemms: number; gathers?: number; rows?: number }

const cases: DWCase[] = [
  { label: 'k3 p1 s1, 16 -> 5 channels, 8x10 (all taps in one Gemm)', x: [3, 16, 8, 10], w: [5, 16, 3, 3], s: 1, p: 1, gemms: 1 },
  { label: 'k3 p0 s2, 20 -> 3 channels, 19x17 (all taps in one Gemm)', x: [2, 20, 19, 17], w: [3, 20, 3, 3], s: 2, p: 0, gemms: 1 },
  { label: 'k2 p1 s1, 16 -> 4 channels, 9x9 (all taps in one Gemm)', x: [2, 16, 9, 9], w: [4, 16, 2, 2], s: 1, p: 1, gemms: 1 },
  { label: 'k3 p1 s1, 16 -> 3 channels, 28x28 (a Gemm per kernel row)', x: [2, 16, 28, 28], w: [3, 16, 3, 3], s: 1, p: 1, gemms: 3 },
  { label: 'k3 p1 s1, 16 -> 2 channels, 48x48 (a Gemm per tap)', x: [1, 16, 48, 48], w: [2, 16, 3, 3], s: 1, p: 1, gemms: 9 },
  { label: 'k3 p2 s3, 16 -> 2 channels, 11x13 (strided, padded beyond the kernel)', x: [2, 16, 11, 13], w: [2, 16, 3, 3], s: 3, p: 2, gemms: 1 },
  { label: 'k1 p0 s1, 24 -> 5 channels, 6x7 (pointwise: X is the columns, no Gather)', x: [3, 24, 6, 7], w: [5, 24, 1, 1], s: 1, p: 0, gemms: 1, gathers: 0 },
  { label: 'k1 p0 s2, 16 -> 3 channels, 7x9 (strided pointwise: gathered)', x: [2, 16, 7, 9], w: [3, 16, 1, 1], s: 2, p: 0, gemms: 1 },
];
/** dW of one Conv against the direct sums, and its Gathers and Gemms counted (plus a Gather per row of dY by rows). */
function checkDW(c: DWCase, target: 'portable' | 'cpu'): void {
  test(`Conv dW${target === 'cpu' ? ' by rows (cpu)' : ''} ${c.label}: equals the direct sums`, async () => {
    const run = await runGradients({
      dtype: 'float32',
      target,
      inputs: { x: { dims: c.x }, w: { dims: c.w } },
      build: (b, v) => b.op1('Conv', [v.x, v.w], { pads: [c.p, c.p, c.p, c.p], strides: [c.s, c.s] }),
    });
    const want = convBackwardReference(run.inputs.x, null, run.weights, c.x, c.w, c.s, c.p).dw;
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    run.grads.w.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 1e-4 * scale + 1e-5, `dW[${i}]: ${g} vs ${want[i]}`));
    assert.equal(run.gradOps.filter((o) => o === 'Gather').length, c.gathers ?? c.gemms + (c.rows ?? 0), `gradient ops: ${run.gradOps.join(' ')}`);
    assert.equal(run.gradOps.filter((o) => o === 'Gemm').length, c.gemms);
  });
}
for (const c of cases) checkDW(c, 'portable');

// The CPU's gathered dW: one Gather + Gemm per output row and kernel row of taps (per tap where C kw Wo passes
// CONV_GRAD_THRESHOLDS.gatherRowMaxColumns), none for a row whose taps all read padding, and one Gather of
// each output row's dY.
const rowCases: DWCase[] = [
  { label: 'k3 p1 s1, 16 -> 5 channels, 8x10 (8 rows x 3 kernel rows, less the 2 in the padding)', x: [3, 16, 8, 10], w: [5, 16, 3, 3], s: 1, p: 1, gemms: 22, rows: 8 },
  { label: 'k3 p0 s2, 20 -> 3 channels, 19x17 (strided: 9 rows x 3)', x: [2, 20, 19, 17], w: [3, 20, 3, 3], s: 2, p: 0, gemms: 27, rows: 9 },
  { label: 'k2 p1 s1, 16 -> 4 channels, 9x9 (10 rows x 2, less 2)', x: [2, 16, 9, 9], w: [4, 16, 2, 2], s: 1, p: 1, gemms: 18, rows: 10 },
  { label: 'k3 p1 s1, 16 -> 2 channels, 4x72 (a row of 16 x 3 x 72 columns: per tap, 4 rows x 9, less 6)', x: [1, 16, 4, 72], w: [2, 16, 3, 3], s: 1, p: 1, gemms: 30, rows: 4 },
  { label: 'k3 p2 s3, 16 -> 2 channels, 11x13 (strided, padded beyond the kernel)', x: [2, 16, 11, 13], w: [2, 16, 3, 3], s: 3, p: 2, gemms: 11, rows: 5 },
  { label: 'k3 p2 s2, 16 -> 2 channels, 1x5 (the middle kernel row only ever reads padding: zeros)', x: [1, 16, 1, 5], w: [2, 16, 3, 3], s: 2, p: 2, gemms: 2, rows: 2 },
  { label: 'k1 p0 s1, 24 -> 5 channels, 6x7 (pointwise: X is the columns, no Gather)', x: [3, 24, 6, 7], w: [5, 24, 1, 1], s: 1, p: 0, gemms: 1, gathers: 0 },
  { label: 'k1 p0 s2, 16 -> 3 channels, 7x9 (strided pointwise: 4 rows)', x: [2, 16, 7, 9], w: [3, 16, 1, 1], s: 2, p: 0, gemms: 4, rows: 4 },
];
for (const c of rowCases) checkDW(c, 'cpu');
