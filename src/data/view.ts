import type { NormalizedSplit } from './normalize.js';

/** Some images of a split, by index: the training part of a train/validation split, without a copy. */
export interface SplitView {
  split: NormalizedSplit;
  indices: Int32Array;
}

/** What fit and evaluate take: a whole split, or a view of one. */
export type Samples = NormalizedSplit | SplitView;

export function asView(s: Samples): SplitView {
  return 'split' in s ? s : { split: s, indices: Int32Array.from({ length: s.n }, (_, i) => i) };
}
