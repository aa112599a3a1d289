/** Seeded train/validation split of a training set, as index arrays. */
import { Rng } from './rng.js';

export interface SplitSettings {
  /** Seed of the split; the same seed and size always give the same split. */
  seed: number;
  /** Number of validation examples. Default 10000 (the reference 50k/10k split of 60k), unless valFraction is given. */
  valSize?: number;
  /** Fraction of examples for validation, in [0, 1); used instead of valSize. */
  valFraction?: number;
}

export interface IndexSplit {
  /** Training indices, ascending. */
  train: Int32Array;
  /** Validation indices, ascending. */
  val: Int32Array;
}

/**
 * Membership comes from a seeded permutation (as torch.utils.data.random_split: the first n - valSize
 * permuted indices train, the rest validate); each part is then sorted so reads stay sequential.
 */
export function trainValSplit(n: number, settings: SplitSettings): IndexSplit {
  if (settings.valSize !== undefined && settings.valFraction !== undefined) {
    throw new Error('trainValSplit: give valSize or valFraction, not both');
  }
  const f = settings.valFraction;
  if (f !== undefined && !(f >= 0 && f < 1)) throw new Error(`validation fraction ${f} is outside [0, 1): pass e.g. --val-split 0.1667`);
  const valSize = f !== undefined ? Math.round(n * f) : settings.valSize ?? 10000;
  if (!Number.isInteger(valSize) || valSize < 0 || valSize >= n) {
    throw new Error(`validation size ${valSize} does not fit ${n} examples: choose 0 <= size < ${n}`);
  }
  const perm = Rng.fromSeed(settings.seed, 'train-val-split').permutation(n);
  const train = perm.slice(0, n - valSize).sort();
  const val = perm.slice(n - valSize).sort();
  return { train, val };
}
