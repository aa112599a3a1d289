import { attrInt, type Dim, type Node, type ValueInfo } from '../graph/ir.js';
import { numel } from '../graph/tensor.js';
import { maxPoolInputGrad } from './lowering/maxpool_grad.js';
import { castTo, maskedByPositive, shapeValue, sizeOf } from './shapes.js';
import type { Emitter, GradContext, RuleTable } from './types.js';
import { staticSpatial, windowOf, windowOutput, type Window } from './window.js';

/** 1 / (number of input elements each output window covers), excluding padding: [1, 1, Ho, Wo]. */
function inverseCounts(w: Window, [H, W]: number[], [Ho, Wo]: number[]): number[] {
  const span = (o: number, s: number, p: number, k: number, n: number) => Math.min(o * s - p + k, n) - Math.max(o * s - p, 0);
  const out: number[] = [];
  for (let i = 0; i < Ho; i++) {
    for (let j = 0; j < Wo; j++) {
      out.push(1 / (span(i, w.strides[0], w.pads[0], w.kernel[0], H) * span(j, w.strides[1], w.pads[1], w.kernel[1], W)));
    }
  }
  return out;
}

function checkPool2d(opType: string, b: Emitter, n: Node): number[] {
  const xs = b.shape(n.inputs[0]);
  if (xs.length !== 4) throw new Error(`${opType} gradient: only 2-D pooling (NCHW) is supported, got input [${xs}] (node '${n.name}')`);
  return staticSpatial(opType, xs);
}

const pooledShape = (ins: (ValueInfo | undefined)[], n: Node): Dim[] | undefined => {
  const x = ins[0]!.shape;
  return x ? [x[0], x[1], ...windowOutput(windowOf(n, x.slice(2)), x.slice(2))] : undefined;
};

/**
 * X = Relu(.) read by this MaxPool alone: the Relu's mask (X > 0) at each window's maximum is (Y > 0), so it
 * can be applied to dY at the pooled size, a quarter of the work for 2x2 windows. Returns whether it was.
 */
function takesReluMask({ consumers, producer, positiveMasked }: GradContext, x: string): boolean {
  if (!positiveMasked || producer?.(x)?.opType !== 'Relu' || consumers?.(x).length !== 1) return false;
  positiveMasked.add(x);
  return true;
}

export const pool: RuleTable = {
  // Y = max over each window of X  =>  dX = dY at the window's first maximum (row-major), 0 elsewhere,
  // as PyTorch's max_pool2d. Where that maximum is found (and the node contract): lowering/maxpool_grad.ts.
  MaxPool: {
    infer: (ins, n) => {
      const shape = pooledShape(ins, n);
      return [{ dtype: ins[0]!.dtype, shape }, { dtype: 'int64', shape }];
    },
    grad: (ctx, n, [dY]) => {
      const { b } = ctx;
      if (!dY) throw new Error(`MaxPool gradient: only Y (not Indices) can carry a gradient (node '${n.name}')`);
      const x = n.inputs[0];
      const [H, W] = checkPool2d('MaxPool', b, n);
      const w = windowOf(n, [H, W]);
      if (w.dilations.some((d) => d !== 1)) throw new Error(`MaxPool gradient: only dilations 1 are supported (node '${n.name}')`);
      if (attrInt(n, 'storage_order', 0) !== 0) throw new Error(`MaxPool gradient: only storage_order 0 is supported (node '${n.name}')`);
      const y = n.outputs[0];
      const routed = takesReluMask(ctx, x) ? maskedByPositive(b, dY, y) : dY;
      return [maxPoolInputGrad(b, { x, dY: routed, window: w, inSize: [H, W], indices: n.outputs[1], attrs: n.attrs })];
    },
  },
  // Y = mean over each window (divisor k k, or the count of non-pad elements when count_include_pad=0)
  //   =>  dX = ConvTranspose(dY / divisor, ones(k)) over each channel
  AveragePool: {
    infer: (ins, n) => [{ dtype: ins[0]!.dtype, shape: pooledShape(ins, n) }],
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const dt = b.dtype(x);
      const [H, W] = checkPool2d('AveragePool', b, n);
      const w = windowOf(n, [H, W]);
      if (w.ceil) throw new Error(`AveragePool gradient: ceil_mode=1 is not supported (node '${n.name}'); use ceil_mode 0`);
      const [Ho, Wo] = staticSpatial('AveragePool', b.shape(n.outputs[0]));
      const [kh, kw] = w.kernel;
      const dYc = b.op1('Reshape', [dY!, b.constant([-1, 1, Ho, Wo], 'int64')]);
      const padded = w.pads.some((p) => p !== 0);
      const scale = attrInt(n, 'count_include_pad', 0) || !padded
        ? b.constant(1 / (kh * kw), dt)
        : b.constant(inverseCounts(w, [H, W], [Ho, Wo]), dt, [1, 1, Ho, Wo]);
      const outputPadding = [
        H - ((Ho - 1) * w.strides[0] + kh - w.pads[0] - w.pads[2]),
        W - ((Wo - 1) * w.strides[1] + kw - w.pads[1] - w.pads[3]),
      ];
      const spread = b.op1('ConvTranspose', [b.op1('Mul', [dYc, scale]), b.constant(new Array<number>(kh * kw).fill(1), dt, [1, 1, kh, kw])], {
        kernel_shape: w.kernel, pads: w.pads, strides: w.strides,
        ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
      });
      return [b.op1('Reshape', [spread, shapeValue(b, x)])];
    },
  },
  // Y[n,c] = mean of X[n,c] over all spatial positions  =>  dX = dY broadcast / (H W)
  GlobalAveragePool: {
    infer: (ins) => {
      const x = ins[0]!.shape;
      return [{ dtype: ins[0]!.dtype, shape: x ? [x[0], x[1], ...x.slice(2).map(() => 1)] : undefined }];
    },
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const spatial = b.shape(x).slice(2);
      const wide = b.op1('Expand', [dY!, b.op1('Shape', [x])]);
      if (spatial.every((d) => typeof d === 'number')) {
        return [b.op1('Mul', [wide, b.constant(1 / numel(spatial as number[]), b.dtype(x))])];
      }
      const count = b.op1('Div', [sizeOf(b, x), castTo(b, b.op1('Size', [dY!]), b.dtype(x))]);
      return [b.op1('Div', [wide, count])];
    },
  },
};
