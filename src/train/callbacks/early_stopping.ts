import type { Tensor } from '../../graph/tensor.js';
import type { Callback } from './callback.js';

interface Snapshot {
  weights: Map<string, Tensor>;
  optimizerState: Map<string, Tensor>;
  step: number;
}

export interface EarlyStoppingSettings {
  /** Stop after this many epochs without a lower validation loss. Required, >= 1. */
  patience: number;
  /**
   * The best epoch's weights when they are not in memory (a resumed fit whose best epoch came before the
   * resume), e.g. read from best.safetensors. Default: none (the weights then stay as they are).
   */
  loadBest?: () => Promise<Snapshot>;
}

/** Stop when the validation loss has not improved for `patience` epochs; then restore the best weights. */
export function earlyStopping(s: EarlyStoppingSettings): Callback {
  if (!(Number.isInteger(s.patience) && s.patience >= 1)) throw new Error(`earlyStopping: patience must be an integer >= 1, got ${s.patience}`);
  let best: Snapshot | null = null;
  let stoppedHere = false;
  return {
    onEpochEnd: (ctx) => {
      const { stale, best: b } = ctx.state;
      if (stale === 0) best = { weights: ctx.program.weights(), optimizerState: ctx.program.optimizerState(), step: ctx.program.step };
      if (stale < s.patience || !b) return;
      ctx.log(`Early stopping: validation loss has not improved for ${stale} epochs; restoring the weights of epoch ${b.epoch}`);
      stoppedHere = true;
      ctx.stop('early-stopping');
    },
    onTrainEnd: async (ctx) => {
      if (!stoppedHere) return;
      const snap = best ?? (await s.loadBest?.());
      if (snap) ctx.program.load(snap.weights, snap.optimizerState, snap.step);
    },
  };
}
