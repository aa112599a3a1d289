import { attrInt, attrInts, type Dim } from '../graph/ir.js';
import { numel, type Tensor } from '../graph/tensor.js';
import { broadcastShape, normAxis, shapeValue } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';

const ints = (t: Tensor): number[] => Array.from(t.data as BigInt64Array, Number);

/** Reshape a gradient back to the (run-time) shape of the op's input. */
/** dY reshaped to x's shape; allowzero where that shape has an empty axis (a 0 would otherwise copy dY's). */
const reshapeBack = (b: Emitter, dY: string, x: string): string =>
  b.op1('Reshape', [dY, shapeValue(b, x)], b.info(x).shape?.includes(0) ? { allowzero: 1 } : {});

const prod = (ds: Dim[]): Dim => (ds.every((d) => typeof d === 'number') ? numel(ds as number[]) : ds.join('*'));

/**
 * The size of Reshape's -1: X's element count over the other target dims, where the symbolic dims (the
 * batch) cancel: [N, 32, 4, 4] -> [N, 32, -1] gives 16. Undefined when they do not.
 */
function inferredDim(from: Dim[], others: Dim[]): number | undefined {
  const split = (ds: Dim[]) => ({ n: numel(ds.filter((d): d is number => typeof d === 'number')), syms: ds.filter((d) => typeof d === 'string').sort() });
  const [a, b] = [split(from), split(others)];
  return a.syms.join() === b.syms.join() ? a.n / b.n : undefined;
}

