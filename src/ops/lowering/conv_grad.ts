/**
 * Lowerings of the Conv gradient (the rule and its math are in ../conv.ts): which formulation of dX and
 * dW to emit for a layer's sizes. Each formulation computes the same values; the selectors pick the one
 * measured fastest on onnxruntime's CPU provider (BENCHMARKS.md, "Why the gradient lowerings are chosen
 * as they are").
 */
import type { Emitter, GradTarget } from '../types.js';
import type { Window } from '../window.js';

/** One Conv gradient: X [N, group C, H, W] and W [group M, C, kh, kw] gave Y [N, group M, Ho, Wo]. */
export interface ConvGradProblem {
  x: string;
  w: string;
  /** The gradient of Y. */
  dY: string;
  window: Window;
  /** Input and output channels per group. */
  C: number;
  M: number;
  group: number;
  /** Spatial sizes of X ([H, W]) and of Y ([Ho, Wo]). */
  inSize: number[];
  outSize: number[];
}

export type InputGradFormulation = 'transposed' | 'flipped';
export type WeightGradFormulation = 'swapped' | 'gathered' | 'gatheredRows' | 'im2col';

/** Where one formulation takes over from another. */
export const CONV_GRAD_THRESHOLDS = {
  /** dX: input channels from which a stride-1 layer runs a Conv with the flipped kernel, not ConvTranspose. */
  flippedMinChannels: 32,
  /** dW: kernels with more taps than this (and dilated kernels) take the Conv with batch and channels swapped. */
  im2colMaxTaps: 16,
  /** dW: input channels from which the taps' columns are gathered with N Ho Wo as the inner dimension. */
  gatherMinChannels: 16,
  /**
   * dW gathered: taps per Gather + Gemm are all, else one kernel row, else one, within this many columns per
   * sample (C Ho Wo a tap): a kernel row of 32 channels at 32x32, 25 MB of columns at batch 64.
   */
  gatherMaxGroupColumns: 3 * 32 * 32 * 32,
  /**
   * dW gathered by rows (CPU): the columns of one Gather + Gemm are one output row's taps of one kernel row, or
   * of one tap where a kernel row's would exceed this many per sample (C kw Wo): 32 channels of a 32-wide row,
   * 786 KB at batch 64, which stays in a core's L2 cache between the Gather that writes it and the Gemm that reads it.
   */
  gatherRowMaxColumns: 3 * 32 * 32,
} as const;

const T = CONV_GRAD_THRESHOLDS;

/** dX: the flipped-kernel Conv where it applies and the layer is wide enough, else ConvTranspose. */
export function chooseInputGrad({ window: w, C, group }: Pick<ConvGradProblem, 'window' | 'C' | 'group'>): InputGradFormulation {
  const [kh, kw] = w.kernel;
  const [pt, pl, pb, pr] = w.pads;
  const fits = group === 1 && w.dilations.every((d) => d === 1) && w.strides.every((s) => s === 1)
    && pt <= kh - 1 && pb <= kh - 1 && pl <= kw - 1 && pr <= kw - 1;
  return fits && C >= T.flippedMinChannels ? 'flipped' : 'transposed';
}

/**
 * dW of one group: by kernel taps and input channels (dilated kernels: swapped, the one that handles them); on
 * the CPU the gathered columns go by output rows, which elsewhere would be too many small nodes.
 */
export function chooseWeightGrad({ window: w, C }: Pick<ConvGradProblem, 'window' | 'C'>, target: GradTarget = 'portable'): WeightGradFormulation {
  if (w.kernel[0] * w.kernel[1] > T.im2colMaxTaps || w.dilations.some((d) => d !== 1)) return 'swapped';
  if (C < T.gatherMinChannels) return 'im2col';
  return target === 'cpu' ? 'gatheredRows' : 'gathered';
}

