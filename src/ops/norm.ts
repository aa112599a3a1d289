import { attrFloat, attrInt, type Node } from '../graph/ir.js';
import { normAxis, sizeOf, unbroadcast } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';

/** A per-channel [C] vector viewed as [C, 1, ..., 1] so that it broadcasts over X's axis 1. */
const perChannel = (b: Emitter, v: string, rank: number): string =>
  rank <= 2 ? v : b.op1('Unsqueeze', [v, b.constant([...Array(rank - 2).keys()].map((i) => i + 1), 'int64')]);

/** Axes 0, 2, 3, ...: every axis of a rank-`rank` X but the channel axis. */
const statAxes = (rank: number): number[] => [0, ...[...Array(rank - 2).keys()].map((i) => i + 2)];

/**
 * Training mode (batch statistics): Y = scale Xh + B, Xh = (X - mean) inv, inv = 1 / sqrt(var + eps), with mean
 * and biased var over the M = N*H*W values of a channel. Sums over every axis but 1:
 *   dB = sum(dY),  dscale = sum(dY Xh),  dX = scale inv / M (M dY - dB - Xh dscale).
 * The op outputs no saved statistics, so mean and var are recomputed here, except when momentum = 0: then
 * the op's running_mean/running_var outputs are exactly the batch mean and biased variance, and are read.
 * Running statistics are state, not a function the loss differentiates: no gradient reaches them.
 * Caution: onnxruntime (CPU) writes running_mean/var in place over inputs 3/4, even over fed graph inputs,
 * when those outputs stay inside the graph: give the op statistics inputs that nothing else reads.
 */
function trainingGrad(b: Emitter, n: Node, needs: boolean[], dOut: (string | null)[]): (string | null)[] {
  if (dOut[1] || dOut[2]) throw new Error(`BatchNormalization gradient (node '${n.name}'): the loss depends on running_mean/running_var outputs; feed them to state updates only`);
  const [x, scale] = n.inputs;
  const rank = b.shape(x).length;
  const axes = statAxes(rank);
  const reused = attrFloat(n, 'momentum', 0.9) === 0 && Boolean(n.outputs[1]) && Boolean(n.outputs[2]);
  const mean = reused ? perChannel(b, n.outputs[1], rank) : b.op1('ReduceMean', [x], { axes, keepdims: 1 });
  const xc = b.op1('Sub', [x, mean]);
  const variance = reused ? perChannel(b, n.outputs[2], rank) : b.op1('ReduceMean', [b.op1('Mul', [xc, xc])], { axes, keepdims: 1 });
  return batchStatsGrad(b, { x, xc, inv: invStd(b, variance, attrFloat(n, 'epsilon', 1e-5)), scale }, needs, dOut[0]!);
}

/** 1 / sqrt(var + eps); ORT reads epsilon as a float32 attribute, so float64 graphs use the same value. */
const invStd = (b: Emitter, variance: string, eps: number): string =>
  b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [variance, b.constant(Math.fround(eps), b.dtype(variance))])])]);

/**
 * M, the values per channel of X (axis 1), as X's dtype: a constant where X's shape is known, else X's element
 * count over C (a constant, or the size of `stat`, any per-channel [1, C, 1, 1] value).
 */
function valuesPerChannel(b: Emitter, x: string, stat: string): string {
  const s = b.shape(x);
  const rest = s.filter((_, i) => i !== 1);
  if (rest.every((d) => typeof d === 'number')) return b.constant((rest as number[]).reduce((p, d) => p * d, 1), b.dtype(x));
  return b.op1('Div', [sizeOf(b, x), typeof s[1] === 'number' ? b.constant(s[1], b.dtype(x)) : sizeOf(b, stat)]);
}

/**
 * Per-channel factors [1, C, 1, 1] as broadcast operands of X: expanded to [1, C, H, W] where a plane has at
 * most 256 values, because onnxruntime's CPU kernels broadcast one plane at a time ([32,576,2,2] x [1,576,1,1]
 * 188 us, x [1,576,2,2] 17 us; at 16x16 1.2x, at 112x112 slower).
 */
function spreader(b: Emitter, x: string): (v: string) => string {
  const s = b.shape(x);
  const plane = s.slice(2);
  if (s.length < 3 || typeof s[1] !== 'number' || !plane.every((d) => typeof d === 'number') || (plane as number[]).reduce((p, d) => p * d, 1) > 256) return (v) => v;
  const to = b.constant([1, s[1], ...(plane as number[])], 'int64');
  return (v) => b.op1('Expand', [v, to]);
}

