import { attrInt, attrInts, attrString, type Dim } from '../graph/ir.js';
import type { Emitter, RuleTable } from './types.js';
import { staticSpatial, windowOf, windowOutput, type Window } from './window.js';

/**
 * Weight gradients of kernels up to this many taps use im2col + MatMul; larger kernels a Conv with batch
 * and channel axes swapped. Measured on onnxruntime-node CPU, batch 64 (see the autodiff report):
 * 3x3 im2col 1.4-3.3 ms vs swapped Conv 3.0-5.9 ms; 7x7 im2col 7.5 ms vs swapped Conv 4.2 ms.
 */
const IM2COL_MAX_TAPS = 16;

/** Input channels from which dX uses a Conv with the flipped kernel instead of ConvTranspose (see below). */
const FLIPPED_MIN_CHANNELS = 32;

/**
 * Input channels from which the weight gradient moves the batch axis inward once (X -> [C, N, H, W],
 * dY -> [M, N Ho Wo]) and runs one Gemm per tap with K = N Ho Wo, instead of concatenating the taps into
 * an im2col matrix (a second copy of 9x the input) and multiplying sample by sample. Measured
 * (scripts/bench_ops.ts, one thread, batch 64, k3): 16 ch 14x14 1.8 vs 2.1 ms, 32 ch 28x28 10.6 vs 14.8,
 * 32 ch 14x14 4.4 vs 6.1, 64 ch 14x14 12.3 vs 24.0; but 1 channel 2.1 vs 0.6 ms.
 */
const TAP_GEMM_MIN_CHANNELS = 16;

/**
 * The weight gradient of 16+ channel layers gathers its columns from X laid out channels-last (one Gather
 * per group of taps) and multiplies each group with one Gemm, up to this many elements per sample in one
 * tap's columns (C Ho Wo); larger planes keep the per-tap Slices. Gather runs on every thread, Slice on
 * one. Measured (batch 64, k3, median ms, 1 / 2 threads, Slice taps -> gathered taps): 16 ch 14x14
 * 1.82 -> 1.48 / 1.73 -> 1.12 (rows of taps); 32 ch 14x14 -> 64 4.00 -> 3.23 / 3.50 -> 2.58; 64 ch 14x14
 * 7.45 -> 5.96 / 6.27 -> 4.34; 32 ch 28x28 (25088) 9.33 -> 9.58 / 7.73 -> 6.67; but 32 ch 32x32 (32768)
 * 13.2 -> 14.8 / 11.3 -> 10.0.
 */
const GATHER_MAX_TAP_COLUMNS = 28 * 28 * 32;

/**
 * Taps per Gather + Gemm: all of them, else one kernel row, else one, whichever first keeps a group's
 * per-sample columns within this many elements (in cache: 16 ch 14x14 all taps 1.75 / 1.10 ms, a row at a
 * time 1.48 / 1.12, one at a time 1.51 / 1.26).
 */
const GATHER_MAX_GROUP_COLUMNS = 16384;

/** Output planes smaller than this (not measured) keep the per-tap Slices. */
const GATHER_MIN_PLANE = 64;

/** The strided window of tap (i, j) over the padded spatial axes 2, 3. */
function tapSlice(b: Emitter, xp: string, w: Window, [i, j]: number[], [Ho, Wo]: number[]): string {
  const [sh, sw] = w.strides;
  const ends = b.constant([i + (Ho - 1) * sh + 1, j + (Wo - 1) * sw + 1], 'int64');
  return b.op1('Slice', [xp, b.constant([i, j], 'int64'), ends, b.constant([2, 3], 'int64'), b.constant([sh, sw], 'int64')]);
}

function padSpatial(b: Emitter, x: string, w: Window): string {
  const [pt, pl, pb, pr] = w.pads;
  return pt || pl || pb || pr ? b.op1('Pad', [x, b.constant([0, 0, pt, pl, 0, 0, pb, pr], 'int64')]) : x;
}