/** dX of a Conv. */
export function convInputGrad(b: Emitter, p: ConvGradProblem): string {
  return chooseInputGrad(p) === 'flipped' ? inputGradFlipped(b, p) : inputGradTransposed(b, p);
}

/**
 * dW of a Conv. With groups, a fixed number of nodes whatever the group count: one grouped Conv
 * (depthwise) or one batched MatMul over the groups.
 */
export function convWeightGrad(b: Emitter, p: ConvGradProblem, target: GradTarget = 'portable'): string {
  if (p.group === 1) return WEIGHT_GRADS[chooseWeightGrad(p, target)](b, p);
  return p.C === 1 ? weightGradDepthwise(b, p) : weightGradGroupedMatMul(b, p);
}

/** The taps of X [N, G C, H, W] stacked as [N, G C, kh kw, Ho, Wo]: tap (i, j) is the window at offset (i, j) dilated. */
function stackedTaps(b: Emitter, x: string, w: Window, outSize: number[]): string {
  const xp = padSpatial(b, x, w);
  const [kh, kw] = w.kernel;
  const axis2 = b.constant([2], 'int64');
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) taps.push(b.op1('Unsqueeze', [tapSlice(b, xp, w, [i * w.dilations[0], j * w.dilations[1]], outSize), axis2]));
  }
  return taps.length === 1 ? taps[0] : b.op1('Concat', taps, { axis: 2 });
}

/**
 * Depthwise (one input channel per group, M outputs per group): dW[g M + m, 0] = sum_n X[n, g] (*) dY[n, g M + m],
 * one grouped Conv over X as [1, G N, H, W] with dY as [G M, N, Ho, Wo] weights (the swapped formulation
 * with the batch as the channels of each group); the forward stride becomes the dilation, and the result
 * is cropped to the kernel when the stride left a remainder.
 */
function weightGradDepthwise(b: Emitter, { x, dY, window: w, M, group: G, inSize: [H, W], outSize: [Ho, Wo] }: ConvGradProblem): string {
  const [kh, kw] = w.kernel;
  const swap = { perm: [1, 0, 2, 3] };
  const dilated = w.dilations.some((d) => d !== 1);
  const xs = b.op1('Reshape', [b.op1('Transpose', [x], swap), b.constant([1, -1, H, W], 'int64')]);
  const dW = b.op1('Conv', [xs, b.op1('Transpose', [dY], swap)], {
    pads: w.pads, dilations: w.strides, group: G, ...(dilated ? { strides: w.dilations } : {}),
  });
  return b.op1('Reshape', [cropToKernel(b, dW, w, [H, W], [Ho, Wo]), b.constant([G * M, 1, kh, kw], 'int64')]);
}

/**
 * Grouped: dW[g] = dY_g [M, N Ho Wo] . cols_g^T [N Ho Wo, C kh kw] for all groups g at once, one MatMul
 * over [G, ., .] with cols the stacked taps of X.
 */
function weightGradGroupedMatMul(b: Emitter, { x, dY, window: w, C, M, group: G, outSize: [Ho, Wo] }: ConvGradProblem): string {
  const [kh, kw] = w.kernel;
  const P = Ho * Wo;
  const perm = { perm: [1, 2, 0, 3] };
  // [N, G C, T, Ho, Wo] -> [N, G, C T, P] -> [G, C T, N, P] -> [G, C T, N P]
  const taps = b.op1('Reshape', [stackedTaps(b, x, w, [Ho, Wo]), b.constant([0, G, C * kh * kw, P], 'int64')]);
  const cols = b.op1('Reshape', [b.op1('Transpose', [taps], perm), b.constant([G, C * kh * kw, -1], 'int64')]);
  const dYg = b.op1('Reshape', [b.op1('Transpose', [b.op1('Reshape', [dY, b.constant([0, G, M, P], 'int64')])], perm), b.constant([G, M, -1], 'int64')]);
  const dW = b.op1('MatMul', [dYg, b.op1('Transpose', [cols], { perm: [0, 2, 1] })]);
  return b.op1('Reshape', [dW, b.constant([G * M, C, kh, kw], 'int64')]);
}

