import type { OptimizerKind, OptimizerSettings } from './types.js';

export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['adam', 'adamw', 'sgd', 'rmsprop'];

/** The reference notebook's learning rate (torch.optim's default for Adam). */
export const DEFAULT_LR = 1e-3;

const BASE: Omit<OptimizerSettings, 'kind'> = {
  lr: DEFAULT_LR,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0,
  momentum: 0,
  nesterov: false,
  dampening: 0,
  alpha: 0.99,
  centered: false,
};

/** Where a kind's torch.optim default differs from BASE. */
const PER_KIND: Record<OptimizerKind, Partial<OptimizerSettings>> = {
  adam: {},
  adamw: { weightDecay: 0.01 },
  sgd: {},
  rmsprop: { lr: 1e-2 },
};

/** Complete settings for `kind`: torch.optim's defaults (see OptimizerSettings), then `overrides`. */
export function defaultOptimizerSettings(
  kind: OptimizerKind,
  overrides: Partial<Omit<OptimizerSettings, 'kind'>> = {},
): OptimizerSettings {
  if (!OPTIMIZER_KINDS.includes(kind)) {
    throw new Error(`unknown optimizer '${String(kind)}': use one of ${OPTIMIZER_KINDS.join(', ')}`);
  }
  for (const key of Object.keys(overrides)) {
    if (!(key in BASE)) throw new Error(`unknown optimizer setting '${key}': use one of ${Object.keys(BASE).join(', ')}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const s: OptimizerSettings = { kind, ...BASE, ...PER_KIND[kind], ...defined };
  s.betas = [...s.betas];
  validateOptimizerSettings(s);
  return s;
}

/** Throws on settings torch.optim would reject, naming the setting and the allowed range. */
export function validateOptimizerSettings(s: OptimizerSettings): void {
  const bad = (what: string, fix: string): never => {
    throw new Error(`optimizer '${s.kind}': ${what}: ${fix}`);
  };
  if (!OPTIMIZER_KINDS.includes(s.kind)) bad(`unknown kind '${String(s.kind)}'`, `use one of ${OPTIMIZER_KINDS.join(', ')}`);
  const nonNegative = (name: keyof OptimizerSettings, v: number): void => {
    if (!Number.isFinite(v) || v < 0) bad(`${name} = ${v}`, 'use a finite number >= 0');
  };
  nonNegative('lr', s.lr);
  nonNegative('eps', s.eps);
  nonNegative('weightDecay', s.weightDecay);
  nonNegative('momentum', s.momentum);
  nonNegative('alpha', s.alpha);
  if (!Array.isArray(s.betas) || s.betas.length !== 2) bad(`betas = ${JSON.stringify(s.betas)}`, 'give two numbers [beta1, beta2]');
  s.betas.forEach((beta, i) => {
    if (!(beta >= 0 && beta < 1)) bad(`betas[${i}] = ${beta}`, 'use a number in [0, 1)');
  });
  if (!Number.isFinite(s.dampening)) bad(`dampening = ${s.dampening}`, 'use a finite number');
  if (s.nesterov && (s.momentum <= 0 || s.dampening !== 0)) {
    bad('nesterov needs momentum > 0 and dampening 0', `got momentum ${s.momentum}, dampening ${s.dampening}`);
  }
}

/**
 * The optimizer state slots per parameter, in order, with PyTorch's state names:
 * adam/adamw: exp_avg, exp_avg_sq; sgd: momentum_buffer when momentum != 0;
 * rmsprop: square_avg, then momentum_buffer when momentum > 0, then grad_avg when centered.
 * Every slot starts as zeros of the parameter's shape.
 */
export function stateSlots(s: OptimizerSettings): string[] {
  switch (s.kind) {
    case 'adam':
    case 'adamw':
      return ['exp_avg', 'exp_avg_sq'];
    case 'sgd':
      return s.momentum !== 0 ? ['momentum_buffer'] : [];
    case 'rmsprop':
      return ['square_avg', ...(s.momentum > 0 ? ['momentum_buffer'] : []), ...(s.centered ? ['grad_avg'] : [])];
  }
}