/** dW[:, :, i, j] = dY^T [M, N P] . tap_ij [C, N P]^T, on X and dY with batch and channel axes swapped. */
function weightGradTapGemms(b: Emitter, x: string, dY: string, w: Window, C: number, M: number, out: number[]): string {
  const [kh, kw] = w.kernel;
  const swap = { perm: [1, 0, 2, 3] };
  const xp = padSpatial(b, b.op1('Transpose', [x], swap), w);
  const dYt = b.op1('Reshape', [b.op1('Transpose', [dY], swap), b.constant([M, -1], 'int64')]);
  const flat = b.constant([C, -1], 'int64');
  const perTap: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const tap = b.op1('Reshape', [tapSlice(b, xp, w, [i, j], out), flat]);
      perTap.push(b.op1('Unsqueeze', [b.op1('Gemm', [dYt, tap], { transB: 1 }), b.constant([2], 'int64')]));
    }
  }
  const stacked = perTap.length === 1 ? perTap[0] : b.op1('Concat', perTap, { axis: 2 });
  return b.op1('Reshape', [stacked, b.constant([M, C, kh, kw], 'int64')]);
}

/** Taps per Gemm in weightGradGathered (see GATHER_MAX_GROUP_COLUMNS). */
function tapsPerGemm([kh, kw]: number[], tapColumns: number): number {
  return kh * kw * tapColumns <= GATHER_MAX_GROUP_COLUMNS ? kh * kw : kw * tapColumns <= GATHER_MAX_GROUP_COLUMNS ? kw : 1;
}

/**
 * dW[m, (i, j, c)] = dY^T [M, N P] . cols [N P, kh kw C] with cols[(n, p), (i, j, c)] = X[n, c] at tap (i, j)
 * of output position p, gathered from X as [N, H W + 1, C] (channels last, a zero row for the padding), a
 * group of taps per Gather and Gemm.
 */
function weightGradGathered(b: Emitter, x: string, dY: string, w: Window, C: number, M: number, [H, W]: number[], [Ho, Wo]: number[]): string {
  const [kh, kw] = w.kernel;
  const [sh, sw] = w.strides;
  const group = tapsPerGemm(w.kernel, C * Ho * Wo);
  const lastC = b.op1('Reshape', [b.op1('Transpose', [x], { perm: [0, 2, 3, 1] }), b.constant([0, H * W, C], 'int64')]);
  const withZero = b.op1('Pad', [lastC, b.constant([0, 0, 0, 0, 1, 0], 'int64')]);
  const dYt = b.op1('Reshape', [b.op1('Transpose', [dY], { perm: [1, 0, 2, 3] }), b.constant([M, -1], 'int64')]);
  const parts: string[] = [];
  for (let t0 = 0; t0 < kh * kw; t0 += group) {
    const src: number[] = [];
    for (let yo = 0; yo < Ho; yo++) {
      for (let xo = 0; xo < Wo; xo++) {
        for (let t = t0; t < t0 + group; t++) {
          const [y, xx] = [yo * sh + Math.floor(t / kw) - w.pads[0], xo * sw + (t % kw) - w.pads[1]];
          src.push(y < 0 || y >= H || xx < 0 || xx >= W ? H * W : y * W + xx);
        }
      }
    }
    const gathered = b.op1('Gather', [withZero, b.constant(src, 'int64', [Ho * Wo, group])], { axis: 1 });
    parts.push(b.op1('Gemm', [dYt, b.op1('Reshape', [gathered, b.constant([-1, group * C], 'int64')])]));
  }
  const dWt = b.op1('Reshape', [parts.length === 1 ? parts[0] : b.op1('Concat', parts, { axis: 1 }), b.constant([M, kh * kw, C], 'int64')]);
  return b.op1('Reshape', [b.op1('Transpose', [dWt], { perm: [0, 2, 1] }), b.constant([M, C, kh, kw], 'int64')]);
}

