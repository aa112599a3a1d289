import { attrInt, attrInts, attrString, type Dim, type Node } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import { broadcastShape, normAxis, unbroadcast } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';

const ints = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** A constant int input (axes, pads, starts...) read at build time; gradients need them static. */
function constInts(b: Emitter, n: Node, i: number, what: string): number[] | undefined {
  const name = n.inputs[i];
  if (!name) return undefined;
  const t = b.graph.initializers.get(name);
  if (!t) throw new Error(`${n.opType} gradient (node '${n.name}'): ${what} must be a constant`);
  return ints(t);
}

const staticShape = (b: Emitter, x: string, n: Node): number[] => {
  const s = b.shape(x);
  if (!s.every((d) => typeof d === 'number')) throw new Error(`${n.opType} gradient (node '${n.name}'): needs the static shape of '${x}', got [${s}]`);
  return s as number[];
};

/** Slice parameters resolved against a dim of size d: first index, element count, step (ONNX's clamping). */
export function sliceRange(start: number, end: number, step: number, d: number): { first: number; count: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
  const lo = step > 0 ? clamp(start, 0, d) : clamp(start, -1, d - 1);
  const hi = step > 0 ? clamp(end, 0, d) : clamp(end, -1, d - 1);
  return { first: lo, count: Math.max(0, Math.ceil((hi - lo) / step)) };
}

/** The Slice of a node with constant starts/ends/axes/steps, per axis of X. */
function sliceSpec(s: Dim[], consts: (Tensor | undefined)[], n: Node) {
  const [starts, ends, axesT, stepsT] = [consts[1], consts[2], consts[3], consts[4]];
  if (!starts || !ends || (n.inputs[3] && !axesT) || (n.inputs[4] && !stepsT)) return undefined;
  const axes = axesT ? ints(axesT).map((a) => normAxis(a, s.length)) : ints(starts).map((_, i) => i);
  const steps = stepsT ? ints(stepsT) : axes.map(() => 1);
  return axes.map((axis, k) => ({ axis, start: ints(starts)[k], end: ints(ends)[k], step: steps[k] }));
}

