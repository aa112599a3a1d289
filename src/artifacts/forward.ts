import type { GraphBuilder } from '../graph/builder.js';
import type { Dim } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import type { ModelDef } from '../models/registry.js';
import { BuildContext, type ValueSource } from '../nn/context.js';

export interface ForwardOptions {
  /** Eval graphs: bake these weights in as initializers. */
  weights?: Map<string, Tensor>;
  frozen?: Set<string>;
  source?: ValueSource;
  /** Name the logits value (default: a fresh name). */
  logitsName?: string;
}

/** Emit the model's forward pass on `x` ([N, C, H, W]); returns the build context and the logits. */
export function emitForward(b: GraphBuilder, def: ModelDef, mode: 'train' | 'eval', x: string, opts: ForwardOptions = {}) {
  const ctx = new BuildContext(b, mode, opts.weights, opts.frozen ?? new Set(), opts.source);
  let logits = b.scope('model', () => def.root.build(ctx, '', x));
  if (opts.logitsName && b.rename(logits, opts.logitsName)) logits = opts.logitsName;
  return { ctx, logits };
}

/** Mean cross-entropy of the logits against int64 labels, and the number of correct argmax predictions. */
export function emitLossAndCorrect(b: GraphBuilder, logits: string, labels: string, lossName?: string, correctName?: string) {
  const [loss] = b.op('SoftmaxCrossEntropyLoss', [logits, labels], { reduction: 'mean' }, { outputs: [lossName ?? b.fresh('loss'), b.fresh('log_prob')] });
  const pred = b.op1('ArgMax', [logits], { axis: 1, keepdims: 0 });
  const hits = b.op1('Cast', [b.op1('Equal', [pred, labels])], { to: 7 });
  const correct = b.op1('ReduceSum', [hits], { keepdims: 0 }, correctName ? { outputs: [correctName] } : {});
  return { loss, correct };
}

export const imageShape = (def: ModelDef, batch: Dim = 'N'): Dim[] => [batch, ...def.dataset.inputShape];

