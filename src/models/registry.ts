import { Activation, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, Pool2d, Residual, Sequential } from '../nn/index.js';
import type { ActivationKind, Module, PoolKind } from '../nn/index.js';
import { DATASETS, type DatasetInfo, type DatasetName } from '../data/datasets.js';
import type { Normalization } from '../data/normalize.js';

export const MODEL_NAMES = ['simple-mlp', 'medium-mlp', 'deep-mlp', 'basic-cnn', 'complex-cnn', 'cifar10-cnn'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Architecture variants. Every field documents its default; the defaults are the reference models. */
export interface ModelOptions {
  /** Hidden-layer activation. Default 'relu'. */
  activation: ActivationKind;
  /** CNN pooling. Default 'max'. */
  pooling: PoolKind;
  /** CNN kernel size (3, 5 or 7), "same" padding so the classifier is unchanged. Default 3. */
  kernel: number;
  /** BatchNorm2d after every convolution (CNNs). Default false. */
  batchNorm: boolean;
  /** Dropout probability before every hidden Linear's successor (0 = none). Default 0. */
  dropout: number;
  /** Residual blocks around each pair of convolutions (complex-cnn, cifar10-cnn). Default false. */
  residual: boolean;
  /** Output classes (transfer learning changes it). Default: the dataset's 10. */
  numClasses: number;
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = {
  activation: 'relu', pooling: 'max', kernel: 3, batchNorm: false, dropout: 0, residual: false, numClasses: 10,
};

/** A model: its layers and the data it takes. The seed models and models of your own alike. */
export interface ModelDef {
  /** A seed model's name (simple-mlp, ...) or any name of yours. */
  name: string;
  /** Input shape, class names and normalisation of the images the model takes. */
  dataset: DatasetInfo;
  /** The seed models' architecture variant; absent for models of your own. */
  options?: ModelOptions;
  root: Module;
}

export interface ModelInput {
  /** [channels, height, width]. */
  input: [number, number, number];
  /** Names of the outputs, in order. Default '0', '1', ... (as many as the model has outputs). */
  classNames?: string[];
  /** Pixel normalisation, per channel: x' = (x/255 - mean) / std. Default mean 0.5, std 0.5. */
  normalization?: Normalization;
  /** Default 'model'. */
  name?: string;
}

/** A model of your own from its layers (see `nn`) and the shape of its input. */
export function defineModel(root: Module, m: ModelInput): ModelDef {
  if (!(m.input?.length === 3 && m.input.every((d) => Number.isInteger(d) && d > 0))) {
    throw new Error(`input must be [channels, height, width] of positive integers, got ${JSON.stringify(m.input)}`);
  }
  const name = m.name ?? 'model';
  return {
    name,
    dataset: { name, inputShape: m.input, classNames: m.classNames ?? [], normalization: m.normalization ?? DATASETS['fashion-mnist'].normalization },
    root,
  };
}

const MLP_HIDDEN: Record<string, number[]> = {
  'simple-mlp': [256],
  'medium-mlp': [512, 256],
  'deep-mlp': [1024, 512, 256, 128],
};

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

export function datasetOf(name: ModelName): DatasetName {
  return name === 'cifar10-cnn' ? 'cifar10' : 'fashion-mnist';
}

/** Hidden Linear stack: Linear, act, [Dropout] per hidden layer, then the output Linear. */
function classifierLayers(inFeatures: number, hidden: number[], o: ModelOptions): Module[] {
  const layers: Module[] = [];
  let n = inFeatures;
  for (const h of hidden) {
    layers.push(new Linear(n, h), new Activation(o.activation));
    if (o.dropout > 0) layers.push(new Dropout(o.dropout));
    n = h;
  }
  layers.push(new Linear(n, o.numClasses));
  return layers;
}

function convUnit(cin: number, cout: number, o: ModelOptions, act = true): Module[] {
  const m: Module[] = [new Conv2d({ inChannels: cin, outChannels: cout, kernel: o.kernel })];
  if (o.batchNorm) m.push(new BatchNorm2d(cout));
  if (act) m.push(new Activation(o.activation));
  return m;
}

/** Two convolutions then a pool; as a residual block the second activation follows the addition. */
function doubleConvStage(cin: number, cout: number, o: ModelOptions): Module[] {
  if (!o.residual) return [...convUnit(cin, cout, o), ...convUnit(cout, cout, o), new Pool2d(o.pooling)];
  const body = new Sequential([...convUnit(cin, cout, o), ...convUnit(cout, cout, o, false)]);
  const shortcut = cin === cout ? undefined : new Conv2d({ inChannels: cin, outChannels: cout, kernel: 1, padding: 0 });
  return [new Residual(body, shortcut, new Activation(o.activation)), new Pool2d(o.pooling)];
}

/** The reference architectures (../shared/DESIGN.md section 1) and their variants. */
export function buildModelDef(name: ModelName, options: Partial<ModelOptions> = {}): ModelDef {
  const o: ModelOptions = { ...DEFAULT_MODEL_OPTIONS, ...options };
  if (![3, 5, 7].includes(o.kernel)) throw new Error(`kernel size must be 3, 5 or 7, got ${o.kernel}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${o.dropout}`);
  if (!(Number.isInteger(o.numClasses) && o.numClasses >= 2)) throw new Error(`numClasses must be an integer >= 2, got ${o.numClasses}`);
  const dataset = DATASETS[datasetOf(name)];
  const [C, H, W] = dataset.inputShape;
  let root: Module;
  if (name in MLP_HIDDEN) {
    const convOnly = (['pooling', 'kernel', 'batchNorm', 'residual'] as const).find((k) => options[k] !== undefined && options[k] !== DEFAULT_MODEL_OPTIONS[k]);
    if (convOnly) throw new Error(`${name}: the ${convOnly} option applies to CNNs only (basic-cnn, complex-cnn, cifar10-cnn)`);
    root = new Sequential([['flatten', new Flatten()], ['layers', new Sequential(classifierLayers(C * H * W, MLP_HIDDEN[name], o))]]);
  } else if (name === 'basic-cnn') {
    if (o.residual) throw new Error('basic-cnn: residual blocks need two convolutions per stage: use complex-cnn or cifar10-cnn');
    const features = new Sequential([...convUnit(C, 16, o), new Pool2d(o.pooling), ...convUnit(16, 32, o), new Pool2d(o.pooling)]);
    const classifier = new Sequential([new Flatten(), ...classifierLayers(32 * (H / 4) * (W / 4), [128], o)]);
    root = new Sequential([['features', features], ['classifier', classifier]]);
  } else {
    const features = new Sequential([...doubleConvStage(C, 32, o), ...doubleConvStage(32, 64, o)]);
    const classifier = new Sequential([new Flatten(), ...classifierLayers(64 * (H / 4) * (W / 4), [256], o)]);
    root = new Sequential([['features', features], ['classifier', classifier]]);
  }
  return { name, dataset, options: o, root };
}
