import type { Node } from '../graph/ir.js';
import { maskedBy, same } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';

/** A constant input's first element, undefined when the input is absent ('' or missing) or computed. */
function constInput(b: Emitter, n: Node, i: number): number | undefined {
  const name = n.inputs[i];
  const t = name ? b.graph.initializers.get(name) : undefined;
  return t ? Number(t.data[0]) : undefined;
}

/**
 * The node's mask output. A Dropout node in training mode without one gets it added: recomputing the
 * mask elsewhere would draw different random numbers.
 */
function maskOf(b: Emitter, n: Node): string {
  if (n.outputs[1]) return n.outputs[1];
  const name = b.fresh(`${n.outputs[0]}.mask`);
  n.outputs[1] = name;
  b.graph.values.set(name, { name, dtype: 'bool', shape: b.info(n.inputs[0]).shape });
  return name;
}

export const dropout: RuleTable = {
  // Training: Y = X mask / (1 - ratio)  =>  dX = dY mask / (1 - ratio); inference: Y = X  =>  dX = dY.
  // Inputs (opset 13): data, ratio (default 0.5), training_mode (default false); outputs: output, mask.
  Dropout: {
    infer: (ins, n) => {
      const y = same(ins)[0];
      return n.outputs.map((_, k) => (k === 0 ? y : { dtype: 'bool' as const, shape: y.shape }));
    },
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const dt = b.dtype(x);
      const hasMode = Boolean(n.inputs[2]);
      const mode = hasMode ? constInput(b, n, 2) : 0;
      if (mode === 0) return [dY];
      const ratio = n.inputs[1] ? constInput(b, n, 1) : 0.5;
      if (ratio !== undefined && !(ratio >= 0 && ratio < 1)) throw new Error(`Dropout gradient: ratio must be in [0, 1), got ${ratio} (node '${n.name}')`);
      let scale = ratio !== undefined
        ? b.constant(1 / (1 - ratio), dt)
        : b.op1('Reciprocal', [b.op1('Sub', [b.constant(1, dt), n.inputs[1]])]);
      // A training_mode computed at run time: the scale applies only when it is true.
      if (mode === undefined) scale = b.op1('Where', [n.inputs[2], scale, b.constant(1, dt)]);
      const mask = maskOf(b, n);
      return [maskedBy(b, b.op1('Mul', [dY!, scale]), mask)];
    },
  },
};
