/** What a model needs to know about its dataset: input shape, classes, normalisation. */
export interface DatasetInfo {
  name: DatasetName;
  inputShape: [number, number, number];
  classNames: string[];
  /** Per channel: x' = (x/255 - mean) / std. */
  normalization: { mean: number[]; std: number[] };
}

export type DatasetName = 'fashion-mnist' | 'cifar10';

export const DATASETS: Record<DatasetName, DatasetInfo> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    inputShape: [1, 28, 28],
    classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    normalization: { mean: [0.5], std: [0.5] },
  },
  cifar10: {
    name: 'cifar10',
    inputShape: [3, 32, 32],
    classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  },
};
