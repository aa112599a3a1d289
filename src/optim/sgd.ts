import type { GraphBuilder } from '../graph/builder.js';
import { l2, scale, type ParamUpdater } from './ops.js';
import type { OptimizerSettings } from './types.js';

/**
 * SGD (torch.optim 1.13): g = g + wd p; with momentum, buf = g on the first step (PyTorch clones the
 * gradient into a new buffer) and buf = momentum buf + (1 - dampening) g after; nesterov: g = g +
 * momentum buf, else g = buf; p = p - lr g.
 * The first step is exact without a per-element Where: two scalars chosen once on step == 0,
 *   mu = step == 0 ? 0 : momentum,   k = step == 0 ? 1 : 1 - dampening,   buf = mu buf + k g,
 * give buf = g whenever the incoming buffer is finite (checkpoints start it at zeros).
 */
export function sgd(b: GraphBuilder, s: OptimizerSettings, lr: string, step: string): ParamUpdater {
  let mu = '';
  let k = '';
  if (s.momentum !== 0) {
    const first = b.op1('Equal', [step, b.constant(0, 'int64')]);
    mu = b.op1('Where', [first, b.constant(0), b.constant(s.momentum)]);
    if (s.dampening !== 0) k = b.op1('Where', [first, b.constant(1), b.constant(1 - s.dampening)]);
  }

  return ({ param, grad, state }, out) => {
    const g = l2(b, grad, param, s.weightDecay);
    let direction = g;
    const updatedState: Record<string, string> = {};
    if (s.momentum !== 0) {
      const old = state.momentum_buffer;
      const fresh = k ? b.op1('Mul', [g, k]) : g;
      const buf = b.op1('Add', [b.op1('Mul', [old, mu]), fresh], {}, out(old));
      updatedState.momentum_buffer = buf;
      direction = s.nesterov ? b.op1('Add', [g, scale(b, buf, s.momentum)]) : buf;
    }
    return {
      param: b.op1('Sub', [param, b.op1('Mul', [direction, lr])], {}, out(param)),
      state: updatedState,
    };
  };
}
