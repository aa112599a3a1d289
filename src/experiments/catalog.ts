/** The reference notebook's questions as experiments: each a set of training runs that differ in one thing. */
import { augmentationFromNames } from '../data/augment.js';
import type { ModelName } from '../models/registry.js';
import { defaultOptimizerSettings } from '../optim/index.js';
import type { TrainSettings } from '../train/settings.js';

export interface Variant {
  /** Folder name under runs/experiments/<experiment>/. */
  name: string;
  /** Row label in the table and legend label in the charts. */
  label: string;
  /** Settings over the defaults (epochs: the model's default unless given here or by --epochs). */
  settings: Partial<TrainSettings> & { model: ModelName };
}

export interface Experiment {
  name: string;
  title: string;
  /** The question the experiment answers, printed at the top of the report. */
  question: string;
  variants: Variant[];
  /** Per-layer gradient norms of the trained models, from training.onnx on one batch. Default false. */
  gradientNorms?: boolean;
  /** The variant the others are compared with (paired over seeds). Default: the first. */
  baseline?: string;
}

const sgd = defaultOptimizerSettings('sgd', { lr: 0.01, momentum: 0.9 });
const rmsprop = defaultOptimizerSettings('rmsprop', { lr: 1e-3 });
const adam = (overrides: { lr?: number; weightDecay?: number } = {}) => defaultOptimizerSettings('adam', overrides);

const ACTIVATION_LABELS = { relu: 'ReLU', sigmoid: 'Sigmoid', tanh: 'Tanh', 'leaky-relu': 'LeakyReLU' } as const;

export const EXPERIMENTS: Experiment[] = [
  {
    name: 'batch-size',
    title: 'Batch size',
    question: 'How does the batch size (32, 64, 128) change accuracy and time per epoch of basic-cnn?',
    variants: [32, 64, 128].map((b) => ({ name: `batch-${b}`, label: `batch ${b}`, settings: { model: 'basic-cnn', batchSize: b } })),
    baseline: 'batch-64',
  },
  {
    name: 'activation',
    title: 'Activation functions',
    question: 'ReLU, Sigmoid, Tanh or LeakyReLU in the hidden layers of medium-mlp and basic-cnn?',
    variants: (['medium-mlp', 'basic-cnn'] as const).flatMap((model) =>
      (['relu', 'sigmoid', 'tanh', 'leaky-relu'] as const).map((a) => ({
        name: `${model}-${a}`, label: `${model} ${ACTIVATION_LABELS[a]}`, settings: { model, options: { activation: a } },
      }))),
  },
  {
    name: 'pooling',
    title: 'Pooling',
    question: 'Max pooling or average pooling in basic-cnn?',
    variants: (['max', 'avg'] as const).map((p) => ({ name: `${p}-pool`, label: p === 'max' ? 'MaxPool' : 'AvgPool', settings: { model: 'basic-cnn', options: { pooling: p } } })),
  },
  {
    name: 'kernel-size',
    title: 'Kernel size',
    question: 'Convolution kernels of 3x3, 5x5 or 7x7 in basic-cnn ("same" padding)?',
    variants: [3, 5, 7].map((k) => ({ name: `kernel-${k}`, label: `${k}x${k}`, settings: { model: 'basic-cnn', options: { kernel: k } } })),
  },
  {
    name: 'optimizer',
    title: 'Optimizers',
    question: 'SGD with momentum (lr 0.01, momentum 0.9), RMSprop (lr 1e-3) or Adam (lr 1e-3) for basic-cnn?',
    variants: [
      { name: 'sgd-momentum', label: 'SGD momentum 0.9', settings: { model: 'basic-cnn', optimizer: sgd } },
      { name: 'rmsprop', label: 'RMSprop', settings: { model: 'basic-cnn', optimizer: rmsprop } },
      { name: 'adam', label: 'Adam', settings: { model: 'basic-cnn', optimizer: adam() } },
    ],
    baseline: 'adam',
  },
  {
    name: 'learning-rate',
    title: 'Learning rate',
    question: 'Adam with learning rate 1e-4, 1e-3 or 1e-2 on basic-cnn?',
    variants: [1e-4, 1e-3, 1e-2].map((lr) => ({ name: `lr-${lr}`, label: `lr ${lr}`, settings: { model: 'basic-cnn', optimizer: adam({ lr }) } })),
    baseline: 'lr-0.001',
  },
  {
    name: 'regularization',
    title: 'Regularization',
    question: 'Does early stopping (patience 3), an L2 penalty (weight decay 1e-4) or both help basic-cnn generalise?',
    variants: [
      { name: 'none', label: 'none', settings: { model: 'basic-cnn' } },
      { name: 'early-stopping', label: 'early stopping', settings: { model: 'basic-cnn', earlyStopping: 3 } },
      { name: 'l2', label: 'L2 1e-4', settings: { model: 'basic-cnn', optimizer: adam({ weightDecay: 1e-4 }) } },
      { name: 'both', label: 'early stopping + L2', settings: { model: 'basic-cnn', earlyStopping: 3, optimizer: adam({ weightDecay: 1e-4 }) } },
    ],
  },
  {
    name: 'depth',
    title: 'Depth',
    question: 'Simple vs medium vs deep MLP, and basic vs complex CNN: accuracy, cost, and how the gradient norm changes from layer to layer.',
    variants: (['simple-mlp', 'medium-mlp', 'deep-mlp', 'basic-cnn', 'complex-cnn'] as const).map((model) => ({ name: model, label: model, settings: { model } })),
    gradientNorms: true,
  },
  {
    name: 'cifar10',
    title: 'CIFAR-10',
    question: 'cifar10-cnn, and what BatchNorm, Dropout (0.5), residual connections and augmentation (crop + flip) add.',
    variants: [
      { name: 'base', label: 'cifar10-cnn', settings: { model: 'cifar10-cnn' } },
      { name: 'batchnorm', label: '+ BatchNorm', settings: { model: 'cifar10-cnn', options: { batchNorm: true } } },
      { name: 'dropout', label: '+ Dropout 0.5', settings: { model: 'cifar10-cnn', options: { dropout: 0.5 } } },
      { name: 'residual', label: '+ residual', settings: { model: 'cifar10-cnn', options: { residual: true } } },
      { name: 'augment', label: '+ crop, flip', settings: { model: 'cifar10-cnn', augment: augmentationFromNames(['crop', 'flip']) } },
    ],
  },
  {
    name: 'reproduce',
    title: 'The reference notebook',
    question: 'The five Fashion-MNIST models for 20 epochs and cifar10-cnn for 10, as the reference notebook trains them.',
    variants: (['simple-mlp', 'medium-mlp', 'deep-mlp', 'basic-cnn', 'complex-cnn', 'cifar10-cnn'] as const).map((model) => ({ name: model, label: model, settings: { model } })),
  },
];

export function findExperiment(name: string): Experiment {
  const e = EXPERIMENTS.find((x) => x.name === name);
  if (!e) throw new Error(`unknown experiment '${name}': use one of ${EXPERIMENTS.map((x) => x.name).join(', ')} (see --list)`);
  return e;
}
