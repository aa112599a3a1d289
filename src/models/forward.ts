import type { GraphBuilder } from '../graph/builder.js';
import type { Dim } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import { BuildContext, type ValueSource } from '../nn/context.js';
import type { ModelDef } from './registry.js';

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

export const imageShape = (def: ModelDef, batch: Dim = 'N'): Dim[] => [batch, ...def.dataset.inputShape];
