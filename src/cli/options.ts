/** Option groups shared by several commands, and their conversion to the library's settings. */
import type { Argv } from 'yargs';
import { ACTIVATIONS } from '../nn/activation.js';
import { DEFAULT_MODEL_OPTIONS, isModelName, MODEL_NAMES, type ModelName, type ModelOptions } from '../models/registry.js';
import { DEFAULT_LR, defaultOptimizerSettings, OPTIMIZER_KINDS, type OptimizerKind, type OptimizerSettings } from '../optim/index.js';
import { nonNegativeNumber, optional, positiveInt, positiveNumber, UsageError } from './parse.js';

export { UsageError } from './parse.js';

export function modelName(name: unknown): ModelName {
  const s = String(name);
  if (!isModelName(s)) throw new UsageError(`unknown model '${s}': use one of ${MODEL_NAMES.join(', ')}`);
  return s;
}

const CNN_ONLY = ['pooling', 'kernel', 'batchnorm', 'residual'] as const;

export function withVariantOptions<T>(y: Argv<T>) {
  const d = DEFAULT_MODEL_OPTIONS;
  return y
    .option('activation', { choices: ACTIVATIONS, describe: 'hidden activation', defaultDescription: d.activation })
    .option('pooling', { choices: ['max', 'avg'] as const, describe: 'CNN pooling', defaultDescription: d.pooling })
    .option('kernel', { type: 'string', describe: 'CNN kernel size (3, 5 or 7)', defaultDescription: String(d.kernel) })
    .option('batchnorm', { type: 'boolean', describe: 'BatchNorm2d after every convolution (CNNs)' })
    .option('dropout', { type: 'string', describe: 'dropout probability after hidden Linear layers', defaultDescription: String(d.dropout) })
    .option('residual', { type: 'boolean', describe: 'residual blocks (complex-cnn, cifar10-cnn)' });
}

export function withOptimizerOptions<T>(y: Argv<T>) {
  return y
    .option('optimizer', { choices: OPTIMIZER_KINDS, describe: 'optimizer', defaultDescription: 'adam' })
    .option('lr', { type: 'string', describe: 'learning rate', defaultDescription: String(DEFAULT_LR) })
    .option('momentum', { type: 'string', describe: 'SGD/RMSprop momentum (SGD default 0.9)' })
    .option('weight-decay', { type: 'string', describe: 'L2 penalty (AdamW: decoupled decay)' })
    .option('nesterov', { type: 'boolean', describe: 'SGD Nesterov momentum' });
}

export interface VariantArgs {
  activation?: ModelOptions['activation'];
  pooling?: ModelOptions['pooling'];
  kernel?: string;
  batchnorm?: boolean;
  dropout?: string;
  residual?: boolean;
}

/** The architecture options given; one rule for all: convolution options are refused for MLPs. */
export function modelOptions(a: VariantArgs, model?: ModelName): Partial<ModelOptions> {
  const kernel = optional(a.kernel, (v) => positiveInt('kernel', v));
  if (kernel !== undefined && ![3, 5, 7].includes(kernel)) throw new UsageError(`--kernel must be 3, 5 or 7, got ${a.kernel}`);
  const dropout = optional(a.dropout, (v) => nonNegativeNumber('dropout', v));
  if (dropout !== undefined && !(dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got ${a.dropout}`);
  if (model?.endsWith('-mlp')) {
    const given = CNN_ONLY.filter((k) => a[k] !== undefined && a[k] !== false);
    if (given.length) throw new UsageError(`--${given[0]} applies to CNNs only: ${model} has no convolutions (use basic-cnn, complex-cnn or cifar10-cnn)`);
  }
  const o: Partial<ModelOptions> = { activation: a.activation, pooling: a.pooling, kernel, batchNorm: a.batchnorm, dropout, residual: a.residual };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export interface OptimizerArgs {
  optimizer?: OptimizerKind;
  lr?: string;
  momentum?: string;
  weightDecay?: string;
  nesterov?: boolean;
}

export function optimizerSettings(a: OptimizerArgs): OptimizerSettings {
  const kind = a.optimizer ?? 'adam';
  const lr = optional(a.lr, (v) => positiveNumber('lr', v)) ?? DEFAULT_LR;
  const momentum = optional(a.momentum, (v) => nonNegativeNumber('momentum', v)) ?? (kind === 'sgd' ? 0.9 : undefined);
  const weightDecay = optional(a.weightDecay, (v) => nonNegativeNumber('weight-decay', v));
  try {
    return defaultOptimizerSettings(kind, { lr, momentum, weightDecay, nesterov: a.nesterov });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
