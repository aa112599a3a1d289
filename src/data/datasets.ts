/** The dataset registry: the one place that says what each built-in dataset is and how it loads. */
import { CIFAR10_CLASSES, loadCifar10 } from './cifar10.js';
import type { RawDataset } from './dataset.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion_mnist.js';
import { DEFAULT_NORMALIZATION, type Normalization } from './normalize.js';

export const DATASET_NAMES = ['fashion-mnist', 'cifar10'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** What a model needs to know about its data: input shape, classes, normalisation. */
export interface DatasetInfo {
  /** A registry name, or any name for data of your own. */
  name: string;
  /** [channels, height, width]. */
  inputShape: [number, number, number];
  classNames: string[];
  /** Per channel: x' = (x/255 - mean) / std. */
  normalization: Normalization;
}

export interface LoadDatasetSettings {
  /** Dataset folder, searched first and downloaded into. Default data/<name>. */
  dataDir?: string;
  /** Download missing files. Default true. */
  download?: boolean;
  /** Status lines. Default: silent. */
  log?: (line: string) => void;
}

interface RegistryEntry extends DatasetInfo {
  name: DatasetName;
  /** Epochs of the reference notebook: 20 for Fashion-MNIST, 10 for CIFAR-10. */
  defaultEpochs: number;
  /** Images in the official training set (60000, 50000): the reference validation share is 10000 of them. */
  trainImages: number;
  load(s: LoadDatasetSettings): Promise<RawDataset>;
}

export const DATASETS: Record<DatasetName, RegistryEntry> = {
  'fashion-mnist': {
    name: 'fashion-mnist', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], normalization: DEFAULT_NORMALIZATION,
    defaultEpochs: 20, trainImages: 60000, load: loadFashionMnist,
  },
  cifar10: {
    name: 'cifar10', inputShape: [3, 32, 32], classNames: [...CIFAR10_CLASSES], normalization: DEFAULT_NORMALIZATION,
    defaultEpochs: 10, trainImages: 50000, load: loadCifar10,
  },
};

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

export function datasetInfo(name: string): RegistryEntry {
  if (!isDatasetName(name)) throw new Error(`unknown dataset '${name}': use one of ${DATASET_NAMES.join(', ')}`);
  return DATASETS[name];
}

/** Epochs of the reference notebook for a dataset: 20 (Fashion-MNIST), 10 (CIFAR-10); 20 for data of your own. */
export function defaultEpochs(dataset: string): number {
  return isDatasetName(dataset) ? DATASETS[dataset].defaultEpochs : DATASETS['fashion-mnist'].defaultEpochs;
}

/** Train and test splits of a built-in dataset, from the cache, the system folder or a download. */
export function loadDataset(name: string, s: LoadDatasetSettings = {}): Promise<RawDataset> {
  return datasetInfo(name).load(s);
}
