import type { GraphBuilder } from '../graph/builder.js';
import { castTo } from '../ops/shapes.js';

export interface LossValues {
  logits: string;
  /** int64 class indices [N]. */
  labels: string;
  /** Names for the outputs; default fresh names. */
  lossName?: string;
  correctName?: string;
}

/** nn.CrossEntropyLoss (mean over the batch) of the logits, and the number of correct argmax predictions. */
export function emitLossAndCorrect(b: GraphBuilder, v: LossValues): { loss: string; correct: string } {
  const [loss] = b.op('SoftmaxCrossEntropyLoss', [v.logits, v.labels], { reduction: 'mean' }, { outputs: [v.lossName ?? b.fresh('loss'), b.fresh('log_prob')] });
  const pred = b.op1('ArgMax', [v.logits], { axis: 1, keepdims: 0 });
  const hits = castTo(b, b.op1('Equal', [pred, v.labels]), 'int64');
  const correct = b.op1('ReduceSum', [hits], { keepdims: 0 }, v.correctName ? { outputs: [v.correctName] } : {});
  return { loss, correct };
}
