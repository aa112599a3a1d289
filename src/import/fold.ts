/**
 * Shape arithmetic at import time. PyTorch exports `x.view(x.size(0), -1)`, attention's head reshapes and
 * `expand(x.shape[0], ...)` as small integer graphs over Shape(x): Shape -> Gather -> Unsqueeze ->
 * Concat -> Reshape. Where X's shape is static those graphs are constants, and the gradient rules need
 * them as constants; the batch is the one symbolic dim, carried through as a symbol ('N').
 */
import { attrInt, attrInts, type Attr, type Dim, type Node } from '../graph/ir.js';
import { DTYPE_FROM_ONNX, numel, tensor, type DType, type Tensor } from '../graph/tensor.js';

/** A value known at import time: its elements are numbers or symbolic dims ('N', 'N*17'). */
export interface Known {
  dtype: DType;
  dims: number[];
  vals: Dim[];
}

/** Constants larger than this are never folded (they are weights, not shape arithmetic). */
export const MAX_FOLD = 4096;

export const isNumeric = (k: Known): boolean => k.vals.every((v) => typeof v === 'number');

export function knownOf(t: Tensor): Known | undefined {
  if (numel(t.dims) > MAX_FOLD) return undefined;
  return { dtype: t.dtype, dims: [...t.dims], vals: Array.from(t.data as ArrayLike<number | bigint>, Number) };
}

export function tensorOf(k: Known): Tensor {
  return tensor(k.dtype, k.dims, k.vals as number[]);
}

const isInt = (d: DType) => d === 'int64' || d === 'int32';
const normAxis = (a: number, r: number) => (a < 0 ? a + r : a);

/** Index of the element of an input of `dims` that output multi-index `idx` reads (numpy broadcasting). */
function broadcastIndex(idx: number[], dims: number[]): number {
  let flat = 0;
  const off = idx.length - dims.length;
  for (let i = 0; i < dims.length; i++) flat = flat * dims[i] + (dims[i] === 1 ? 0 : idx[off + i]);
  return flat;
}

function broadcastDims(all: number[][]): number[] | undefined {
  const r = Math.max(...all.map((d) => d.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    let d = 1;
    for (const dims of all) {
      const v = dims[dims.length - r + i] ?? 1;
      if (v !== 1) {
        if (d !== 1 && d !== v) return undefined;
        d = v;
      }
    }
    out.push(d);
  }
  return out;
}

function unravel(i: number, dims: number[]): number[] {
  const idx = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    idx[k] = i % dims[k];
    i = Math.floor(i / dims[k]);
  }
  return idx;
}

const sym = (v: Dim): string => (typeof v === 'number' ? String(v) : /^[A-Za-z0-9_]+$/.test(v) ? v : `(${v})`);

/** One elementwise op on numbers or symbols; undefined when the result cannot be known. */
function scalarOp(op: string, dtype: DType, a: Dim, b: Dim, c?: Dim): Dim | undefined {
  if (op === 'Where') return a === undefined || typeof a !== 'number' ? undefined : a ? b : c;
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case 'Add': return a + b;
      case 'Sub': return a - b;
      case 'Mul': return a * b;
      case 'Div': return isInt(dtype) ? Math.trunc(a / b) : a / b;
      case 'Mod': return a % b;
      case 'Pow': return a ** b;
      case 'Equal': return a === b ? 1 : 0;
      case 'Less': return a < b ? 1 : 0;
      case 'Greater': return a > b ? 1 : 0;
      case 'Max': return Math.max(a, b);
      case 'Min': return Math.min(a, b);
    }
    return undefined;
  }
  // A symbol is a dim: a positive integer.
  if (op === 'Equal') return a === b ? 1 : (typeof a === 'number' && a <= 0) || (typeof b === 'number' && b <= 0) ? 0 : undefined;
  if (op === 'Mul' && (a === 1 || b === 1)) return a === 1 ? b : a;
  if (op === 'Add' || op === 'Sub' || op === 'Mul' || op === 'Div') return `${sym(a)}${{ Add: '+', Sub: '-', Mul: '*', Div: '/' }[op]}${sym(b)}`;
  return undefined;
}

