/** A dataset prepared as the reference notebook does: loaded, optionally subset, split (seeded) and normalised. */
import { datasetInfo, type LoadDatasetSettings } from './datasets.js';
import { subsetRawSplit, type RawSplit } from './dataset.js';
import { normalizeSplit, type NormalizedSplit } from './normalize.js';
import { trainValSplit } from './split.js';
import type { SplitView } from './view.js';
import type { DatasetInfo } from './datasets.js';

export interface PreparedData {
  info: DatasetInfo;
  /** The training part of the 60k (or 50k) training images; a view of `all`. */
  train: SplitView;
  /** The validation part, from the same images. */
  val: SplitView;
  test: NormalizedSplit;
  /** The whole training set, normalised; train and val select from it. */
  all: NormalizedSplit;
  /** The test images as loaded (uint8), for sample pictures. */
  rawTest: RawSplit;
  /** How the validation size was chosen, in words. */
  validation: string;
}

export interface PrepareSettings extends LoadDatasetSettings {
  /** Seeds the train/validation split. Default 0. */
  seed?: number;
  /**
   * Validation images taken from the training images. Default: the reference share, 10000 of the full
   * training set, scaled to the images used (a --limit or --classes subset): see validationRule.
   */
  valSize?: number;
  /** Keep only these classes, relabelled 0..k-1 in the order given (before the limit applies). Default: all. */
  classes?: number[];
  /** First N training images (and N/6 test images) only; the validation size shrinks in proportion. */
  limit?: number;
}

/** Validation images taken from the training images: the reference 50k/10k split of Fashion-MNIST. */
export const DEFAULT_VAL_SIZE = 10000;

const first = (s: RawSplit, n: number): RawSplit => (n >= s.n ? s : subsetRawSplit(s, Int32Array.from({ length: n }, (_, i) => i)));

/** Throws unless `classes` names distinct classes of the dataset, at least two. */
export function checkClasses(classes: number[], dataset: Pick<DatasetInfo, 'classNames'>): void {
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

/**
 * The validation size: `given` when given (it must leave images to train on), else the reference share,
 * 10000 of the official training set (`full` images), of the `used` images.
 */
export function validationRule(used: number, given: number | undefined, full: number): { size: number; why: string } {
  if (given !== undefined) {
    if (!(Number.isInteger(given) && given >= 0)) throw new Error(`--val-size must be a non-negative integer, got ${given}`);
    if (given >= used) throw new Error(`--val-size ${given} leaves no training images of the ${used} used: give a smaller --val-size (or none: ${shareText(full)} by default)`);
    return { size: given, why: `validation: ${given} images (--val-size)` };
  }
  const size = Math.min(Math.round((DEFAULT_VAL_SIZE * used) / full), used - 1);
  return { size, why: `validation: ${size} of the ${used} images (${shareText(full)}; --val-size sets it)` };
}

const shareText = (full: number) => (full === 6 * DEFAULT_VAL_SIZE ? 'one in 6, as the reference 10k of 60k' : `${DEFAULT_VAL_SIZE} of every ${full}`);

/** Load a built-in dataset, subset, split (seeded) and normalise it as the reference notebook does. */
export async function prepareData(name: string, s: PrepareSettings = {}): Promise<PreparedData> {
  const info = datasetInfo(name);
  let { train, test } = await info.load(s);
  if (s.classes) {
    checkClasses(s.classes, info);
    train = selectClasses(train, s.classes);
    test = selectClasses(test, s.classes);
  }
  if (s.limit !== undefined) {
    if (!(Number.isInteger(s.limit) && s.limit >= 2)) throw new Error(`--limit must be an integer >= 2, got ${s.limit}`);
    train = first(train, s.limit);
    test = first(test, Math.max(1, Math.ceil(s.limit / 6)));
  }
  const rule = validationRule(train.n, s.valSize, info.trainImages);
  const valSize = rule.size;
  const split = trainValSplit(train.n, { seed: s.seed ?? 0, valSize });
  const all = normalizeSplit(train, info.normalization);
  return { info, train: { split: all, indices: split.train }, val: { split: all, indices: split.val }, test: normalizeSplit(test, info.normalization), all, rawTest: test, validation: rule.why };
}

/** The reference Fashion-MNIST: 50k train / 10k validation (seeded) / the official 10k test images. */
export const fashionMnist = (s: PrepareSettings = {}) => prepareData('fashion-mnist', s);
/** CIFAR-10: 40k train / 10k validation (seeded) / the official 10k test images. */
export const cifar10 = (s: PrepareSettings = {}) => prepareData('cifar10', s);
