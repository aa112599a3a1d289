/**
 * Plain float64 reference of torch.optim (PyTorch 1.13, single-tensor path, maximize=False), one line
 * of math per line of code, written from the PyTorch source. Works on one parameter as flat arrays;
 * `step` is the number of updates already applied, so PyTorch's `state['step']` becomes step + 1.
 */
import type { OptimizerSettings } from '../../src/optim/index.js';

export type RefState = Record<string, Float64Array>;

export interface RefResult {
  param: Float64Array;
  state: RefState;
}

export function referenceStep(s: OptimizerSettings, lr: number, step: number, param: Float64Array, grad: Float64Array, state: RefState): RefResult {
  const p = Float64Array.from(param);
  const st: RefState = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, Float64Array.from(v)]));
  for (let i = 0; i < p.length; i++) {
    const e = (slot: string) => ({ get: () => st[slot][i], set: (x: number) => { st[slot][i] = x; } });
    p[i] = elementStep(s, lr, step, p[i], grad[i], e);
  }
  return { param: p, state: st };
}

type Slot = (name: string) => { get(): number; set(x: number): void };

function elementStep(s: OptimizerSettings, lr: number, step: number, p: number, g: number, slot: Slot): number {
  switch (s.kind) {
    case 'adam':
    case 'adamw':
      return adam(s, lr, step + 1, p, g, slot('exp_avg'), slot('exp_avg_sq'));
    case 'sgd':
      return sgd(s, lr, step === 0, p, g, slot('momentum_buffer'));
    case 'rmsprop':
      return rmsprop(s, lr, p, g, slot('square_avg'), slot('grad_avg'), slot('momentum_buffer'));
  }
}

type Cell = ReturnType<Slot>;

function adam(s: OptimizerSettings, lr: number, t: number, p: number, g: number, expAvg: Cell, expAvgSq: Cell): number {
  const [b1, b2] = s.betas;
  if (s.kind === 'adamw') p = p * (1 - lr * s.weightDecay);
  else g = g + s.weightDecay * p;
  const m = b1 * expAvg.get() + (1 - b1) * g;
  const v = b2 * expAvgSq.get() + (1 - b2) * g * g;
  expAvg.set(m);
  expAvgSq.set(v);
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  const stepSize = lr / bc1;
  const denom = Math.sqrt(v) / Math.sqrt(bc2) + s.eps;
  return p - stepSize * (m / denom);
}

function sgd(s: OptimizerSettings, lr: number, first: boolean, p: number, g: number, buf: Cell): number {
  g = g + s.weightDecay * p;
  if (s.momentum !== 0) {
    const b = first ? g : s.momentum * buf.get() + (1 - s.dampening) * g;
    buf.set(b);
    g = s.nesterov ? g + s.momentum * b : b;
  }
  return p - lr * g;
}

function rmsprop(s: OptimizerSettings, lr: number, p: number, g: number, squareAvg: Cell, gradAvg: Cell, buf: Cell): number {
  g = g + s.weightDecay * p;
  const sq = s.alpha * squareAvg.get() + (1 - s.alpha) * g * g;
  squareAvg.set(sq);
  let avg: number;
  if (s.centered) {
    const ga = s.alpha * gradAvg.get() + (1 - s.alpha) * g;
    gradAvg.set(ga);
    avg = Math.sqrt(sq - ga * ga) + s.eps;
  } else {
    avg = Math.sqrt(sq) + s.eps;
  }
  if (s.momentum > 0) {
    const b = s.momentum * buf.get() + g / avg;
    buf.set(b);
    return p - lr * b;
  }
  return p - lr * (g / avg);
}
