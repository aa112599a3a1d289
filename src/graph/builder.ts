import { Graph, toAttr, type Attr, type AttrInput, type Dim, type Node, type ValueInfo } from './ir.js';
import { tensor, type DType, type Tensor } from './tensor.js';
import { inferOutputs, type CustomGrad, type Emitter } from '../ops/index.js';

/** Elementwise binary ops that broadcast. */
const ARITHMETIC = new Set(['Add', 'Sub', 'Mul', 'Div']);

export interface OpOptions {
  /** Output names; default fresh names from the op type. A number asks for that many fresh outputs. */
  outputs?: string[] | number;
  /** Node name; default derived from the first output. */
  name?: string;
}

/**
 * Builds a Graph. Builders take and return value names; fresh names are deterministic: a scope prefix,
 * the op type and a counter, so the same build always gives the same graph.
 */
export class GraphBuilder implements Emitter {
  readonly graph: Graph;
  private counters = new Map<string, number>();
  private scopes: string[] = [];
  private constants = new Map<string, string>();
  private reshaped = new Map<string, string>();
  /** Composites with a gradient rule of their own, by the node that gives their output. */
  readonly customGradients = new Map<Node, { inputs: string[]; grad: CustomGrad }>();

  /** `prefix` starts every fresh name: a Loop body needs names distinct from its enclosing graph's. */
  constructor(name: string, private readonly prefix?: string) {
    this.graph = new Graph(name);
    if (prefix) this.scopes = [prefix];
  }

  /** A new deterministic name under the current scope. */
  fresh(hint: string): string {
    const base = [...this.scopes, hint].join('/');
    const k = this.counters.get(base) ?? 0;
    this.counters.set(base, k + 1);
    const name = k === 0 ? base : `${base}_${k}`;
    return this.graph.values.has(name) ? this.fresh(hint) : name;
  }

  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private declare(v: ValueInfo): void {
    if (this.graph.values.has(v.name)) throw new Error(`graph '${this.graph.name}': value '${v.name}' defined twice`);
    this.graph.values.set(v.name, v);
  }

  input(name: string, dtype: DType, shape: Dim[] | undefined): string {
    const v = { name, dtype, shape };
    this.declare(v);
    this.graph.inputs.push(v);
    return name;
  }

  /** A value defined in an enclosing graph (a Loop body reads the dataset this way). */
  outer(name: string, dtype: DType, shape: Dim[] | undefined): string {
    this.declare({ name, dtype, shape });
    return name;
  }

  /** A named constant tensor stored in the graph (weights of an eval graph, constants). */
  initializer(name: string, t: Tensor): string {
    this.declare({ name, dtype: t.dtype, shape: [...t.dims] });
    this.graph.initializers.set(name, t);
    return name;
  }