const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'Equal', 'Less', 'Greater', 'Max', 'Min', 'Where']);
const UNARY: Record<string, (v: number) => number> = { Neg: (v) => -v, Sqrt: Math.sqrt, Abs: Math.abs, Floor: Math.floor, Ceil: Math.ceil, Reciprocal: (v) => 1 / v };

const ints = (k: Known | undefined): number[] | undefined => (k && isNumeric(k) ? (k.vals as number[]) : undefined);

function attrTensor(a: Attr | undefined): Tensor | undefined {
  return a?.kind === 'tensor' ? a.value : undefined;
}

/** A Constant node's value (value, value_float(s), value_int(s)). */
export function constantValue(n: Node): Tensor | undefined {
  const a = n.attrs;
  if (a.value) return attrTensor(a.value);
  if (a.value_float?.kind === 'float') return tensor('float32', [], [a.value_float.value]);
  if (a.value_floats?.kind === 'floats') return tensor('float32', [a.value_floats.value.length], a.value_floats.value);
  if (a.value_int?.kind === 'int') return tensor('int64', [], [a.value_int.value]);
  if (a.value_ints?.kind === 'ints') return tensor('int64', [a.value_ints.value.length], a.value_ints.value);
  return undefined;
}

/** Shape(x) from x's shape, with opset 15's start/end. */
export function shapeKnown(n: Node, shape: Dim[]): Known {
  const r = shape.length;
  const clamp = (v: number) => Math.min(Math.max(normAxis(v, r), 0), r);
  const vals = shape.slice(clamp(attrInt(n, 'start', 0)), n.attrs.end ? clamp(attrInt(n, 'end', r)) : r);
  return { dtype: 'int64', dims: [vals.length], vals };
}

/**
 * The outputs of `n` from inputs known at import time, or undefined where the op is not one this folds
 * or an input is not known. `ins[i]` undefined: input i is not known (or absent when n.inputs[i] is '').
 */
