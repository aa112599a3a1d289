import { attrFloat, attrInt } from '../../graph/ir.js';
import type { GraphBuilder } from '../../graph/builder.js';
import type { RuleTable } from './types.js';

/** A per-channel [C] vector viewed as [C, 1, ..., 1] so that it broadcasts over X's axis 1. */
const perChannel = (b: GraphBuilder, v: string, rank: number): string =>
  rank <= 2 ? v : b.op1('Unsqueeze', [v, b.constant([...Array(rank - 2).keys()].map((i) => i + 1), 'int64')]);

export const norm: RuleTable = {
  // Inference mode (running statistics): Y = scale (X - mean) / sqrt(var + eps) + B, per channel (axis 1).
  //   With inv = 1 / sqrt(var + eps), Xh = (X - mean) inv, and sums over every axis but 1:
  //   dX = dY scale inv,  dscale = sum(dY Xh),  dB = sum(dY),
  //   dmean = -sum(dY) scale inv,  dvar = -1/2 sum(dY (X - mean)) scale inv^3
  // Training-mode BN is built by the BatchNorm2d layer from primitive ops and differentiates through them.
  BatchNormalization: {
    infer: (ins, n) => {
      const x = ins[0]!;
      const stat = { dtype: ins[3]?.dtype ?? x.dtype, shape: ins[3]?.shape };
      return n.outputs.map((_, k) => (k === 0 ? { dtype: x.dtype, shape: x.shape } : stat));
    },
    grad: ({ b, needs }, n, [dY]) => {
      if (attrInt(n, 'training_mode', 0) !== 0 || n.outputs.filter(Boolean).length > 1) {
        throw new Error(`BatchNormalization gradient: only inference mode (training_mode=0, one output) is supported (node '${n.name}'); build training-mode BN from primitive ops`);
      }
      const [x, scale, , mean, variance] = n.inputs;
      const dt = b.dtype(x);
      const rank = b.shape(x).length;
      const axes = b.constant([0, ...[...Array(rank - 2).keys()].map((i) => i + 2)], 'int64');
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
