import { attrInt, attrInts, type Dim, type ValueInfo } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import { normAxis, sizeOf } from './shapes.js';
import type { Emitter, OutInfo, RuleTable } from './types.js';

function reducedShape(x: ValueInfo, axes: number[] | undefined, keep: number): Dim[] | undefined {
  const s = x.shape;
  if (!s) return undefined;
  const ax = axes && axes.length ? axes.map((a) => normAxis(a, s.length)) : s.map((_, i) => i);
  return keep ? s.map((d, i) => (ax.includes(i) ? 1 : d)) : s.filter((_, i) => !ax.includes(i));
}

const constAxes = (t: Tensor | undefined): number[] | undefined => (t ? Array.from(t.data as BigInt64Array, Number) : undefined);

/** Broadcast a reduced gradient back over the reduced axes of X: unsqueeze (if keepdims=0), then expand. */
function expandBack(b: Emitter, dY: string, x: string, axes: number[] | undefined, keep: number): string {
  let g = dY;
  if (!keep && axes && axes.length) g = b.op1('Unsqueeze', [g, b.constant(axes.map((a) => normAxis(a, b.shape(x).length)).sort((p, q) => p - q), 'int64')]);
  return b.op1('Expand', [g, b.op1('Shape', [x])]);
}

function axesOfInput(b: Emitter, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const t = b.graph.initializers.get(name);
  if (!t) throw new Error(`reduction gradient: axes '${name}' must be a constant`);
  return constAxes(t);
}

export const reduce: RuleTable = {
  // Y = sum of X over axes  =>  dX = dY broadcast back over those axes
  ReduceSum: {
    infer: (ins, n, consts): OutInfo[] => [{ dtype: ins[0]!.dtype, shape: n.inputs[1] && !consts[1] ? undefined : reducedShape(ins[0]!, constAxes(consts[1]), attrInt(n, 'keepdims', 1)) }],
    grad: ({ b }, n, [dY]) => [expandBack(b, dY!, n.inputs[0], axesOfInput(b, n.inputs[1]), attrInt(n, 'keepdims', 1)), null],
  },
  // Y = mean of X over axes (axes an attribute in opset 17)  =>  dX = dY broadcast back / count
  ReduceMean: {
    infer: (ins, n) => [{ dtype: ins[0]!.dtype, shape: reducedShape(ins[0]!, attrInts(n, 'axes'), attrInt(n, 'keepdims', 1)) }],
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      // The reduced shape is usually static (the batch axis reduced away): its size is then a constant.
      const ys = b.info(n.outputs[0]).shape;
      const ySize = ys && ys.every((d) => typeof d === 'number') ? b.constant((ys as number[]).reduce((p, q) => p * q, 1), b.dtype(x)) : sizeOf(b, n.outputs[0]);
      const count = b.op1('Div', [sizeOf(b, x), ySize]);
      return [b.op1('Div', [expandBack(b, dY!, x, attrInts(n, 'axes'), attrInt(n, 'keepdims', 1)), count])];
    },
  },
  ReduceMax: { infer: (ins, n) => [{ dtype: ins[0]!.dtype, shape: reducedShape(ins[0]!, attrInts(n, 'axes'), attrInt(n, 'keepdims', 1)) }] },
  ReduceProd: { infer: (ins, n) => [{ dtype: ins[0]!.dtype, shape: reducedShape(ins[0]!, attrInts(n, 'axes'), attrInt(n, 'keepdims', 1)) }] },
};