/**
 * dX = ConvTranspose(dY, W) with the forward window and groups. Its natural size, (out - 1) stride +
 * dilated kernel - pads, falls short of X's by what the forward stride left over: output_padding.
 */
function inputGradTransposed(b: Emitter, { dY, w: wt, window: w, group, inSize: [H, W], outSize: [Ho, Wo] }: ConvGradProblem): string {
  const dilated = w.dilations.some((d) => d !== 1);
  const natural = [Ho, Wo].map((o, i) => (o - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - w.pads[i] - w.pads[i + 2]);
  const outputPadding = [H - natural[0], W - natural[1]];
  return b.op1('ConvTranspose', [dY, wt], {
    kernel_shape: w.kernel, pads: w.pads, strides: w.strides,
    ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
    ...(group > 1 ? { group } : {}),
    ...(dilated ? { dilations: w.dilations } : {}),
  });
}

/**
 * Stride 1: dX = Conv(dY, W') with W'[c, m, i, j] = W[m, c, kh-1-i, kw-1-j] and pads k-1-p. A plain Conv
 * runs onnxruntime's blocked (NCHWc) kernels where ConvTranspose goes through Gemm + col2im.
 */
function inputGradFlipped(b: Emitter, { dY, w: wt, window: w }: ConvGradProblem): string {
  const [kh, kw] = w.kernel;
  const [pt, pl, pb, pr] = w.pads;
  const swapped = b.op1('Transpose', [wt], { perm: [1, 0, 2, 3] });
  // A 1x1 kernel is its own flip (the reversing Slice would be a copy, and onnxruntime's is slow).
  const flipped = kh * kw === 1 ? swapped : b.op1('Slice', [
    swapped, b.constant([-1, -1], 'int64'), b.constant([-kh - 1, -kw - 1], 'int64'), b.constant([2, 3], 'int64'), b.constant([-1, -1], 'int64'),
  ]);
  return b.op1('Conv', [dY, flipped], { kernel_shape: w.kernel, pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr] });
}

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

/** Taps per Gather + Gemm in weightGradGathered: all of them, else one kernel row, else one. */
function tapsPerGemm([kh, kw]: number[], tapColumns: number): number {
  const max = T.gatherMaxGroupColumns;
  return kh * kw * tapColumns <= max ? kh * kw : kw * tapColumns <= max ? kw : 1;
}

/** X [N, C, H, W] laid out [C, H W, N] (batch innermost), and dY [N, M, Ho, Wo] as [M, Ho, Wo, N]. */
function batchLast(b: Emitter, { x, dY, C, inSize: [H, W] }: ConvGradProblem): { x: string; dY: string } {
  return {
    x: b.op1('Reshape', [b.op1('Transpose', [x], { perm: [1, 2, 3, 0] }), b.constant([C, H * W, -1], 'int64')]),
    dY: b.op1('Transpose', [dY], { perm: [1, 2, 3, 0] }),
  };
}

/** X laid out [C, H W, N] with a zero row appended, [C, H W + 1, N]: where tapSources points for the padding. */
const zeroRowOf = ({ inSize: [H, W] }: ConvGradProblem): number => H * W;
const withZeroRow = (b: Emitter, xt: string): string => b.op1('Pad', [xt, b.constant([0, 0, 0, 0, 1, 0], 'int64')]);

/**
 * Where each column of taps t0 .. t0+taps-1 at output rows `rows` reads X: its index into H W, or H W (the
 * zero row) where the window lies in the padding. Ordered [tap, row, column].
 */
