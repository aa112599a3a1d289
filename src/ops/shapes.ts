import type { Dim, ValueInfo } from '../graph/ir.js';
import { ONNX_DTYPE, type DType } from '../graph/tensor.js';
import type { Emitter, OutInfo } from './types.js';

export const same = (ins: (ValueInfo | undefined)[]): OutInfo[] => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape }];

export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Numpy-style broadcast of two shapes; undefined if either is unknown. */
export function broadcastShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || dimEq(x, y)) out.push(x);
    else throw new Error(`cannot broadcast [${a}] with [${b}]`);
  }
  return out;
}

export const broadcast = (ins: (ValueInfo | undefined)[]): OutInfo[] => [
  { dtype: ins[0]!.dtype, shape: ins.reduce<Dim[] | undefined>((s, v) => broadcastShape(s, v?.shape), ins[0]!.shape) },
];

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/**
 * Sum a gradient of the broadcast output shape down to the shape of `target` (the reverse of numpy
 * broadcasting): reduce the axes that broadcasting stretched, then drop the leading ones.
 */
export function unbroadcast(b: Emitter, g: string, target: string): string {
  const gs = b.shape(g);
  const ts = b.shape(target);
  const pad = gs.length - ts.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    const t = i < pad ? 1 : ts[i - pad];
    if (t === 1 && gs[i] !== 1) axes.push(i);
  }
  let out = g;
  if (axes.length) out = b.op1('ReduceSum', [g, b.constant(axes, 'int64')], { keepdims: 1 });
  if (pad > 0 || axes.length) {
    if (pad === 0) return out;
    out = b.op1('Reshape', [out, shapeValue(b, target)]);
  }
  return out;
}

/** x as `dtype` (a Cast node). */
export function castTo(b: Emitter, x: string, dtype: DType): string {
  return b.op1('Cast', [x], { to: ONNX_DTYPE[dtype] });
}

/**
 * v where `mask` is true, else 0, as v times the mask cast to v's type: onnxruntime's CPU Where runs ~2.5x
 * slower than Cast + Mul on a [64, 32, 28, 28] tensor (3.3 vs 2.3 ms, Greater included). Unlike Where, a NaN
 * or infinite v outside the mask gives NaN, which only a gradient that is already non-finite can carry.
 */
export function maskedBy(b: Emitter, v: string, mask: string): string {
  return b.op1('Mul', [v, castTo(b, mask, b.dtype(v))]);
}

/** v where x > 0, else 0: a Relu's gradient mask, tested on its output x. */
export function maskedByPositive(b: Emitter, v: string, x: string): string {
  return maskedBy(b, v, b.op1('Greater', [x, b.constant(0, b.dtype(x))]));
}

/** x's shape as an int64 value: a constant where the shape is static, else Shape(x). */
export function shapeValue(b: Emitter, x: string): string {
  const s = b.info(x).shape;
  return s && s.every((d) => typeof d === 'number') ? b.constant(s as number[], 'int64') : b.op1('Shape', [x]);
}

/** The element count of `x` as a float scalar of x's dtype, computed at run time. */
export function sizeOf(b: Emitter, x: string): string {
  return castTo(b, b.op1('Size', [x]), b.dtype(x));
}
