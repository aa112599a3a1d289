/**
 * The CPU lowering: a graph rewritten for onnxruntime's CPU provider so that its convolutions run on the
 * provider's direct NCHWc kernels (domain com.microsoft.nchwc) instead of im2col + SGEMM, with weights
 * that change every step. onnxruntime's own NchwcTransformer does this only for constant weights, because
 * it reorders the filter once; here the graph reorders the filter itself, on every run.
 *
 * Layouts (B = the block, 16 with AVX-512, 8 with AVX2; see block_size.ts):
 *   activations  NCHW [N, C, H, W]  ->  NCHWc [N, C/B, H, W, B], by ReorderInput / back by ReorderOutput
 *   filter       [M, C, kh, kw] -> [M/B][C/B][kh][kw][B (c)][B (m)] where the input is blocked (C % B == 0),
 *                                  [M/B][C][kh][kw][B (m)]           where it is NCHW (C < B, not chosen today),
 *                both as MLAS reads them (MlasReorderFilterOIHWBiBo / OIHWBo), kept in a [M, C, kh, kw] tensor.
 * A value that is the ReorderOutput of a blocked value is not reordered again: the next convolution reads
 * the blocked twin. A Relu that is the only consumer of a convolution is fused into it; pooling and Relu
 * on a blocked value run blocked (com.microsoft.nchwc MaxPool / AveragePool), so that a conv -> pool ->
 * relu -> conv chain stays blocked; the NCHW copies the backward pass reads come from ReorderOutputs. The stride-1
 * ConvTranspose of a gradient becomes the Conv with the flipped kernel it equals, and then blocked.
 * Every other node is kept as it is, Loop bodies lowered the same way.
 */
import { Graph, attrInt, attrInts, attrString, graphsIn, type Attr, type Node, type ValueInfo } from '../../graph/ir.js';
import { tensor } from '../../graph/tensor.js';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/** A 2-D convolution as the selector sees it: input channels C, output channels M. */
export interface CpuConvShape {
  C: number;
  M: number;
  kernel: number[];
  strides: number[];
  dilations: number[];
  group: number;
}

export type CpuConvKernel = 'nchwc' | 'standard';

/**
 * The blocked kernel where MLAS has one for the layer (group 1, 2-D, M and C multiples of the block), else
 * onnxruntime's standard Conv. MLAS also runs layers with fewer input channels than the block on an NCHW
 * input (the first layer of each seed CNN: 1 or 3 channels), but slower than im2col + SGEMM there
 * (BENCHMARKS.md, "NCHWc lowering": 1->32 @28x28 1.79 vs 1.27 ms, 3->32 @32x32 3.61 vs 3.28), so those keep
 * the standard Conv.
 */
export function chooseCpuConv(s: CpuConvShape, block: number): CpuConvKernel {
  if (!block || s.kernel.length !== 2) return 'standard';
  if (s.group !== 1) return isDepthwise(s) && s.M % block === 0 && s.dilations.every((d) => d === 1) ? 'nchwc' : 'standard';
  return s.M % block === 0 && s.C % block === 0 ? 'nchwc' : 'standard';
}

/**
 * One input and one output channel per group. MLAS's blocked depthwise kernel runs these directly, 2.5-15x
 * faster than the standard Conv (mobilenet_v2's 3x3 layers at batch 32: [32,144,16,16] 4.7 -> 2.8 ms,
 * [32,960,2,2] 4.9 -> 0.3 ms, reorders included).
 */
const isDepthwise = (s: CpuConvShape): boolean => s.C === 1 && s.M === s.group;

export interface NchwcOptions {
  /** Pooling and Relu on blocked values run blocked (default true; false for A/B timing). */
  blockedPooling?: boolean;
}

/** The graph with its eligible convolutions on the NCHWc kernels; `g` is left unchanged. */
export function lowerToNchwc(g: Graph, block: number, opts: NchwcOptions = {}): Graph {
  const taken = new Set<string>();
  collectNames(g, taken);
  const fresh = (hint: string) => {
    let name = `${hint}.nchwc`;
    for (let k = 1; taken.has(name); k++) name = `${hint}.nchwc${k}`;
    taken.add(name);
    return name;
  };
  const out = lowerGraph(g, block, fresh, opts.blockedPooling ?? true);
  out.opsets = new Map(g.opsets).set(NCHWC_DOMAIN, 1);
  return out;
}

function collectNames(g: Graph, into: Set<string>): void {
  for (const h of graphsIn(g)) {
    for (const v of h.values.keys()) into.add(v);
    for (const n of h.nodes) {
      for (const v of [...n.inputs, ...n.outputs]) into.add(v);
      into.add(n.name);
    }
  }
}

/** How often each name is read: by nodes (those of nested graphs included, which may read outer values) and as a graph output. */
function useCounts(g: Graph, into = new Map<string, number>()): Map<string, number> {
  const use = (v: string) => v && into.set(v, (into.get(v) ?? 0) + 1);
  for (const h of graphsIn(g)) {
    for (const n of h.nodes) n.inputs.forEach(use);
    h.outputs.forEach((o) => use(o.name));
  }
  return into;
}