/** dX, dscale, dB of batch-statistics normalisation, from X - mean and inv (both [.., C, ..]-shaped) and dY. */
function batchStatsGrad(b: Emitter, v: { x: string; xc: string; inv: string; scale: string; count?: string; k?: string }, needs: boolean[], dY: string): (string | null)[] {
  const { x, xc, inv, scale } = v;
  const rank = b.shape(x).length;
  const axesT = b.constant(statAxes(rank), 'int64');
  const sum = (t: string) => b.op1('ReduceSum', [t, axesT], { keepdims: 1 });
  const flat = (t: string) => b.op1('Reshape', [t, b.constant([-1], 'int64')]);
  const sumDy = needs[0] || needs[2] ? sum(dY) : '';
  const dScale = needs[0] || needs[1] ? b.op1('Mul', [sum(b.op1('Mul', [dY, xc])), inv]) : '';
  let dX: string | null = null;
  if (needs[0]) {
    // dX = k dY - (Xc c2 + c1), k = scale inv, c1 = k dB / M, c2 = k inv dscale / M: per-channel factors, 4 full-size ops.
    const spread = spreader(b, x);
    const count = v.count ?? valuesPerChannel(b, x, inv);
    const k = v.k ?? b.op1('Mul', [perChannel(b, scale, rank), inv]);
    const kOverM = b.op1('Div', [k, count]);
    const c1 = b.op1('Mul', [kOverM, sumDy]);
    const c2 = b.op1('Mul', [b.op1('Mul', [kOverM, inv]), dScale]);
    dX = b.op1('Sub', [b.op1('Mul', [dY, spread(k)]), b.op1('Add', [b.op1('Mul', [xc, spread(c2)]), spread(c1)])]);
  }
  return [dX, needs[1] ? flat(dScale) : null, needs[2] ? flat(sumDy) : null];
}

export interface BatchNormTraining {
  y: string;
  /** The running statistics moved by one batch: r (1 - momentum) + stat momentum, with the unbiased variance. */
  runningMean: string;
  runningVar: string;
}

/**
 * BatchNorm with batch statistics, as PyTorch trains nn.BatchNorm: Y = scale (X - mean) inv + B over the
 * M = N*H*W values of each channel; `momentum` is torch's. Built from primitive ops, not the training_mode
 * BatchNormalization op, though on CPU that op's train_step is 13-17% faster (basic-cnn, cifar10-cnn):
 * onnxruntime's CUDA kernel takes the training path only when all 5 outputs exist, which opset 15+ forbids,
 * so on CUDA the same graph would normalise with the running statistics. Y's gradient is one composite
 * rule (trainingGrad's), not the ops' rules one by one: about 15 backward nodes instead of about 45.
 */
export function batchNormTraining(b: Emitter, x: string, scale: string, bias: string, rs: { mean: string; var: string }, eps: number, momentum: number): BatchNormTraining {
  const rank = b.shape(x).length;
  const axes = statAxes(rank);
  const dt = b.dtype(x);
  const spread = spreader(b, x);
  const mean = b.op1('ReduceMean', [x], { axes, keepdims: 1 });
  const xc = b.op1('Sub', [x, spread(mean)]);
  const variance = b.op1('ReduceMean', [b.op1('Mul', [xc, xc])], { axes, keepdims: 1 });
  const inv = invStd(b, variance, eps);
  const count = valuesPerChannel(b, x, inv);
  // Y = Xc k + B with k = scale inv (as PyTorch's CPU kernel: one full-size Mul, not two).
  const k = b.op1('Mul', [perChannel(b, scale, rank), inv]);
  const y = b.op1('Add', [b.op1('Mul', [xc, spread(k)]), spread(perChannel(b, bias, rank))]);
  b.customGradient(y, [x, scale, bias], ({ b: e, needs }, dY) => batchStatsGrad(e, { x, xc, inv, scale, count, k }, needs, dY));

  const flat = b.constant([-1], 'int64');
  const unbiased = b.op1('Mul', [b.op1('Reshape', [variance, flat]), b.op1('Div', [count, b.op1('Sub', [count, b.constant(1, dt)])])]);
  const ema = (old: string, stat: string) => b.op1('Add', [b.op1('Mul', [old, b.constant(1 - momentum, dt)]), b.op1('Mul', [stat, b.constant(momentum, dt)])]);
  return { y, runningMean: ema(rs.mean, b.op1('Reshape', [mean, flat])), runningVar: ema(rs.var, unbiased) };
}

/**
 * LayerNormalization over the axes from `axis` to the last (M values each): Xh = (X - mean) inv,
 * inv = 1 / sqrt(var + eps), Y = Xh scale + B. With g = dY scale and means over the same axes:
 *   dX = inv (g - mean(g) - Xh mean(g Xh)),  dscale = sum(dY Xh),  dB = sum(dY)  (over the leading axes).
 * The statistics are recomputed rather than read from the op's optional Mean/InvStdDev outputs.
 */