/** dW = sum_n dY_n [M, P] . cols_n^T [P, C kh kw]: cols gathers, per tap, the strided input window. */
function weightGradIm2col(b: Emitter, x: string, dY: string, w: Window, C: number, M: number, [Ho, Wo]: number[]): string {
  const [kh, kw] = w.kernel;
  const xp = padSpatial(b, x, w);
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push(tapSlice(b, xp, w, [i, j], [Ho, Wo]));
  // [N, C, kh kw Ho, Wo] is [N, C, kh kw, Ho, Wo] in memory, so one Reshape gives [N, C kh kw, Ho Wo].
  const cat = taps.length === 1 ? taps[0] : b.op1('Concat', taps, { axis: 2 });
  const cols = b.op1('Reshape', [cat, b.constant([0, C * kh * kw, Ho * Wo], 'int64')]);
  const dYt = b.op1('Transpose', [b.op1('Reshape', [dY, b.constant([0, M, Ho * Wo], 'int64')])], { perm: [0, 2, 1] });
  const perSample = b.op1('MatMul', [cols, dYt]);
  const summed = b.op1('ReduceSum', [perSample, b.constant([0], 'int64')], { keepdims: 0 });
  return b.op1('Reshape', [b.op1('Transpose', [summed], { perm: [1, 0] }), b.constant([M, C, kh, kw], 'int64')]);
}

/**
 * dW[m, c] = X^T[c] (*) dY^T[m]: a Conv over [C, N, H, W] with the [M, N, Ho, Wo] gradient as weights,
 * the forward stride becoming the dilation and the forward dilation the stride; the result is cropped to
 * the kernel when the stride left a remainder.
 */
function weightGradSwapped(b: Emitter, x: string, dY: string, w: Window, [H, W]: number[], [Ho, Wo]: number[]): string {
  const swap = { perm: [1, 0, 2, 3] };
  const dilated = w.dilations.some((d) => d !== 1);
  let dWt = b.op1('Conv', [b.op1('Transpose', [x], swap), b.op1('Transpose', [dY], swap)], {
    pads: w.pads, dilations: w.strides, ...(dilated ? { strides: w.dilations } : {}),
  });
  const [kh, kw] = w.kernel;
  const span = (size: number, i: number, out: number) => size + w.pads[i] + w.pads[i + 2] - w.strides[i] * (out - 1);
  const fullH = Math.floor((span(H, 0, Ho) - 1) / w.dilations[0]) + 1;
  const fullW = Math.floor((span(W, 1, Wo) - 1) / w.dilations[1]) + 1;
  if (fullH !== kh || fullW !== kw) {
    dWt = b.op1('Slice', [dWt, b.constant([0, 0], 'int64'), b.constant([kh, kw], 'int64'), b.constant([2, 3], 'int64')]);
  }
  return b.op1('Transpose', [dWt], swap);
}

/**
 * Stride 1 and at least FLIPPED_MIN_CHANNELS input channels: dX = Conv(dY, W') with
 * W'[c, m, i, j] = W[m, c, kh-1-i, kw-1-j] and pads k-1-p. A plain Conv runs onnxruntime's blocked (NCHWc)
 * kernels where ConvTranspose goes through Gemm + col2im. Measured (scripts/bench_ops.ts, one thread,
 * batch 64): 32->32 at 28x28 13.7 vs 19.8 ms, 64->32 at 14x14 6.5 vs 8.1 ms, 64->64 14.9 vs 17.8 ms; but
 * 32->16 at 14x14 (basic-cnn) 1.7 vs 1.4 ms, so narrower layers keep ConvTranspose. Null where not used.
 */
function inputGradFlipped(b: Emitter, dY: string, wt: string, w: Window, C: number): string | null {
  const [kh, kw] = w.kernel;
  const [pt, pl, pb, pr] = w.pads;
  if (C < FLIPPED_MIN_CHANNELS || w.strides.some((s) => s !== 1) || pt > kh - 1 || pb > kh - 1 || pl > kw - 1 || pr > kw - 1) return null;
  const flipped = b.op1('Slice', [
    b.op1('Transpose', [wt], { perm: [1, 0, 2, 3] }),
    b.constant([-1, -1], 'int64'), b.constant([-kh - 1, -kw - 1], 'int64'), b.constant([2, 3], 'int64'), b.constant([-1, -1], 'int64'),
  ]);
  return b.op1('Conv', [dY, flipped], { kernel_shape: w.kernel, pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr] });
}

