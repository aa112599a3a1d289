import type { AttrInput, Dim, Graph, Node, ValueInfo } from '../graph/ir.js';
import type { DType, Tensor } from '../graph/tensor.js';

/** An inferred output: dtype, and shape where it can be known. */
export type OutInfo = Pick<ValueInfo, 'dtype' | 'shape'>;

/**
 * What a rule needs of the graph builder: emit ops and constants, read value types. GraphBuilder
 * satisfies it structurally, so the op table never imports the builder (which imports the table).
 */
export interface Emitter {
  /** Rules read constant inputs (axes, ratios) from initializers and declare outputs they add to a node. */
  readonly graph: Pick<Graph, 'initializers' | 'values'>;
  /** A new deterministic name under the current scope. */
  fresh(hint: string): string;
  /** A small constant, shared by content; a scalar unless dims say otherwise. */
  constant(values: number | number[], dtype?: DType, dims?: number[]): string;
  /** A node; its outputs get fresh names (`outputs` of them, default one) and inferred types. */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrInput>, opts?: { outputs?: number }): string[];
  op1(opType: string, inputs: string[], attrs?: Record<string, AttrInput>): string;
  /** Record a value's shape where it could not be inferred. */
  refine(name: string, shape: Dim[] | undefined): void;
  info(name: string): ValueInfo;
  /** A value's shape; throws when it is not known. */
  shape(name: string): Dim[];
  dtype(name: string): DType;
  /**
   * Give `output` (the output of the node just emitted) a gradient rule of its own: autodiff calls `grad`
   * for the gradients of `inputs` instead of differentiating the nodes between them and `output`, which must
   * reach the loss only through `output`.
   */
  customGradient(output: string, inputs: string[], grad: CustomGrad): void;
}

/** A composite's gradient: one gradient per input (null where none is needed), from the output's. */
export type CustomGrad = (ctx: GradContext, dOut: string) => (string | null)[];

export interface GradContext {
  b: Emitter;
  /** needs[i]: input i of the node wants a gradient. Rules may return null for the others. */
  needs: boolean[];
  /** Where the graph will run; default 'portable'. */
  target?: GradTarget;
  /** The forward nodes that read a value (none for a value only the backward reads); absent: unknown. */
  consumers?: (value: string) => readonly Node[];
  /** The forward node that wrote a value; absent: unknown. */
  producer?: (value: string) => Node | undefined;
  /**
   * Values whose gradient a reader's rule has already multiplied by (value > 0), filled as the backward
   * runs: a MaxPool reading a Relu does so at the pooled size (pool.ts), and the Relu's rule then passes
   * its gradient through.
   */
  positiveMasked?: Set<string>;
}

/**
 * 'portable': the graph any onnxruntime runs (the artifacts, webgpu, the page). 'cpu': a graph for
 * onnxruntime's CPU provider alone (GraphSet.graphFor(name, 'cpu')): rules may then emit formulations that
 * are faster there and poor elsewhere, such as many small cache-sized nodes.
 */
export type GradTarget = 'portable' | 'cpu';

/**
 * One entry of the op table: how an op's outputs look (shape inference for the builder) and, beside it,
 * its reverse-mode rule. `grad` receives one gradient per output (null where none flows) and returns
 * one per input (null where none flows or none is needed). Ops without `grad` are not differentiable:
 * the engine fails loudly, naming the op, if a gradient must pass through one.
 */
export interface OpRule {
  /** `consts[i]` is input i's value when it is an initializer (axes, shapes, sizes). */
  infer?: (ins: (ValueInfo | undefined)[], node: Node, consts: (Tensor | undefined)[]) => (OutInfo | undefined)[];
  grad?: (ctx: GradContext, node: Node, dOut: (string | null)[]) => (string | null)[];
}

export type RuleTable = Record<string, OpRule>;
