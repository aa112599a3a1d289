/** Datasets for fit: the built-in ones, prepared as the reference notebook does, or images of your own. */
import { normalizeSplit, type Normalization, type NormalizedSplit } from './data/normalize.js';
import { DEFAULT_NORMALIZATION } from './data/normalize.js';
import { checkRawSplit } from './data/dataset.js';

export { cifar10, fashionMnist, prepareData, type PreparedData, type PrepareSettings } from './data/prepare.js';
export { DATASETS, DATASET_NAMES, loadDataset, type DatasetInfo, type DatasetName } from './data/datasets.js';
export type { Samples, SplitView } from './data/view.js';
export type { NormalizedSplit } from './data/normalize.js';

export interface ArrayData {
  /** uint8 pixels, image-major then channel, row, column: n * C * H * W bytes. */
  images: Uint8Array;
  /** One class index per image. */
  labels: Uint8Array;
  /** [C, H, W]. */
  shape: [number, number, number];
  /** Default mean 0.5, std 0.5 (pixels mapped to [-1, 1]). */
  normalization?: Normalization;
}

/** Images of your own as a split that fit, evaluate and predict take. */
export function fromArrays(d: ArrayData): NormalizedSplit {
  const [channels, height, width] = d.shape;
  const raw = { images: d.images, labels: d.labels, n: d.labels.length, channels, height, width };
  checkRawSplit(raw, 'fromArrays', 256, 'give n * C * H * W pixel bytes and one label per image');
  return normalizeSplit(raw, d.normalization ?? DEFAULT_NORMALIZATION);
}
