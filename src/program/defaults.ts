import { DEFAULT_VAL_SIZE } from '../data/prepare.js';
import { DEFAULT_LR } from '../optim/index.js';

/**
 * One home for the training defaults of the reference notebook. The CLI's option defaults, the settings
 * resolution, the manifest and the help text read them from here. Epochs depend on the dataset (20 for
 * Fashion-MNIST, 10 for CIFAR-10): see `defaultEpochs` in src/data/datasets.ts.
 */
export const TRAINING_DEFAULTS = {
  batchSize: 64,
  /** Validation images taken from the 60k training images: the reference 50k/10k split. */
  valSize: DEFAULT_VAL_SIZE,
  learningRate: DEFAULT_LR,
  seed: 0,
  /** Optimizer steps per Loop run. */
  chunkSteps: 100,
  /** Batch size of validation and test evaluation. */
  evalBatchSize: 1000,
} as const;