export const indexing: RuleTable = {
  // Y = X[..., starts:ends:steps, ...]  =>  dX = dY placed back where it came from, zeros elsewhere:
  // for unit steps a zero Pad of dY by (first, d - first - count) per sliced axis.
  Slice: {
    infer: (ins, n, consts) => {
      const s = ins[0]!.shape;
      const spec = s && sliceSpec(s, consts, n);
      if (!s || !spec) return [{ dtype: ins[0]!.dtype }];
      const out = [...s];
      for (const { axis, start, end, step } of spec) {
        const d = s[axis];
        if (typeof d !== 'number') return [{ dtype: ins[0]!.dtype }];
        out[axis] = sliceRange(start, end, step, d).count;
      }
      return [{ dtype: ins[0]!.dtype, shape: out }];
    },
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const s = b.shape(x);
      const consts = n.inputs.map((i) => (i ? b.graph.initializers.get(i) : undefined));
      const spec = sliceSpec(s, consts, n);
      if (!spec) throw new Error(`Slice gradient (node '${n.name}'): starts, ends, axes and steps must be constants`);
      const pads = new Array<number>(2 * s.length).fill(0);
      for (const { axis, start, end, step } of spec) {
        if (step !== 1) throw new Error(`Slice gradient (node '${n.name}'): only step 1 is supported, got ${step}`);
        const d = s[axis];
        if (typeof d !== 'number') throw new Error(`Slice gradient (node '${n.name}'): the sliced axis ${axis} has no static size (${d})`);
        const { first, count } = sliceRange(start, end, step, d);
        pads[axis] = first;
        pads[axis + s.length] = d - first - count;
      }
      return [b.op1('Pad', [dY!, b.constant(pads, 'int64')]), null, null, null, null].slice(0, n.inputs.length);
    },
  },
  // Constant-mode Pad by (begin, end) per axis (negative = crop)  =>  dX = dY cropped by the positive
  // pads and zero-padded where X was cropped. Reflect/edge padding has no rule.
  Pad: {
    infer: (ins, n, consts) => {
      const s = ins[0]!.shape;
      const p = consts[1] ? ints(consts[1]) : attrInts(n, 'pads');
      if (!s || !p || n.inputs[3]) return [{ dtype: ins[0]!.dtype }];
      return [{ dtype: ins[0]!.dtype, shape: s.map((d, i) => (typeof d === 'number' ? d + p[i] + p[i + s.length] : d)) }];
    },
    grad: ({ b }, n, [dY]) => {
      const mode = attrString(n, 'mode', 'constant');
      if (mode !== 'constant') throw new Error(`Pad gradient (node '${n.name}'): mode '${mode}' has no rule; only 'constant' padding`);
      if (n.inputs[3]) throw new Error(`Pad gradient (node '${n.name}'): the axes input is not supported; pad every axis`);
      const r = b.shape(n.inputs[0]).length;
      const pads = constInts(b, n, 1, 'pads') ?? attrInts(n, 'pads');
      if (!pads) throw new Error(`Pad gradient (node '${n.name}'): no pads`);
      // Ends count back from the end of dY, so no axis needs a static size.
      const starts = pads.slice(0, r).map((p) => Math.max(p, 0));
      const ends = pads.slice(r).map((p) => (p > 0 ? -p : Number.MAX_SAFE_INTEGER));
      let g = b.op1('Slice', [dY!, b.constant(starts, 'int64'), b.constant(ends, 'int64')]);
      const back = pads.map((p) => Math.max(-p, 0));
      if (back.some((p) => p > 0)) g = b.op1('Pad', [g, b.constant(back, 'int64')]);
      return [g, null, null].slice(0, n.inputs.length);
    },
  },
  // Y = X broadcast to shape  =>  dX = dY summed back over the broadcast axes
  Expand: {
    infer: (ins, _n, consts) => {
      const s = ins[0]!.shape;
      if (!s || !consts[1]) return [{ dtype: ins[0]!.dtype }];
      return [{ dtype: ins[0]!.dtype, shape: broadcastShape(s, ints(consts[1])) }];
    },
    grad: ({ b }, n, [dY]) => [unbroadcast(b, dY!, n.inputs[0]), null],
  },
  // Y = take(X, I, axis): Y[a.., i.., b..] = X[a.., I[i..], b..]  =>  dX = zeros with dY added at the
  // gathered rows (repeated indices accumulate): ScatterND(reduction add) over X with the axis moved first.
  Gather: {
    infer: (ins, n) => {
      const [s, is] = [ins[0]!.shape, ins[1]!.shape];
      if (!s || !is) return [{ dtype: ins[0]!.dtype }];
      const a = normAxis(attrInt(n, 'axis', 0), s.length);
      return [{ dtype: ins[0]!.dtype, shape: [...s.slice(0, a), ...is, ...s.slice(a + 1)] }];
    },
    grad: ({ b }, n, [dY]) => {
      const [x, idx] = n.inputs;
      const s = b.shape(x);
      const q = b.shape(idx).length;
      const a = normAxis(attrInt(n, 'axis', 0), s.length);
      const D = s[a];
      if (typeof D !== 'number') throw new Error(`Gather gradient (node '${n.name}'): the gathered axis ${a} has no static size (${D})`);
      // dY is [pre(a), I(q), post]; bring it to [I, pre, post], the layout of X with axis a first.
      const pre = [...Array(a).keys()];
      const iAxes = [...Array(q).keys()].map((i) => i + a);
      const post = [...Array(s.length - a - 1).keys()].map((i) => i + a + q);
      const g = a === 0 ? dY! : b.op1('Transpose', [dY!], { perm: [...iAxes, ...pre, ...post] });
      const firstPerm = [a, ...pre, ...[...Array(s.length - a - 1).keys()].map((i) => i + a + 1)];
      const xFirst = s.every((d) => typeof d === 'number')
        ? b.constant(firstPerm.map((i) => s[i] as number), 'int64')
        : b.op1('Gather', [b.op1('Shape', [x]), b.constant(firstPerm, 'int64')]);
      let i64 = b.dtype(idx) === 'int64' ? idx : b.op1('Cast', [idx], { to: 7 });
      const zeroI = b.constant(0, 'int64');
      i64 = b.op1('Where', [b.op1('Less', [i64, zeroI]), b.op1('Add', [i64, b.constant(D, 'int64')]), i64]);
      const indices = b.op1('Unsqueeze', [i64, b.constant([q], 'int64')]);
      const zeros = b.op1('Expand', [b.constant(0, b.dtype(x)), xFirst]);
      b.refine(zeros, firstPerm.map((i) => s[i]));
      const scattered = b.op1('ScatterND', [zeros, indices, g], { reduction: 'add' });
      if (a === 0) return [scattered, null];
      const back = [...Array(s.length).keys()].map((i) => (i < a ? i + 1 : i === a ? 0 : i));
      return [b.op1('Transpose', [scattered], { perm: back }), null];
    },
  },
  // Y1..Yk = split(X, sizes, axis)  =>  dX = concat(dY1..dYk), zeros for outputs no gradient reached
  Split: {
    infer: (ins, n, consts) => {
      const s = ins[0]!.shape;
      if (!s) return n.outputs.map(() => ({ dtype: ins[0]!.dtype }));
      const a = normAxis(attrInt(n, 'axis', 0), s.length);
      const sizes = splitSizes(s[a], n, consts[1]);
      return n.outputs.map((_, k) => ({ dtype: ins[0]!.dtype, shape: sizes ? s.map((d, i) => (i === a ? sizes[k] : d)) : undefined }));
    },
    grad: ({ b }, n, dOut) => {
      const x = n.inputs[0];
      const s = b.shape(x);
      const a = normAxis(attrInt(n, 'axis', 0), s.length);
      const parts = n.outputs.map((y, k) => dOut[k] ?? b.op1('Expand', [b.constant(0, b.dtype(x)), b.constant(staticShape(b, y, n), 'int64')]));
      return [b.op1('Concat', parts, { axis: a }), null].slice(0, n.inputs.length);
    },
  },
};

/** Split sizes along the axis: the sizes input, the opset < 13 `split` attribute, or equal parts. */
function splitSizes(d: Dim, n: Node, sizes: Tensor | undefined): Dim[] | undefined {
  if (sizes) return ints(sizes);
  const attr = attrInts(n, 'split');
  if (attr) return attr;
  if (n.inputs[1]) return undefined;
  const k = n.outputs.length;
  if (typeof d !== 'number') return undefined;
  const part = Math.ceil(d / k);
  return n.outputs.map((_, i) => Math.min(part, d - part * i));
}
