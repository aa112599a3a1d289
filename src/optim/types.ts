/**
 * Optimizer settings, PyTorch 1.13 semantics (torch.optim single-tensor path, maximize=False).
 * Every field documents its default; `defaultOptimizerSettings` fills them in.
 */
export interface OptimizerSettings {
  /** 'adam' | 'adamw' | 'sgd' | 'rmsprop'. Default 'adam'. */
  kind: OptimizerKind;
  /**
   * Learning rate: only the default for the trainer; graphs take it as the `learning_rate` input.
   * Default 1e-3 (RMSprop: 1e-2, as torch.optim.RMSprop; torch.optim.SGD has no default).
   */
  lr: number;
  /** Adam/AdamW betas, each in [0, 1). Default [0.9, 0.999]. */
  betas: [number, number];
  /** Adam/AdamW/RMSprop epsilon. Default 1e-8. */
  eps: number;
  /** L2 penalty added to the gradient (Adam, SGD, RMSprop) or decoupled decay (AdamW). Default 0 (AdamW: 0.01). */
  weightDecay: number;
  /** SGD/RMSprop momentum. Default 0 (the trainer's SGD default is 0.9). */
  momentum: number;
  /** SGD Nesterov momentum; needs momentum > 0 and dampening 0. Default false. */
  nesterov: boolean;
  /** SGD dampening. Default 0. */
  dampening: number;
  /** RMSprop smoothing constant. Default 0.99. */
  alpha: number;
  /** RMSprop centered. Default false. */
  centered: boolean;
}

export type OptimizerKind = 'adam' | 'adamw' | 'sgd' | 'rmsprop';

/** The graph values one optimizer step reads. */
export interface OptimizerInputs {
  /** float32 scalar. */
  learningRate: string;
  /** int64 scalar: number of updates already applied (PyTorch's state['step'] before this update). */
  step: string;
  params: string[];
  grads: string[];
  /** state[slot][i]: slot `slot` of param i, same shape as the param. Slots as `stateSlots(settings)`. */
  state: Record<string, string[]>;
}

export interface OptimizerOutputs {
  params: string[];
  state: Record<string, string[]>;
}