function tapSources(p: ConvGradProblem, t0: number, taps: number, rows: number[]): number[] {
  const { window: w, inSize: [H, W], outSize: [, Wo] } = p;
  const [, kw] = w.kernel;
  const zeroRow = zeroRowOf(p);
  const [sh, sw] = w.strides;
  const src: number[] = [];
  for (let t = t0; t < t0 + taps; t++) {
    for (const yo of rows) {
      const y = yo * sh + Math.floor(t / kw) - w.pads[0];
      for (let xo = 0; xo < Wo; xo++) {
        const xx = xo * sw + (t % kw) - w.pads[1];
        src.push(y < 0 || y >= H || xx < 0 || xx >= W ? zeroRow : y * W + xx);
      }
    }
  }
  return src;
}

/** [C, taps, M] -> dW [M, C, kh, kw]. */
function fromTapsFirst(b: Emitter, dWct: string, { window: w, C, M }: ConvGradProblem): string {
  return b.op1('Reshape', [b.op1('Transpose', [dWct], { perm: [2, 0, 1] }), b.constant([M, C, ...w.kernel], 'int64')]);
}

/** A pointwise kernel that reads every position once: X itself is the columns. */
const isPointwise = ({ window: w, inSize, outSize }: ConvGradProblem) =>
  w.kernel[0] * w.kernel[1] === 1 && w.strides.every((s) => s === 1) && inSize[0] === outSize[0] && inSize[1] === outSize[1];

/**
 * dW^T[(c, t), m] = cols[(c, t), (p, n)] . dY^T[m, (p, n)]^T with cols[c, t, p, n] = X[n, c] at tap t of
 * output position p, gathered from X laid out [C, H W + 1, N] (batch innermost, a zero row for the
 * padding), a group of taps per Gather and Gemm. Each Gather copies runs of N values, and the Gemm's
 * large operand (cols) is its untransposed A: MLAS packs only the small dY.
 */
function weightGradGathered(b: Emitter, p: ConvGradProblem): string {
  const { C, M, outSize: [Ho, Wo] } = p;
  const [kh, kw] = p.window.kernel;
  const P = Ho * Wo;
  const t = batchLast(b, p);
  const dYt = b.op1('Reshape', [t.dY, b.constant([M, -1], 'int64')]);
  // [C, group, M]: a Reshape between each Gemm and the Transpose in fromTapsFirst keeps onnxruntime from
  // fusing the Transpose into the Gemm, which would make cols the transposed operand again.
  const product = (cols: string, group: number) => b.op1('Reshape', [
    b.op1('Gemm', [b.op1('Reshape', [cols, b.constant([C * group, -1], 'int64')]), dYt], { transB: 1 }), b.constant([C, group, M], 'int64'),
  ]);
  if (isPointwise(p)) return fromTapsFirst(b, product(t.x, 1), p);
  const withZero = withZeroRow(b, t.x);
  const group = tapsPerGemm(p.window.kernel, C * P);
  const rows = Array.from({ length: Ho }, (_, r) => r);
  const parts: string[] = [];
  for (let t0 = 0; t0 < kh * kw; t0 += group) {
    parts.push(product(b.op1('Gather', [withZero, b.constant(tapSources(p, t0, group, rows), 'int64', [group, P])], { axis: 1 }), group));
  }
  return fromTapsFirst(b, parts.length === 1 ? parts[0] : b.op1('Concat', parts, { axis: 1 }), p);
}

/**
 * The gathered dW by output rows (the CPU's): dW^T[(c, t), m] = sum over output rows r of
 * cols_r[(c, t), (x, n)] . dY^T_r[m, (x, n)]^T, one Gather + Gemm per output row and kernel row of taps, each
 * group of taps accumulating through its Gemms' C input. Each chunk of columns is written and read while it is
 * in cache (cifar10-cnn's step ~7 % faster at 1 thread, BENCHMARKS.md); a row whose taps all read padding is
 * skipped. (onnxruntime fuses the per-row Gathers of dY into one Split.)
 */
