import { loadCifar10 } from '../data/cifar10.js';
import { subsetRawSplit, type RawDataset, type RawSplit } from '../data/dataset.js';
import { loadFashionMnist } from '../data/fashion_mnist.js';
import { normalizeSplit, type NormalizedSplit } from '../data/normalize.js';
import { trainValSplit } from '../data/split.js';
import type { DatasetInfo } from '../models/datasets.js';

export interface PreparedData {
  /** The whole training set, normalised; trainIdx and valIdx select from it. */
  train: NormalizedSplit;
  trainIdx: Int32Array;
  valIdx: Int32Array;
  test: NormalizedSplit;
  /** The test images as loaded (uint8), for sample pictures. */
  rawTest: RawSplit;
}

export interface DataSettings {
  seed: number;
  valSize: number;
  dataDir?: string;
  /** First N training images (and N/6 test images) only; the validation size shrinks in proportion. */
  limit?: number;
  log?: (line: string) => void;
}

const first = (s: RawSplit, n: number): RawSplit => (n >= s.n ? s : subsetRawSplit(s, Int32Array.from({ length: n }, (_, i) => i)));

export async function loadRaw(dataset: DatasetInfo, s: Pick<DataSettings, 'dataDir' | 'log'>): Promise<RawDataset> {
  return dataset.name === 'cifar10'
    ? loadCifar10({ dataDir: s.dataDir, log: s.log })
    : loadFashionMnist({ dataDir: s.dataDir, log: s.log });
}

/** Load, subset, split (seeded) and normalise a dataset as the reference notebook does. */
export async function prepareData(dataset: DatasetInfo, s: DataSettings): Promise<PreparedData> {
  let { train, test } = await loadRaw(dataset, s);
  let valSize = s.valSize;
  if (s.limit !== undefined) {
    if (!(Number.isInteger(s.limit) && s.limit >= 2)) throw new Error(`--limit must be an integer >= 2, got ${s.limit}`);
    valSize = Math.min(Math.round((valSize * s.limit) / train.n), s.limit - 1);
    train = first(train, s.limit);
    test = first(test, Math.max(1, Math.ceil(s.limit / 6)));
  }
  const split = trainValSplit(train.n, { seed: s.seed, valSize });
  const norm = dataset.normalization;
  return { train: normalizeSplit(train, norm), trainIdx: split.train, valIdx: split.val, test: normalizeSplit(test, norm), rawTest: test };
}
