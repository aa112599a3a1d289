import type { GraphBuilder } from '../graph/builder.js';
import { castTo } from '../ops/shapes.js';
import { ema, l2, pow, stepCount, type ParamUpdater } from './ops.js';
import type { OptimizerSettings } from './types.js';

/**
 * Adam and AdamW (torch.optim 1.13, amsgrad off). With t = step + 1:
 *   AdamW: p = p (1 - lr wd)            Adam: g = g + wd p
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p = p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps),  bc1 = 1 - b1^t, bc2 = 1 - b2^t
 * The last line is applied as p - (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2)) (multiply the
 * fraction through by sqrt(bc2)), which moves a per-element division into the two scalars. The scalars
 * are computed in float64, as PyTorch does in Python floats, and cast to float32 once.
 */
export function adam(b: GraphBuilder, s: OptimizerSettings, lr: string, step: string): ParamUpdater {
  const [beta1, beta2] = s.betas;
  const t = stepCount(b, step);
  const one = b.constant(1, 'float64');
  const bc1 = b.op1('Sub', [one, pow(b, beta1, t)]);
  const bc2Sqrt = b.op1('Sqrt', [b.op1('Sub', [one, pow(b, beta2, t)])]);
  const lr64 = castTo(b, lr, 'float64');
  const stepSize = castTo(b, b.op1('Div', [b.op1('Mul', [lr64, bc2Sqrt]), bc1]), 'float32');
  const epsHat = castTo(b, b.op1('Mul', [b.constant(s.eps, 'float64'), bc2Sqrt]), 'float32');
  const decoupled = s.kind === 'adamw' && s.weightDecay !== 0;
  const decay = decoupled
    ? castTo(b, b.op1('Sub', [one, b.op1('Mul', [lr64, b.constant(s.weightDecay, 'float64')])]), 'float32')
    : '';

  return ({ param, grad, state }, out) => {
    const g = s.kind === 'adamw' ? grad : l2(b, grad, param, s.weightDecay);
    const p = decoupled ? b.op1('Mul', [param, decay]) : param;
    const m = ema(b, state.exp_avg, beta1, g, out(state.exp_avg));
    const v = ema(b, state.exp_avg_sq, beta2, b.op1('Mul', [g, g]), out(state.exp_avg_sq));
    const denom = b.op1('Add', [b.op1('Sqrt', [v]), epsHat]);
    const delta = b.op1('Mul', [b.op1('Div', [m, denom]), stepSize]);
    return {
      param: b.op1('Sub', [p, delta], {}, out(param)),
      state: { exp_avg: m, exp_avg_sq: v },
    };
  };
}
