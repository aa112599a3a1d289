import type { DType, Tensor } from './tensor.js';

/** A dimension: a size, or a symbol such as 'N' for the dynamic batch. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** undefined when the shape is not known. */
  shape?: Dim[];
}

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: Tensor }
  | { kind: 'graph'; value: Graph };

/** What builders may pass: a bare number is an int, a bare number[] ints; floats need float(). */
export type AttrInput = number | number[] | string | Attr;

export const float = (value: number): Attr => ({ kind: 'float', value });
export const floats = (value: number[]): Attr => ({ kind: 'floats', value });
export const tensorAttr = (value: Tensor): Attr => ({ kind: 'tensor', value });
export const graphAttr = (value: Graph): Attr => ({ kind: 'graph', value });

export function toAttr(a: AttrInput): Attr {
  if (typeof a === 'number') {
    if (!Number.isInteger(a)) throw new Error(`attribute ${a} is not an int: wrap floats in float()`);
    return { kind: 'int', value: a };
  }
  if (typeof a === 'string') return { kind: 'string', value: a };
  if (Array.isArray(a)) return { kind: 'ints', value: a };
  return a;
}

export interface Node {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
  name: string;
  domain: string;
}

export class Graph {
  nodes: Node[] = [];
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  initializers = new Map<string, Tensor>();
  /** Known dtype and shape of every value the builder has seen, graph inputs included. */
  values = new Map<string, ValueInfo>();
  /** Operator sets beyond ai.onnx that the nodes use (domain -> version); encodeModel imports them. */
  opsets = new Map<string, number>();

  constructor(public name: string) {}

  info(name: string): ValueInfo {
    const v = this.values.get(name);
    if (!v) throw new Error(`graph '${this.name}': unknown value '${name}'`);
    return v;
  }

  /** The node that produces each value. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) if (o) m.set(o, n);
    return m;
  }
}

export function attrInt(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.kind === 'int' ? a.value : dflt;
}
export function attrFloat(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.kind === 'float' ? a.value : dflt;
}
export function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  return a && a.kind === 'ints' ? a.value : undefined;
}
export function attrString(node: Node, name: string, dflt: string): string {
  const a = node.attrs[name];
  return a && a.kind === 'string' ? a.value : dflt;
}

/** `g` and every graph nested in it (Loop and If bodies), outermost first. */
export function* graphsIn(g: Graph): Generator<Graph> {
  yield g;
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a.kind === 'graph') yield* graphsIn(a.value);
}

/** The nodes of `g` and of every subgraph in it. */
export function nodeCount(g: Graph): number {
  let n = 0;
  for (const h of graphsIn(g)) n += h.nodes.length;
  return n;
}

/** A name GraphBuilder.constant gives (weights and buffers never look like this). */
const isBuilderConstant = (name: string): boolean => /(^|\/)const_/.test(name);

/** Remove the builder's small constants that no node of `g` or of its subgraphs reads (left over by GraphBuilder's rewrites). */
export function dropUnusedConstants(g: Graph): Graph {
  const used = new Set<string>();
  for (const h of graphsIn(g)) {
    for (const o of h.outputs) used.add(o.name);
    for (const n of h.nodes) for (const i of n.inputs) used.add(i);
  }
  for (const h of graphsIn(g)) {
    for (const name of [...h.initializers.keys()]) {
      if (used.has(name) || !isBuilderConstant(name) || h.inputs.some((i) => i.name === name)) continue;
      h.initializers.delete(name);
      h.values.delete(name);
    }
  }
  return g;
}