  /** A small constant, shared by content. Scalars by default; dims [] is a scalar. */
  constant(values: number | number[], dtype: DType = 'float32', dims?: number[]): string {
    const vals = typeof values === 'number' ? [values] : values;
    const shape = dims ?? (typeof values === 'number' ? [] : [vals.length]);
    const key = `${dtype}[${shape}]:${vals.join(',')}`;
    const hit = this.constants.get(key);
    if (hit) return hit;
    const saved = this.scopes;
    this.scopes = this.prefix ? [this.prefix] : [];
    const name = this.fresh(`const_${dtype}_${shape.length ? shape.join('x') + '_' : ''}${vals.slice(0, 4).join('_')}`.replace(/[^A-Za-z0-9_.x-]/g, 'm'));
    this.scopes = saved;
    this.initializer(name, tensor(dtype, shape, vals));
    this.constants.set(key, name);
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): string[] {
    if (ARITHMETIC.has(opType) && inputs.length === 2) inputs = this.rankMatchedScalars(inputs);
    const nOut = typeof opts.outputs === 'number' ? opts.outputs : opts.outputs?.length ?? 1;
    const outputs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: nOut }, () => this.fresh(opType));
    const node: Node = {
      opType,
      inputs,
      outputs,
      attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])) as Record<string, Attr>,
      name: opts.name ?? `${outputs[0]}:${opType}`,
      domain: '',
    };
    const ins = inputs.map((i) => (i === '' ? undefined : this.graph.info(i)));
    const infos = inferOutputs(node, ins, inputs.map((i) => this.graph.initializers.get(i)));
    outputs.forEach((o, k) => {
      if (o !== '') this.declare({ name: o, dtype: infos[k]?.dtype ?? 'float32', shape: infos[k]?.shape });
    });
    this.graph.nodes.push(node);
    return outputs;
  }

  /**
   * onnxruntime's CPU kernels (and the wasm build's) run X op s, s a single value, 5-25x slower when one of
   * X's dimensions is 1 (a 1x1 convolution's [O, I, 1, 1] weight, a depthwise one's [C, 1, 3, 3]: short
   * broadcast spans) than when s has X's rank; without such a dimension the scalar is the faster (BENCHMARKS.md).
   * So there s is given X's rank: a constant as its own reshaped copy, a computed value through one Reshape per
   * value and rank. (A scalar constant that no other node reads is left behind: ir.ts dropUnusedConstants.)
   */
  private rankMatchedScalars(inputs: string[]): string[] {
    const shapes = inputs.map((i) => this.graph.values.get(i)?.shape);
    const rank = Math.max(...shapes.map((s) => s?.length ?? 0));
    const wide = shapes.find((s) => s?.length === rank);
    if (rank < 2 || !wide || !wide.includes(1)) return inputs;
    return inputs.map((v, k) => {
      const s = shapes[k];
      if (!s || s.length >= rank || !s.every((d) => d === 1)) return v;
      const ones = Array<number>(rank).fill(1);
      const t = this.graph.initializers.get(v);
      if (t) return this.constant(Array.from(t.data as ArrayLike<number | bigint>, Number), t.dtype, ones);
      const key = `${v}@${rank}`;
      let r = this.reshaped.get(key);
      if (!r) this.reshaped.set(key, (r = this.op1('Reshape', [v, this.constant(ones, 'int64')])));
      return r;
    });
  }

  op1(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, opts: OpOptions = {}): string {
    return this.op(opType, inputs, attrs, opts)[0];
  }

  /**
   * Rename a value produced by a node of this graph (not an input, initializer or output) everywhere it
   * appears. Returns false, changing nothing, where that is not possible.
   */
  rename(from: string, to: string): boolean {
    const g = this.graph;
    const v = g.values.get(from);
    if (!v || g.values.has(to) || g.initializers.has(from)) return false;
    if (g.inputs.some((i) => i.name === from) || g.outputs.some((o) => o.name === from)) return false;
    if (!g.nodes.some((n) => n.outputs.includes(from))) return false;
    for (const n of g.nodes) {
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
      n.outputs = n.outputs.map((o) => (o === from ? to : o));
    }
    g.values.delete(from);
    g.values.set(to, { ...v, name: to });
    return true;
  }

  customGradient(output: string, inputs: string[], grad: CustomGrad): void {
    const node = this.graph.nodes.at(-1);
    if (!node || node.outputs.length !== 1 || node.outputs[0] !== output) throw new Error(`customGradient: '${output}' is not the only output of the last node emitted`);
    this.customGradients.set(node, { inputs, grad });
  }

  /** Declare an existing value as a graph output. */
  output(name: string): string {
    const v = this.graph.info(name);
    this.graph.outputs.push({ ...v });
    return name;
  }

  /** Set a value's type outright (outputs of control-flow ops, whose types follow their bodies). */
  setInfo(name: string, dtype: DType, shape: Dim[] | undefined): void {
    const v = this.graph.info(name);
    v.dtype = dtype;
    v.shape = shape ? [...shape] : undefined;
  }

  /** Record a value's shape where the builder could not infer it. */
  refine(name: string, shape: Dim[] | undefined): void {
    const v = this.graph.info(name);
    if (!v.shape && shape) v.shape = [...shape];
  }

  info(name: string): ValueInfo {
    return this.graph.info(name);
  }

  shape(name: string): Dim[] {
    const s = this.graph.info(name).shape;
    if (!s) throw new Error(`graph '${this.graph.name}': shape of '${name}' is not known`);
    return s;
  }

  dtype(name: string): DType {
    return this.graph.info(name).dtype;
  }
}
