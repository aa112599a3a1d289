/** The dataset registry: shape, class names, normalization and loader of each supported dataset. */
import { CIFAR10_CLASSES, loadCifar10 } from './cifar10.js';
import type { RawDataset } from './dataset.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion_mnist.js';
import { DEFAULT_NORMALIZATION, type Normalization } from './normalize.js';

export type DatasetName = 'fashion-mnist' | 'cifar10';

export interface DatasetInfo {
  name: DatasetName;
  channels: number;
  height: number;
  width: number;
  classNames: readonly string[];
  normalization: Normalization;
}

export const DATASETS: Record<DatasetName, DatasetInfo> = {
  'fashion-mnist': { name: 'fashion-mnist', channels: 1, height: 28, width: 28, classNames: FASHION_MNIST_CLASSES, normalization: DEFAULT_NORMALIZATION },
  cifar10: { name: 'cifar10', channels: 3, height: 32, width: 32, classNames: CIFAR10_CLASSES, normalization: DEFAULT_NORMALIZATION },
};

export interface LoadDatasetSettings {
  /** Dataset folder. Default data/<name> under process.cwd(). */
  dataDir?: string;
  /** Allow downloading missing files. Default true. */
  download?: boolean;
  /** Download mirror. Default the dataset's official URL. */
  baseUrl?: string;
  /** Status lines. Default: silent. */
  log?: (line: string) => void;
}

export function datasetInfo(name: string): DatasetInfo {
  if (!(name in DATASETS)) throw new Error(`unknown dataset "${name}": choose ${Object.keys(DATASETS).join(' or ')}`);
  return DATASETS[name as DatasetName];
}

export function loadDataset(name: string, settings: LoadDatasetSettings = {}): Promise<RawDataset> {
  return datasetInfo(name).name === 'cifar10' ? loadCifar10(settings) : loadFashionMnist(settings);
}