export const conv: RuleTable = {
  // Y[n,m] = sum_c X[n,c] (*) W[m,c] + B[m]  (2-D cross-correlation with strides and pads)
  //   dX = ConvTranspose(dY, W) with output_padding restoring X's size (stride 1: Conv with W flipped);
  //   with groups, ConvTranspose with the same groups, and dW per group of channels
  //   dW[m,c] = sum_n X[n,c] (*) dY[n,m]  (gathered columns + a Gemm per group of taps, one Gemm per tap, im2col + MatMul,
  //   or Conv with batch and channels swapped)
  //   dB[m] = sum over n, h, w of dY[n,m]
  Conv: {
    infer: (ins, n) => {
      const x = ins[0]!.shape;
      const wt = ins[1]!.shape;
      if (!x || !wt) return [{ dtype: ins[0]!.dtype }];
      const w = windowOf(n, x.slice(2), wt.slice(2));
      return [{ dtype: ins[0]!.dtype, shape: [x[0], wt[0], ...windowOutput(w, x.slice(2))] }];
    },
    grad: ({ b, needs }, n, [dY]) => {
      const [x, wt, bias] = n.inputs;
      const xs = b.shape(x);
      const ws = b.shape(wt);
      if (xs.length !== 4) throw new Error(`Conv gradient: only 2-D convolution (NCHW) is supported, got input [${xs}]`);
      const group = attrInt(n, 'group', 1);
      const [H, W] = staticSpatial('Conv', xs);
      const w = windowOf(n, [H, W], ws.slice(2));
      const dilated = w.dilations.some((d) => d !== 1);
      const [C, M] = [ws[1], ws[0]];
      if (typeof C !== 'number' || typeof M !== 'number') throw new Error('Conv gradient: channel counts must be static');
      const [Ho, Wo] = staticSpatial('Conv', b.shape(n.outputs[0]));
      let dX: string | null = null;
      if (needs[0] && group === 1 && !dilated) dX = inputGradFlipped(b, dY!, wt, w, C);
      if (needs[0] && !dX) {
        // ConvTranspose's natural size, (out - 1) stride + dilated kernel - pads, short of X's by what the
        // forward stride left over.
        const natural = [Ho, Wo].map((o, i) => (o - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - w.pads[i] - w.pads[i + 2]);
        const outputPadding = [H - natural[0], W - natural[1]];
        dX = b.op1('ConvTranspose', [dY!, wt], {
          kernel_shape: w.kernel, pads: w.pads, strides: w.strides,
          ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
          ...(group > 1 ? { group } : {}),
          ...(dilated ? { dilations: w.dilations } : {}),
        });
      }
      const dW = needs[1] ? groupedWeightGrad(b, x, dY!, w, group, C, M / group, [H, W], [Ho, Wo]) : null;
      const dB = bias && needs[2] ? b.op1('ReduceSum', [dY!, b.constant([0, 2, 3], 'int64')], { keepdims: 0 }) : null;
      return bias ? [dX, dW, dB] : [dX, dW];
    },
  },
  // Y = the transpose of Conv: out = stride (in - 1) + output_padding + dilated kernel - pads, or output_shape
  ConvTranspose: {
    infer: (ins, n) => {
      const x = ins[0]!.shape;
      const wt = ins[1]!.shape;
      if (!x || !wt) return [{ dtype: ins[0]!.dtype }];
      const r = x.length - 2;
      const kernel = (attrInts(n, 'kernel_shape') ?? wt.slice(2)) as Dim[];
      const strides = attrInts(n, 'strides') ?? new Array<number>(r).fill(1);
      const dil = attrInts(n, 'dilations') ?? new Array<number>(r).fill(1);
      const pads = attrInts(n, 'pads') ?? new Array<number>(2 * r).fill(0);
      const outPad = attrInts(n, 'output_padding') ?? new Array<number>(r).fill(0);
      const given = attrInts(n, 'output_shape');
      const channels = typeof wt[1] === 'number' ? wt[1] * attrInt(n, 'group', 1) : wt[1];
      const spatial = x.slice(2).map((d, i) => {
        if (given) return given[given.length - r + i];
        const k = kernel[i];
        if (typeof d !== 'number' || typeof k !== 'number') return `${d}^T`;
        return strides[i] * (d - 1) + outPad[i] + (k - 1) * dil[i] + 1 - pads[i] - pads[i + r];
      });
      return [{ dtype: ins[0]!.dtype, shape: [x[0], channels, ...spatial] }];
    },
    // ConvTranspose(., W) is the adjoint of Conv(., W) with the same kernel, strides, pads, dilations and
    // groups, W read as Conv's [M = C_in, C = C_out / group, kh, kw]:
    //   dX = Conv(dY, W)            dW = the Conv weight gradient with dY as the input and X as the output's gradient
    //   dB[c] = sum over n, h, w of dY[n, c]
    grad: ({ b, needs }, n, [dY]) => {
      const [x, wt, bias] = n.inputs;
      const xs = b.shape(x);
      const ws = b.shape(wt);
      if (xs.length !== 4) throw new Error(`ConvTranspose gradient: only 2-D (NCHW) is supported, got input [${xs}]`);
      const group = attrInt(n, 'group', 1);
      if (attrInts(n, 'output_shape') || attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') {
        throw new Error(`ConvTranspose gradient: give pads and output_padding instead of output_shape or auto_pad (node '${n.name}')`);
      }
      const [M, C] = [ws[0], ws[1]];
      if (typeof C !== 'number' || typeof M !== 'number') throw new Error('ConvTranspose gradient: channel counts must be static');
      const [Hx, Wx] = staticSpatial('ConvTranspose', xs);
      const [Hy, Wy] = staticSpatial('ConvTranspose', b.shape(n.outputs[0]));
      const w = windowOf(n, [Hy, Wy], ws.slice(2));
      const dX = needs[0] ? b.op1('Conv', [dY!, wt], {
        kernel_shape: w.kernel, strides: w.strides, pads: w.pads, dilations: w.dilations, ...(group > 1 ? { group } : {}),
      }) : null;
      const dW = needs[1] ? groupedWeightGrad(b, dY!, x, w, group, C, M / group, [Hy, Wy], [Hx, Wx]) : null;
      const dB = bias && needs[2] ? b.op1('ReduceSum', [dY!, b.constant([0, 2, 3], 'int64')], { keepdims: 0 }) : null;
      return bias ? [dX, dW, dB] : [dX, dW];
    },
  },
};

/**
 * dW of a Conv with `group` groups of C input and M output channels each: with groups, x's channels and
 * dY's are split into their groups, one weight gradient per group, stacked on the output-channel axis.
 */
function groupedWeightGrad(b: Emitter, x: string, dY: string, w: Window, group: number, C: number, M: number, [H, W]: number[], [Ho, Wo]: number[]): string {
  if (group === 1) return weightGrad(b, x, dY, w, C, M, [H, W], [Ho, Wo]);
  const N = b.shape(x)[0];
  const xParts = b.op('Split', [x, b.constant(new Array<number>(group).fill(C), 'int64')], { axis: 1 }, { outputs: group });
  const dyParts = b.op('Split', [dY, b.constant(new Array<number>(group).fill(M), 'int64')], { axis: 1 }, { outputs: group });
  const parts = xParts.map((xg, k) => {
    b.refine(xg, [N, C, H, W]);
    b.refine(dyParts[k], [N, M, Ho, Wo]);
    return weightGrad(b, xg, dyParts[k], w, C, M, [H, W], [Ho, Wo]);
  });
  return b.op1('Concat', parts, { axis: 0 });
}

/**
 * dW of a Conv with input x [N, C, H, W], output gradient dY [N, M, Ho, Wo] and window w: the formulation
 * measured fastest for the kernel and channel counts (see the constants above).
 */
function weightGrad(b: Emitter, x: string, dY: string, w: Window, C: number, M: number, [H, W]: number[], [Ho, Wo]: number[]): string {
  // Dilated kernels (not measured) take the swapped Conv, the one formulation that handles them.
  if (w.kernel[0] * w.kernel[1] > IM2COL_MAX_TAPS || w.dilations.some((d) => d !== 1)) return weightGradSwapped(b, x, dY, w, [H, W], [Ho, Wo]);
  if (C >= TAP_GEMM_MIN_CHANNELS && Ho * Wo >= GATHER_MIN_PLANE && C * Ho * Wo <= GATHER_MAX_TAP_COLUMNS) {
    return weightGradGathered(b, x, dY, w, C, M, [H, W], [Ho, Wo]);
  }
  if (C >= TAP_GEMM_MIN_CHANNELS) return weightGradTapGemms(b, x, dY, w, C, M, [Ho, Wo]);
  return weightGradIm2col(b, x, dY, w, C, M, [Ho, Wo]);
}
