import { attrInt, attrInts, attrString, type Dim, type Node } from '../graph/ir.js';
import { convInputGrad, convWeightGrad, type ConvGradProblem } from './lowering/conv_grad.js';
import type { Emitter, RuleTable } from './types.js';
import { staticSpatial, windowOf, windowOutput } from './window.js';

export const conv: RuleTable = {
  // Y[n,m] = sum_c X[n,c] (*) W[m,c] + B[m]  (2-D cross-correlation with strides, pads, dilations, groups)
  //   dX = ConvTranspose(dY, W) with output_padding restoring X's size, the same groups
  //        (stride 1 and wide layers: Conv with W flipped, the same values)
  //   dW[m,c] = sum_n X[n,c] (*) dY[n,m], per group of channels
  //   dB[m] = sum over n, h, w of dY[n,m]
  // Which formulation of dX and dW is emitted depends on the layer's sizes: lowering/conv_grad.ts.
  Conv: {
    infer: (ins, n) => {
      const x = ins[0]!.shape;
      const wt = ins[1]!.shape;
      if (!x || !wt) return [{ dtype: ins[0]!.dtype }];
      const w = windowOf(n, x.slice(2), wt.slice(2));
      return [{ dtype: ins[0]!.dtype, shape: [x[0], wt[0], ...windowOutput(w, x.slice(2))] }];
    },
    grad: ({ b, needs, target }, n, [dY]) => {
      const p = convProblem(b, n, dY!);
      const dX = needs[0] ? convInputGrad(b, p) : null;
      const dW = needs[1] ? convWeightGrad(b, p, target) : null;
      const bias = n.inputs[2];
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
    grad: ({ b, needs, target }, n, [dY]) => {
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
      const window = windowOf(n, [Hy, Wy], ws.slice(2));
      const dX = needs[0] ? b.op1('Conv', [dY!, wt], {
        kernel_shape: window.kernel, strides: window.strides, pads: window.pads, dilations: window.dilations, ...(group > 1 ? { group } : {}),
      }) : null;
      // The Conv this op is the transpose of has input dY and output gradient X.
      const adjoint = { x: dY!, w: wt, dY: x, window, C, M: M / group, group, inSize: [Hy, Wy], outSize: [Hx, Wx] };
      const dW = needs[1] ? convWeightGrad(b, adjoint, target) : null;
      const dB = bias && needs[2] ? b.op1('ReduceSum', [dY!, b.constant([0, 2, 3], 'int64')], { keepdims: 0 }) : null;
      return bias ? [dX, dW, dB] : [dX, dW];
    },
  },
};

/** The gradient problem of Conv node n (2-D, static channels and spatial sizes). */
function convProblem(b: Emitter, n: Node, dY: string): ConvGradProblem {
  const [x, w] = n.inputs;
  const xs = b.shape(x);
  const ws = b.shape(w);
  if (xs.length !== 4) throw new Error(`Conv gradient: only 2-D convolution (NCHW) is supported, got input [${xs}]`);
  const group = attrInt(n, 'group', 1);
  const inSize = staticSpatial('Conv', xs);
  const window = windowOf(n, inSize, ws.slice(2));
  const [C, M] = [ws[1], ws[0]];
  if (typeof C !== 'number' || typeof M !== 'number') throw new Error('Conv gradient: channel counts must be static');
  return { x, w, dY, window, C, M: M / group, group, inSize, outSize: staticSpatial('Conv', b.shape(n.outputs[0])) };
}
