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
  /** Download a missing dataset. Default true. */
  download?: boolean;
  /** Keep only these classes, relabelled 0..k-1 in the order given (before the limit applies). Default: all. */
  classes?: number[];
  /** First N training images (and N/6 test images) only; the validation size shrinks in proportion. */
  limit?: number;
  log?: (line: string) => void;
}

const first = (s: RawSplit, n: number): RawSplit => (n >= s.n ? s : subsetRawSplit(s, Int32Array.from({ length: n }, (_, i) => i)));

export async function loadRaw(dataset: DatasetInfo, s: Pick<DataSettings, 'dataDir' | 'log' | 'download'>): Promise<RawDataset> {
  return dataset.name === 'cifar10'
    ? loadCifar10({ dataDir: s.dataDir, log: s.log, download: s.download })
    : loadFashionMnist({ dataDir: s.dataDir, log: s.log, download: s.download });
}

/** Throws unless `classes` names distinct classes of the dataset, at least two. */
export function checkClasses(classes: number[], dataset: DatasetInfo): void {
  const k = dataset.classNames.length;
  if (classes.length < 2 || new Set(classes).size !== classes.length || !classes.every((c) => Number.isInteger(c) && c >= 0 && c < k)) {
    throw new Error(`--classes must list at least two distinct class indices in 0..${k - 1} (e.g. 0,1,2,3,4), got ${classes.join(',')}`);
  }
}

/** The images of `split` whose label is in `classes`, relabelled by position in `classes`. */
export function selectClasses(split: RawSplit, classes: number[]): RawSplit {
  const map = new Int32Array(256).fill(-1);
  classes.forEach((c, i) => (map[c] = i));
  const keep: number[] = [];
  for (let i = 0; i < split.n; i++) if (map[split.labels[i]] >= 0) keep.push(i);
  const sub = subsetRawSplit(split, keep);
  for (let i = 0; i < sub.n; i++) sub.labels[i] = map[sub.labels[i]];
  return sub;
}

/** Load, subset, split (seeded) and normalise a dataset as the reference notebook does. */
export async function prepareData(dataset: DatasetInfo, s: DataSettings): Promise<PreparedData> {
  let { train, test } = await loadRaw(dataset, s);
  if (s.classes) {
    checkClasses(s.classes, dataset);
    train = selectClasses(train, s.classes);
    test = selectClasses(test, s.classes);
  }
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
