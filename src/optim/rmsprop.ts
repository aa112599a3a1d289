import type { GraphBuilder } from '../graph/builder.js';
import { ema, l2, scale, type ParamUpdater } from './ops.js';
import type { OptimizerSettings } from './types.js';

/**
 * RMSprop (torch.optim 1.13): g = g + wd p; sq = alpha sq + (1 - alpha) g^2;
 * centered: ga = alpha ga + (1 - alpha) g, avg = sqrt(sq - ga^2) + eps, else avg = sqrt(sq) + eps;
 * momentum > 0: buf = momentum buf + g / avg, p = p - lr buf; else p = p - lr g / avg.
 * PyTorch starts every slot at zeros and does not use the step count.
 */
export function rmsprop(b: GraphBuilder, s: OptimizerSettings, lr: string): ParamUpdater {
  const eps = b.constant(s.eps);

  return ({ param, grad, state }, out) => {
    const g = l2(b, grad, param, s.weightDecay);
    const sq = ema(b, state.square_avg, s.alpha, b.op1('Mul', [g, g]), out(state.square_avg));
    const updatedState: Record<string, string> = { square_avg: sq };
    let variance = sq;
    if (s.centered) {
      const ga = ema(b, state.grad_avg, s.alpha, g, out(state.grad_avg));
      updatedState.grad_avg = ga;
      variance = b.op1('Sub', [sq, b.op1('Mul', [ga, ga])]);
    }
    const avg = b.op1('Add', [b.op1('Sqrt', [variance]), eps]);
    let direction = b.op1('Div', [g, avg]);
    if (s.momentum > 0) {
      const old = state.momentum_buffer;
      direction = b.op1('Add', [scale(b, old, s.momentum), direction], {}, out(old));
      updatedState.momentum_buffer = direction;
    }
    return {
      param: b.op1('Sub', [param, b.op1('Mul', [direction, lr])], {}, out(param)),
      state: updatedState,
    };
  };
}