export function evaluate(n: Node, ins: (Known | undefined)[]): Known[] | undefined {
  const present = n.inputs.map((name, i) => (name ? ins[i] : null));
  if (present.some((k) => k === undefined)) return undefined;
  const x = ins[0];
  switch (n.opType) {
    case 'Identity':
      return [x!];
    case 'Cast': {
      const to = DTYPE_FROM_ONNX[attrInt(n, 'to', 1)];
      if (!to) return undefined;
      const vals = x!.vals.map((v) => (typeof v !== 'number' ? v : isInt(to) ? Math.trunc(v) : to === 'bool' ? (v ? 1 : 0) : to === 'float32' ? Math.fround(v) : v));
      if (!isInt(to) && vals.some((v) => typeof v !== 'number')) return undefined;
      return [{ dtype: to, dims: x!.dims, vals }];
    }
    case 'Unsqueeze': {
      const axes = ints(ins[1]) ?? attrInts(n, 'axes');
      if (!axes) return undefined;
      const r = x!.dims.length + axes.length;
      const ax = axes.map((a) => normAxis(a, r));
      const dims: number[] = [];
      for (let i = 0, k = 0; i < r; i++) dims.push(ax.includes(i) ? 1 : x!.dims[k++]);
      return [{ ...x!, dims }];
    }
    case 'Squeeze': {
      const axes = (ints(ins[1]) ?? attrInts(n, 'axes'))?.map((a) => normAxis(a, x!.dims.length));
      return [{ ...x!, dims: x!.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)) }];
    }
    case 'Reshape': {
      const want = ints(ins[1]);
      if (!want) return undefined;
      const dims = want.map((d, i) => (d === 0 ? x!.dims[i] : d));
      const unknown = dims.indexOf(-1);
      if (unknown >= 0) dims[unknown] = x!.vals.length / numel(dims.filter((_, i) => i !== unknown));
      return [{ ...x!, dims }];
    }
    case 'Flatten': {
      const a = normAxis(attrInt(n, 'axis', 1), x!.dims.length);
      return [{ ...x!, dims: [numel(x!.dims.slice(0, a)), numel(x!.dims.slice(a))] }];
    }
    case 'Concat': {
      const a = normAxis(attrInt(n, 'axis', 0), x!.dims.length);
      if (x!.dims.length !== 1 || a !== 0) return undefined;
      const vals = ins.flatMap((k) => k!.vals);
      return [{ dtype: x!.dtype, dims: [vals.length], vals }];
    }
    case 'Gather': {
      const idx = ints(ins[1]);
      if (!idx) return undefined;
      const a = normAxis(attrInt(n, 'axis', 0), x!.dims.length);
      const outer = numel(x!.dims.slice(0, a));
      const D = x!.dims[a];
      const inner = numel(x!.dims.slice(a + 1));
      const vals: Dim[] = [];
      for (let o = 0; o < outer; o++) for (const i of idx) for (let k = 0; k < inner; k++) vals.push(x!.vals[(o * D + normAxis(i, D)) * inner + k]);
      return [{ dtype: x!.dtype, dims: [...x!.dims.slice(0, a), ...ins[1]!.dims, ...x!.dims.slice(a + 1)], vals }];
    }
    case 'Slice': {
      if (x!.dims.length !== 1) return undefined;
      const [starts, ends, axes, steps] = [ints(ins[1]), ints(ins[2]), n.inputs[3] ? ints(ins[3]) : [0], n.inputs[4] ? ints(ins[4]) : [1]];
      if (!starts || !ends || !axes || !steps || normAxis(axes[0], 1) !== 0) return undefined;
      const d = x!.vals.length;
      const step = steps[0];
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      const lo = step > 0 ? clamp(starts[0], 0, d) : clamp(starts[0], -1, d - 1);
      const hi = step > 0 ? clamp(ends[0], 0, d) : clamp(ends[0], -1, d - 1);
      const vals: Dim[] = [];
      for (let i = lo; step > 0 ? i < hi : i > hi; i += step) vals.push(x!.vals[i]);
      return [{ dtype: x!.dtype, dims: [vals.length], vals }];
    }
    case 'ConstantOfShape': {
      const dims = ints(x);
      if (!dims || numel(dims) > MAX_FOLD) return undefined;
      const v = attrTensor(n.attrs.value);
      const fill = v ? Number(v.data[0]) : 0;
      return [{ dtype: v?.dtype ?? 'float32', dims, vals: new Array<number>(numel(dims)).fill(fill) }];
    }
    case 'Range': {
      const [s, l, d] = [ints(ins[0]), ints(ins[1]), ints(ins[2])];
      if (!s || !l || !d) return undefined;
      const count = Math.max(Math.ceil((l[0] - s[0]) / d[0]), 0);
      if (count > MAX_FOLD) return undefined;
      return [{ dtype: x!.dtype, dims: [count], vals: Array.from({ length: count }, (_, i) => s[0] + i * d[0]) }];
    }
  }
  if (UNARY[n.opType]) {
    if (!isNumeric(x!)) return undefined;
    return [{ ...x!, vals: (x!.vals as number[]).map(UNARY[n.opType]) }];
  }
  if (ELEMENTWISE.has(n.opType)) {
    const all = ins as Known[];
    const dims = broadcastDims(all.map((k) => k.dims));
    if (!dims || numel(dims) > MAX_FOLD) return undefined;
    const cmp = ['Equal', 'Less', 'Greater'].includes(n.opType);
    const dtype = cmp ? 'bool' : n.opType === 'Where' ? all[1].dtype : x!.dtype;
    const vals: Dim[] = [];
    for (let i = 0; i < numel(dims); i++) {
      const idx = unravel(i, dims);
      const [a, b, c] = all.map((k) => k.vals[broadcastIndex(idx, k.dims)]);
      const v = scalarOp(n.opType, dtype, a, b, c);
      if (v === undefined) return undefined;
      vals.push(v);
    }
    return [{ dtype, dims, vals }];
  }
  return undefined;
}
