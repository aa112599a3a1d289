import { Rng, type RngState } from '../data/rng.js';
import type { EpochMetrics } from '../report/metrics.js';

/** Inside an epoch that a stop interrupted: batches done and the running sums so far. */
export interface EpochPosition {
  batchesDone: number;
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
}

/** Where training stands; saved in every checkpoint's metadata so that a resumed fit continues exactly. */
export interface FitState {
  /** Completed epochs. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  position: EpochPosition | null;
  /** The shuffling, dropout and augmentation streams, each where the next epoch or chunk continues. */
  rng: { shuffle: RngState; noise: RngState; augment?: RngState };
  history: EpochMetrics[];
  /** The lowest validation loss so far and its epoch. */
  best: { valLoss: number; epoch: number } | null;
  /** Epochs since the validation loss last improved. */
  stale: number;
}

export function initialFitState(seed: number): FitState {
  return {
    epoch: 0, step: 0, position: null,
    rng: { shuffle: Rng.fromSeed(seed, 'shuffle').getState(), noise: Rng.fromSeed(seed, 'dropout').getState(), augment: Rng.fromSeed(seed, 'augment').getState() },
    history: [], best: null, stale: 0,
  };
}

/** The state after epoch `m`: history, best and stale updated; the streams as they stand. */
export function afterEpoch(s: FitState, m: EpochMetrics, step: number, rng: FitState['rng']): FitState {
  // Without validation (NaN) every epoch counts as the best: best = last.
  const improved = !s.best || Number.isNaN(m.valLoss) || m.valLoss < s.best.valLoss;
  return {
    ...s, epoch: s.epoch + 1, step, position: null, rng,
    history: [...s.history, m],
    best: improved ? { valLoss: m.valLoss, epoch: m.epoch } : s.best,
    stale: improved ? 0 : s.stale + 1,
  };
}