function weightGradGatheredRows(b: Emitter, p: ConvGradProblem): string {
  const { C, M, outSize: [Ho, Wo] } = p;
  const [kh, kw] = p.window.kernel;
  if (isPointwise(p)) return weightGradGathered(b, p);
  const t = batchLast(b, p);
  const withZero = withZeroRow(b, t.x);
  const dYrows = b.op1('Reshape', [t.dY, b.constant([M, Ho, -1], 'int64')]);
  const group = C * kw * Wo <= T.gatherRowMaxColumns ? kw : 1;
  const zeroRow = zeroRowOf(p);
  const groups = Array.from({ length: (kh * kw) / group }, (_, g) => g * group);
  const acc = groups.map(() => '');
  for (let yo = 0; yo < Ho; yo++) {
    let dYrow = '';
    groups.forEach((t0, g) => {
      const src = tapSources(p, t0, group, [yo]);
      if (src.every((i) => i === zeroRow)) return;
      dYrow ||= b.op1('Gather', [dYrows, b.constant(yo, 'int64')], { axis: 1 });
      const cols = b.op1('Reshape', [b.op1('Gather', [withZero, b.constant(src, 'int64', [group, Wo])], { axis: 1 }), b.constant([C * group, -1], 'int64')]);
      acc[g] = b.op1('Gemm', acc[g] ? [cols, dYrow, acc[g]] : [cols, dYrow], { transB: 1 });
    });
  }
  const parts = acc.map((a) => (a ? b.op1('Reshape', [a, b.constant([C, group, M], 'int64')]) : b.constant(new Array<number>(C * group * M).fill(0), b.dtype(p.x), [C, group, M])));
  return fromTapsFirst(b, parts.length === 1 ? parts[0] : b.op1('Concat', parts, { axis: 1 }), p);
}

/** dW = sum_n dY_n [M, P] . cols_n^T [P, C kh kw]: cols gathers, per tap, the strided input window. */
function weightGradIm2col(b: Emitter, { x, dY, window: w, C, M, outSize: [Ho, Wo] }: ConvGradProblem): string {
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
function weightGradSwapped(b: Emitter, { x, dY, window: w, inSize: [H, W], outSize: [Ho, Wo] }: ConvGradProblem): string {
  const swap = { perm: [1, 0, 2, 3] };
  const dilated = w.dilations.some((d) => d !== 1);
  const dWt = b.op1('Conv', [b.op1('Transpose', [x], swap), b.op1('Transpose', [dY], swap)], {
    pads: w.pads, dilations: w.strides, ...(dilated ? { strides: w.dilations } : {}),
  });
  return b.op1('Transpose', [cropToKernel(b, dWt, w, [H, W], [Ho, Wo])], swap);
}

/**
 * The swapped Conv's output covers every kernel offset whose window fits the padded input; when the forward
 * stride left a remainder that is more than the kernel, so keep the first kh x kw.
 */
function cropToKernel(b: Emitter, dW: string, w: Window, [H, W]: number[], [Ho, Wo]: number[]): string {
  const [kh, kw] = w.kernel;
  const span = (size: number, i: number, out: number) => size + w.pads[i] + w.pads[i + 2] - w.strides[i] * (out - 1);
  const fullH = Math.floor((span(H, 0, Ho) - 1) / w.dilations[0]) + 1;
  const fullW = Math.floor((span(W, 1, Wo) - 1) / w.dilations[1]) + 1;
  if (fullH === kh && fullW === kw) return dW;
  return b.op1('Slice', [dW, b.constant([0, 0], 'int64'), b.constant([kh, kw], 'int64'), b.constant([2, 3], 'int64')]);
}

const WEIGHT_GRADS: Record<WeightGradFormulation, (b: Emitter, p: ConvGradProblem) => string> = {
  swapped: weightGradSwapped,
  gathered: weightGradGathered,
  gatheredRows: weightGradGatheredRows,
  im2col: weightGradIm2col,
};
