import type { AugmentSettings } from '../data/augment.js';
import { DATASETS } from '../data/datasets.js';
import type { Tensor } from '../graph/tensor.js';
import type { Fit } from '../predict/pixels.js';
import { datasetOf, isModelName, type ModelName, type ModelOptions } from '../models/registry.js';
import { defaultOptimizerSettings, type OptimizerSettings } from '../optim/index.js';
import { TRAINING_DEFAULTS } from '../program/defaults.js';
import type { Device } from './session.js';
import type { GraphKind } from './sessions.js';
import type { SpinPolicy } from './spinning.js';

/** Everything a training run is made from. Every field documents its default. */
/** `M` is string for runs that may train an ONNX model (modelFile); the seed models' names otherwise. */
export interface TrainSettings<M extends string = ModelName> {
  /** A seed model's name; for an ONNX model (modelFile), a name of yours (default: the file's base name). */
  model: M;
  /** Train this ONNX model (exported from PyTorch or elsewhere; see src/import) instead of a seed model. Default none. */
  modelFile?: string;
  /**
   * The import folder (`onnxtrain import`) modelFile lies in: its import.json's sha256 is checked against
   * modelFile whenever the run opens (also on --resume). Default none.
   */
  importFolder?: string;
  /** Train on this image folder (one subfolder per class) instead of the model's dataset. Default none. */
  dataFolder?: string;
  /** [C, H, W] of an ONNX model whose input size is not fixed. Default: the model's. */
  input?: [number, number, number];
  /** Normalisation of folder images: 'auto' (mean and std of the training images) or 'imagenet'. Default 'auto'. */
  normalize?: 'auto' | 'imagenet';
  /** How each folder image fills the model's input (pixels.ts Fit); only with dataFolder. Default 'crop' (IMAGE_FOLDER_FIT). */
  fit?: Fit;
  /** Architecture variant. Default: the reference model. */
  options: Partial<ModelOptions>;
  /** Default: Adam, lr 1e-3, PyTorch's defaults. */
  optimizer: OptimizerSettings;
  /** Default 20 (10 for cifar10-cnn). */
  epochs: number;
  /** Default 64. */
  batchSize: number;
  /** Seeds the initial weights, the split, the shuffles and dropout. Default 0. */
  seed: number;
  /**
   * Validation images taken from the training set (0: none; best = last, no early stopping). Default: the
   * reference share, 10000 of the official training set, of the images used (all: the 50k/10k split).
   */
  valSize?: number;
  /** Stop after this many epochs without a lower validation loss, then restore the best weights. 0 = off. Default 0. */
  earlyStopping: number;
  /** Execution provider, or 'auto' (cuda, webgpu on a GPU, else cpu; decided when the run starts). Default 'cpu'. */
  device: Device;
  /** Intra-op threads. Default: onnxruntime's choice. */
  threads?: number;
  /** Spin-waiting worker threads: 'auto' spins when the cores are otherwise idle (see spinning.ts). Default 'auto'. */
  spinning: SpinPolicy;
  /** Run folder. Default runs/<model>-<date>-<time>. */
  out?: string;
  /** Dataset folder searched first and downloaded into. Default data/<dataset>. */
  dataDir?: string;
  /** Download a missing dataset into dataDir. Default true. */
  download?: boolean;
  /** Use only the first N training images (before the split) and N/6 test images: quick checks. Default: all. */
  limit?: number;
  /** 'loop' runs many steps per onnxruntime call (train_loop graph); 'step' one call per step. Default 'loop'. */
  graphKind: GraphKind;
  /** Steps per Loop run (progress is reported between runs). Default 100. */
  chunkSteps: number;
  /** Validation/test batch size. Default 1000. */
  evalBatchSize: number;
  /** Parameters to freeze (transfer learning): state_dict names or name prefixes ('features'). Default none. */
  frozen: string[];
  /**
   * Start from these weights instead of fresh ones (transfer learning). Names follow the state_dict; a
   * shape may differ only for the classifier head, which then keeps its fresh initialisation. Default none.
   */
  initWeights?: Map<string, Tensor>;
  /** Where initWeights came from (a run folder, .safetensors or .onnx), recorded in config.json. Default none. */
  init?: string;
  /** Train on these dataset classes only, relabelled 0..k-1 in this order, with a k-output head. Default: all. */
  classes?: number[];
  /** Seeded augmentation of every training batch (validation and test images stay as they are). Default none. */
  augment?: AugmentSettings;
  /** Print lines (epoch lines, final accuracy). Default console.log. */
  log: (line: string) => void;
  /** Progress output; default process.stderr (drawn only on a TTY). */
  progress?: NodeJS.WriteStream | null;
  /** Stop (as Ctrl-C does: save and exit) after this many optimizer steps in this process; tests use it. */
  stopAfterSteps?: number;
}

/** The reference notebook's epochs for a seed model: its dataset's (20 for Fashion-MNIST, 10 for CIFAR-10). */
export function defaultEpochs(model: string): number {
  return isModelName(model) ? DATASETS[datasetOf(model)].defaultEpochs : DATASETS['fashion-mnist'].defaultEpochs;
}

/** Every default of a training run, in one place (the CLI's option defaults read it too). */
export function defaultTrainSettings<M extends string>(model: M): TrainSettings<M> {
  return {
    model,
    options: {},
    optimizer: defaultOptimizerSettings('adam', { lr: TRAINING_DEFAULTS.learningRate }),
    epochs: defaultEpochs(model),
    batchSize: TRAINING_DEFAULTS.batchSize,
    seed: TRAINING_DEFAULTS.seed,
    earlyStopping: 0,
    device: 'cpu',
    spinning: 'auto',
    graphKind: 'loop',
    chunkSteps: TRAINING_DEFAULTS.chunkSteps,
    evalBatchSize: TRAINING_DEFAULTS.evalBatchSize,
    frozen: [],
    log: (line) => console.log(line),
  };
}
