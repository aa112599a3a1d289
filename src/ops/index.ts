import type { Node, ValueInfo } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import { conv } from './conv.js';
import { dropout } from './dropout.js';
import { elementwise, nondifferentiable } from './elementwise.js';
import { indexing } from './indexing.js';
import { linalg } from './linalg.js';
import { norm } from './norm.js';
import { pool } from './pool.js';
import { reduce } from './reduce.js';
import { shapeOps } from './shape_ops.js';
import { softmax } from './softmax.js';
import type { OpRule, OutInfo, RuleTable } from './types.js';

/** The op table: every op onnxtrain emits, with its shape inference and gradient rule side by side. */
export const RULES: RuleTable = {
  ...elementwise,
  ...nondifferentiable,
  ...linalg,
  ...softmax,
  ...reduce,
  ...shapeOps,
  ...indexing,
  ...conv,
  ...pool,
  ...norm,
  ...dropout,
};

export function ruleFor(opType: string): OpRule | undefined {
  return RULES[opType];
}

/** Output types for a new node; unknown ops or shapes give the first input's dtype and no shape. */
export function inferOutputs(node: Node, ins: (ValueInfo | undefined)[], consts: (Tensor | undefined)[]): (OutInfo | undefined)[] {
  const rule = RULES[node.opType];
  if (rule?.infer) {
    try {
      return rule.infer(ins, node, consts);
    } catch (e) {
      throw new Error(`shape inference for ${node.opType} '${node.name}': ${(e as Error).message}`);
    }
  }
  const dtype = ins[0]?.dtype ?? 'float32';
  return node.outputs.map(() => ({ dtype }));
}

export type { CustomGrad, Emitter, GradContext, OpRule, OutInfo } from './types.js';