export const shapeOps: RuleTable = {
  // Flatten to 2-D at axis  =>  dX = reshape(dY, shape(X))
  Flatten: {
    infer: (ins, n) => {
      const s = ins[0]!.shape;
      if (!s) return [{ dtype: ins[0]!.dtype }];
      const a = normAxis(attrInt(n, 'axis', 1), s.length);
      return [{ dtype: ins[0]!.dtype, shape: [prod(s.slice(0, a)), prod(s.slice(a))] }];
    },
    grad: ({ b }, n, [dY]) => [reshapeBack(b, dY!, n.inputs[0])],
  },
  // Reshape  =>  dX = reshape(dY, shape(X))
  Reshape: {
    infer: (ins, n, consts) => {
      const t = consts[1];
      const s = ins[0]!.shape;
      if (!t) return [{ dtype: ins[0]!.dtype }];
      const want = Array.from(t.data as BigInt64Array, Number);
      // 0 copies the input's dimension, unless allowzero = 1 makes it a real 0.
      const copy = attrInt(n, 'allowzero', 0) === 0;
      const out: Dim[] = want.map((d, i) => (d === 0 && s && copy ? s[i] : d));
      const unknown = out.indexOf(-1);
      if (unknown >= 0) {
        if (!s) return [{ dtype: ins[0]!.dtype }];
        out[unknown] = inferredDim(s, out.filter((_, i) => i !== unknown)) ?? s[0];
      }
      return [{ dtype: ins[0]!.dtype, shape: out }];
    },
    grad: ({ b }, n, [dY]) => [reshapeBack(b, dY!, n.inputs[0]), null],
  },
  // Y = transpose(X, perm)  =>  dX = transpose(dY, perm^-1)
  Transpose: {
    infer: (ins, n) => {
      const s = ins[0]!.shape;
      if (!s) return [{ dtype: ins[0]!.dtype }];
      const perm = attrInts(n, 'perm') ?? s.map((_, i) => s.length - 1 - i);
      return [{ dtype: ins[0]!.dtype, shape: perm.map((p) => s[p]) }];
    },
    grad: ({ b }, n, [dY]) => {
      const r = b.shape(n.inputs[0]).length;
      const perm = attrInts(n, 'perm') ?? [...Array(r).keys()].reverse();
      const inv = new Array<number>(r);
      perm.forEach((p, i) => (inv[p] = i));
      return [b.op1('Transpose', [dY!], { perm: inv })];
    },
  },
  // Y = concat(X1..Xk, axis)  =>  dXi = the slice of dY that Xi filled
  Concat: {
    infer: (ins, n) => {
      const s0 = ins[0]!.shape;
      if (!s0 || ins.some((v) => !v?.shape)) return [{ dtype: ins[0]!.dtype }];
      const a = normAxis(attrInt(n, 'axis', 0), s0.length);
      const sizes = ins.map((v) => v!.shape![a]);
      const total = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((p, q) => p + q, 0) : sizes.join('+');
      return [{ dtype: ins[0]!.dtype, shape: s0.map((d, i) => (i === a ? total : d)) }];
    },
    grad: ({ b, needs }, n, [dY]) => {
      const a = normAxis(attrInt(n, 'axis', 0), b.shape(n.inputs[0]).length);
      const sizes = n.inputs.map((x) => b.shape(x)[a]);
      if (!sizes.every((d) => typeof d === 'number')) throw new Error('Concat gradient: sizes along the axis must be static');
      const parts = b.op('Split', [dY!, b.constant(sizes as number[], 'int64')], { axis: a }, { outputs: sizes.length });
      return parts.map((p, i) => (needs[i] ? p : null));
    },
  },
  // Squeeze/Unsqueeze only move size-1 axes  =>  dX = reshape(dY, shape(X))
  Squeeze: {
    infer: (ins, n, consts) => {
      const s = ins[0]!.shape;
      if (!s || (n.inputs[1] && !consts[1])) return [{ dtype: ins[0]!.dtype }];
      const axes = consts[1] ? ints(consts[1]).map((a) => normAxis(a, s.length)) : s.flatMap((d, i) => (d === 1 ? [i] : []));
      return [{ dtype: ins[0]!.dtype, shape: s.filter((_, i) => !axes.includes(i)) }];
    },
    grad: ({ b }, n, [dY]) => [reshapeBack(b, dY!, n.inputs[0]), null],
  },
  Unsqueeze: {
    infer: (ins, _n, consts) => {
      const s = ins[0]!.shape;
      if (!s || !consts[1]) return [{ dtype: ins[0]!.dtype }];
      const axes = Array.from(consts[1].data as BigInt64Array, Number);
      const r = s.length + axes.length;
      const ax = axes.map((x) => normAxis(x, r));
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) out.push(ax.includes(i) ? 1 : s[k++]);
      return [{ dtype: ins[0]!.dtype, shape: out }];
    },
    grad: ({ b }, n, [dY]) => [reshapeBack(b, dY!, n.inputs[0]), null],
  },
  Constant: {},
  // Rearrangements used by gradient rules: [N, C, H, W] <-> [N, C k k, H/k, W/k]
  SpaceToDepth: {
    infer: (ins, n) => {
      const s = ins[0]!.shape;
      const k = attrInt(n, 'blocksize', 1);
      const div = (d: Dim) => (typeof d === 'number' ? d / k : `${d}/${k}`);
      return [{ dtype: ins[0]!.dtype, shape: s ? [s[0], typeof s[1] === 'number' ? s[1] * k * k : s[1], div(s[2]), div(s[3])] : undefined }];
    },
  },
  DepthToSpace: {
    infer: (ins, n) => {
      const s = ins[0]!.shape;
      const k = attrInt(n, 'blocksize', 1);
      const mul = (d: Dim) => (typeof d === 'number' ? d * k : `${d}*${k}`);
      return [{ dtype: ins[0]!.dtype, shape: s ? [s[0], typeof s[1] === 'number' ? s[1] / (k * k) : s[1], mul(s[2]), mul(s[3])] : undefined }];
    },
  },
  CumSum: { infer: (ins) => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape }] },
  And: { infer: (ins) => [{ dtype: 'bool', shape: broadcastShape(ins[0]!.shape, ins[1]!.shape) }] },
  ScatterElements: { infer: (ins) => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape }] },
  MaxUnpool: { infer: (ins) => [{ dtype: ins[0]!.dtype }] },
  Tile: { infer: (ins) => [{ dtype: ins[0]!.dtype }] },
  Range: { infer: (ins) => [{ dtype: ins[0]!.dtype }] },
};

