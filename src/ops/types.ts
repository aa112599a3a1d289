import type { GraphBuilder } from '../graph/builder.js';
import type { Node, ValueInfo } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';

/** An inferred output: dtype, and shape where it can be known. */
export type OutInfo = Pick<ValueInfo, 'dtype' | 'shape'>;

export interface GradContext {
  b: GraphBuilder;
  /** needs[i]: input i of the node wants a gradient. Rules may return null for the others. */
  needs: boolean[];
}

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