const staticDims = (v: ValueInfo | undefined): number[] | undefined =>
  v?.shape && v.shape.every((d) => typeof d === 'number') ? (v.shape as number[]) : undefined;

function lowerGraph(g: Graph, block: number, fresh: (hint: string) => string, blockedPooling: boolean): Graph {
  const out = new Graph(g.name);
  out.inputs = g.inputs;
  out.outputs = g.outputs;
  out.initializers = new Map(g.initializers);
  out.values = new Map(g.values);
  const uses = useCounts(g);
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  /** NCHW value -> its blocked twin, where one exists. */
  const twin = new Map<string, string>();
  const absorbed = new Set<Node>();
  const made: Node[] = [];

  const info = (name: string, shape: ValueInfo['shape']) => out.values.set(name, { name, dtype: 'float32', shape });
  const emit = (opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = '') => {
    const node: Node = { opType, inputs, outputs, attrs, name: `${outputs[0]}:${opType}`, domain };
    out.nodes.push(node);
    return node;
  };
  const ints = (value: number[]): Attr => ({ kind: 'ints', value });
  const int = (value: number): Attr => ({ kind: 'int', value });
  const constant = (hint: string, values: number[]) => {
    const name = fresh(hint);
    out.initializers.set(name, tensor('int64', [values.length], values));
    out.values.set(name, { name, dtype: 'int64', shape: [values.length] });
    return name;
  };
  const step = (opType: string, x: string, extra: string[], attrs: Record<string, Attr>, shape: number[]) => {
    const y = fresh(`${x}.${opType.toLowerCase()}`);
    emit(opType, [x, ...extra], [y], attrs);
    info(y, shape);
    return y;
  };

  /** The filter [M, C, kh, kw] in MLAS's blocked order, still shaped [M, C, kh, kw]. */
  const reorderFilter = (w: string, [M, C, kh, kw]: number[]) => {
    const B = block;
    const [split, perm] = C >= B
      ? [[M / B, B, C / B, B, kh, kw], [0, 2, 4, 5, 3, 1]]
      : [[M / B, B, C, kh, kw], [0, 2, 3, 4, 1]];
    const parts = step('Reshape', w, [constant(`${w}.blocks`, split)], {}, split);
    const moved = step('Transpose', parts, [], { perm: ints(perm) }, perm.map((p) => split[p]));
    return step('Reshape', moved, [constant(`${w}.whole`, [M, C, kh, kw])], {}, [M, C, kh, kw]);
  };

  const blockedInput = (x: string, shape: ValueInfo['shape']) => {
    const known = twin.get(x);
    if (known) return known;
    const xb = fresh(x);
    emit('ReorderInput', [x], [xb], {}, NCHWC_DOMAIN);
    info(xb, shape);
    twin.set(x, xb);
    return xb;
  };

  /** Conv(x, w, bias?) as an NCHWc Conv between reorders; false where it does not apply. */
  const lowerConv = (n: Node, x: string, w: string, bias: string | undefined, attrs: Record<string, Attr>): boolean => {
    const ws = staticDims(out.values.get(w));
    const xs = g.values.get(x)?.shape ?? out.values.get(x)?.shape;
    if (!ws || ws.length !== 4 || xs?.length !== 4) return false;
    const [M, C, kh, kw] = ws;
    const kernel = attrInts(n, 'kernel_shape') ?? [kh, kw];
    const shape: CpuConvShape = {
      C, M, kernel, group: attrInt(n, 'group', 1),
      strides: attrInts(n, 'strides') ?? [1, 1], dilations: attrInts(n, 'dilations') ?? [1, 1],
    };
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET' || chooseCpuConv(shape, block) !== 'nchwc') return false;
    const y = n.outputs[0];
    const next = consumers.get(y);
    const relu = uses.get(y) === 1 && next?.length === 1 && next[0].opType === 'Relu' && next[0].domain === '' ? next[0] : undefined;
    const result = relu ? relu.outputs[0] : y;
    const yShape = g.values.get(result)?.shape;
    const xb = C >= block || isDepthwise(shape) ? blockedInput(x, xs) : x;
    const yb = fresh(result);
    emit('Conv', [xb, reorderFilter(w, ws), ...(bias ? [bias] : [])], [yb], {
      ...attrs, kernel_shape: ints(kernel), ...(relu ? { activation: { kind: 'string', value: 'Relu' } } : {}),
    }, NCHWC_DOMAIN);
    info(yb, yShape);
    made.push(emit('ReorderOutput', [yb], [result], { channels: int(M) }, NCHWC_DOMAIN));
    twin.set(result, yb);
    if (relu) {
      absorbed.add(relu);
      out.values.delete(y);
    }
    return true;
  };

  const convAttrs = (n: Node) => {
    const a: Record<string, Attr> = {};
    for (const k of ['pads', 'strides', 'dilations', 'group'] as const) if (n.attrs[k]) a[k] = n.attrs[k];
    return a;
  };

  /**
   * Stride-1 ConvTranspose(dY, W) = Conv(dY, W') with W'[c, m] = W[m, c] flipped in both axes, pads k - 1 - p
   * (depthwise: W' = W flipped, the same groups).
   */
  const lowerConvTranspose = (n: Node): boolean => {
    const [x, w, bias] = n.inputs;
    const ws = staticDims(out.values.get(w));
    const group = attrInt(n, 'group', 1);
    if (!ws || ws.length !== 4 || n.attrs.output_shape || n.attrs.output_padding) return false;
    if (group !== 1 && !(ws[1] === 1 && ws[0] === group)) return false;
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET') return false;
    if ((attrInts(n, 'strides') ?? [1, 1]).some((s) => s !== 1) || (attrInts(n, 'dilations') ?? [1, 1]).some((d) => d !== 1)) return false;
    const [M, C, kh, kw] = ws;
    const [pt, pl, pb, pr] = attrInts(n, 'pads') ?? [0, 0, 0, 0];
    if (Math.max(pt, pb) > kh - 1 || Math.max(pl, pr) > kw - 1) return false;
    const shape: CpuConvShape = group === 1
      ? { C: M, M: C, kernel: [kh, kw], strides: [1, 1], dilations: [1, 1], group: 1 }
      : { C: 1, M, kernel: [kh, kw], strides: [1, 1], dilations: [1, 1], group };
    if (chooseCpuConv(shape, block) !== 'nchwc') return false;
    const swapped = group === 1 ? step('Transpose', w, [], { perm: ints([1, 0, 2, 3]) }, [C, M, kh, kw]) : w;
    const dims = group === 1 ? [C, M, kh, kw] : ws;
    const flipped = kh * kw === 1 ? swapped : step('Slice', swapped, [
      constant(`${w}.flip_starts`, [-1, -1]), constant(`${w}.flip_ends`, [-kh - 1, -kw - 1]),
      constant(`${w}.flip_axes`, [2, 3]), constant(`${w}.flip_steps`, [-1, -1]),
    ], {}, dims);
    const attrs: Record<string, Attr> = { pads: ints([kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr]), ...(group === 1 ? {} : { group: int(group) }) };
    const asConv: Node = { ...n, opType: 'Conv', attrs };
    if (lowerConv(asConv, x, flipped, bias || undefined, attrs)) return true;
    out.nodes.push({ ...asConv, inputs: [x, flipped, ...(bias ? [bias] : [])], attrs: { kernel_shape: ints([kh, kw]), ...attrs } });
    return true;
  };

  /**
   * A MaxPool / AveragePool (one output) or Relu whose input has a blocked twin runs blocked on the twin;
   * its NCHW result is made by a ReorderOutput only where something still reads it.
   */
  const lowerOnTwin = (n: Node): boolean => {
    const xb = twin.get(n.inputs[0]);
    if (!xb || n.outputs.length !== 1) return false;
    const pool = n.opType === 'MaxPool' || n.opType === 'AveragePool';
    if (pool && (n.attrs.storage_order || attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET')) return false;
    const y = n.outputs[0];
    const shape = g.values.get(y)?.shape;
    const channels = shape?.[1];
    if (shape?.length !== 4 || typeof channels !== 'number' || channels % block !== 0) return false;
    const yb = fresh(y);
    if (pool) emit(n.opType, [xb], [yb], { ...n.attrs }, NCHWC_DOMAIN);
    else emit(n.opType, [xb], [yb], { ...n.attrs });
    info(yb, shape);
    made.push(emit('ReorderOutput', [yb], [y], { channels: int(channels) }, NCHWC_DOMAIN));
    twin.set(y, yb);
    return true;
  };

  for (const n of g.nodes) {
    if (absorbed.has(n)) continue;
    if (blockedPooling && n.domain === '' && ['MaxPool', 'AveragePool', 'Relu'].includes(n.opType) && lowerOnTwin(n)) continue;
    if (n.domain === '' && n.opType === 'Conv' && lowerConv(n, n.inputs[0], n.inputs[1], n.inputs[2] || undefined, convAttrs(n))) continue;
    if (n.domain === '' && n.opType === 'ConvTranspose' && lowerConvTranspose(n)) continue;
    const sub = Object.entries(n.attrs).filter(([, a]) => a.kind === 'graph');
    if (!sub.length) {
      out.nodes.push(n);
      continue;
    }
    const attrs = { ...n.attrs };
    for (const [k, a] of sub) attrs[k] = { kind: 'graph', value: lowerGraph((a as { value: Graph }).value, block, fresh, blockedPooling) };
    out.nodes.push({ ...n, attrs });
  }
  // The ReorderOutputs nothing reads: their convolutions' results went on blocked to the next one.
  const read = useCounts(out);
  const dead = new Set(made.filter((m) => !read.get(m.outputs[0])));
  out.nodes = out.nodes.filter((m) => !dead.has(m));
  for (const m of dead) out.values.delete(m.outputs[0]);
  return out;
}