function layerNormGrad(b: Emitter, n: Node, needs: boolean[], dY: string): (string | null)[] {
  const [x, scale, bias] = n.inputs;
  const dt = b.dtype(x);
  const rank = b.shape(x).length;
  const a = normAxis(attrInt(n, 'axis', -1), rank);
  const axes = [...Array(rank - a).keys()].map((i) => i + a);
  const mean = (v: string) => b.op1('ReduceMean', [v], { axes, keepdims: 1 });
  const xc = b.op1('Sub', [x, mean(x)]);
  const variance = mean(b.op1('Mul', [xc, xc]));
  const inv = b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [variance, b.constant(Math.fround(attrFloat(n, 'epsilon', 1e-5)), dt)])])]);
  const xh = b.op1('Mul', [xc, inv]);
  let dX: string | null = null;
  if (needs[0]) {
    const g = b.op1('Mul', [dY, scale]);
    dX = b.op1('Mul', [inv, b.op1('Sub', [b.op1('Sub', [g, mean(g)]), b.op1('Mul', [xh, mean(b.op1('Mul', [g, xh]))])])]);
  }
  return [
    dX,
    needs[1] ? unbroadcast(b, b.op1('Mul', [dY, xh]), scale) : null,
    bias ? (needs[2] ? unbroadcast(b, dY, bias) : null) : null,
  ].slice(0, n.inputs.length);
}

export const norm: RuleTable = {
  LayerNormalization: {
    infer: (ins, n) => {
      const x = ins[0]!;
      const s = x.shape;
      const a = s ? normAxis(attrInt(n, 'axis', -1), s.length) : 0;
      const stat = { dtype: x.dtype, shape: s ? s.map((d, i) => (i < a ? d : 1)) : undefined };
      return n.outputs.map((_, k) => (k === 0 ? { dtype: x.dtype, shape: s } : stat));
    },
    grad: ({ b, needs }, n, dOut) => {
      if (dOut[1] || dOut[2]) throw new Error(`LayerNormalization gradient (node '${n.name}'): the loss depends on its Mean/InvStdDev outputs, which have no gradient rule`);
      return layerNormGrad(b, n, needs, dOut[0]!);
    },
  },
  // Inference mode (running statistics): Y = scale (X - mean) / sqrt(var + eps) + B, per channel (axis 1).
  //   With inv = 1 / sqrt(var + eps), Xh = (X - mean) inv, and sums over every axis but 1:
  //   dX = dY scale inv,  dscale = sum(dY Xh),  dB = sum(dY),
  //   dmean = -sum(dY) scale inv,  dvar = -1/2 sum(dY (X - mean)) scale inv^3
  BatchNormalization: {
    infer: (ins, n) => {
      const x = ins[0]!;
      // Training mode's running_mean/running_var outputs have the statistics inputs' type: [C].
      const stat = { dtype: ins[3]?.dtype ?? x.dtype, shape: ins[3]?.shape ?? (x.shape ? [x.shape[1]] : undefined) };
      return n.outputs.map((_, k) => (k === 0 ? { dtype: x.dtype, shape: x.shape } : stat));
    },
    grad: ({ b, needs }, n, dOut) => {
      if (attrInt(n, 'training_mode', 0) !== 0) return trainingGrad(b, n, needs, dOut);
      const dY = dOut[0];
      const [x, scale, , mean, variance] = n.inputs;
      const dt = b.dtype(x);
      const rank = b.shape(x).length;
      const axes = b.constant(statAxes(rank), 'int64');
      const sum = (v: string) => b.op1('ReduceSum', [v, axes], { keepdims: 0 });
      const inv = b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [variance, b.constant(attrFloat(n, 'epsilon', 1e-5), dt)])])]);
      const scaleInv = b.op1('Mul', [scale, inv]);
      const centred = needs[1] || needs[4] ? b.op1('Sub', [x, perChannel(b, mean, rank)]) : '';
      const sumDy = needs[2] || needs[3] ? sum(dY!) : '';
      const sumDyXc = needs[1] || needs[4] ? sum(b.op1('Mul', [dY!, centred])) : '';
      return [
        needs[0] ? b.op1('Mul', [dY!, perChannel(b, scaleInv, rank)]) : null,
        needs[1] ? b.op1('Mul', [sumDyXc, inv]) : null,
        needs[2] ? sumDy : null,
        needs[3] ? b.op1('Neg', [b.op1('Mul', [sumDy, scaleInv])]) : null,
        needs[4] ? b.op1('Mul', [b.op1('Mul', [sumDyXc, b.op1('Mul', [scaleInv, b.op1('Mul', [inv, inv])])]), b.constant(-0.5, dt)]) : null,
      ];
    },
  },
};
