import type { Argv } from 'yargs';
import { ACTIVATIONS } from '../nn/activation.js';
import { isModelName, MODEL_NAMES, type ModelName, type ModelOptions } from '../models/registry.js';
import { defaultOptimizerSettings, OPTIMIZER_KINDS, type OptimizerKind, type OptimizerSettings } from '../optim/index.js';

/** A user error: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function modelName(name: unknown): ModelName {
  const s = String(name);
  if (!isModelName(s)) throw new UsageError(`unknown model '${s}': use one of ${MODEL_NAMES.join(', ')}`);
  return s;
}

export function withVariantOptions<T>(y: Argv<T>) {
  return y
    .option('activation', { choices: ACTIVATIONS, describe: 'hidden activation', default: 'relu' as const })
    .option('pooling', { choices: ['max', 'avg'] as const, describe: 'CNN pooling', default: 'max' as const })
    .option('kernel', { type: 'number', describe: 'CNN kernel size (3, 5 or 7)', default: 3 })
    .option('batchnorm', { type: 'boolean', describe: 'BatchNorm2d after every convolution', default: false })
    .option('dropout', { type: 'number', describe: 'dropout probability after hidden Linear layers', default: 0 })
    .option('residual', { type: 'boolean', describe: 'residual blocks (complex-cnn, cifar10-cnn)', default: false });
}

export function withOptimizerOptions<T>(y: Argv<T>) {
  return y
    .option('optimizer', { choices: OPTIMIZER_KINDS, describe: 'optimizer', default: 'adam' as OptimizerKind })
    .option('lr', { type: 'number', describe: 'learning rate', default: 1e-3 })
    .option('momentum', { type: 'number', describe: 'SGD/RMSprop momentum (SGD default 0.9)' })
    .option('weight-decay', { type: 'number', describe: 'L2 penalty (AdamW: decoupled decay)' })
    .option('nesterov', { type: 'boolean', describe: 'SGD Nesterov momentum', default: false });
}

export interface VariantArgs {
  activation: ModelOptions['activation'];
  pooling: ModelOptions['pooling'];
  kernel: number;
  batchnorm: boolean;
  dropout: number;
  residual: boolean;
}

export function modelOptions(a: VariantArgs): Partial<ModelOptions> {
  if (![3, 5, 7].includes(a.kernel)) throw new UsageError(`--kernel must be 3, 5 or 7, got ${a.kernel}`);
  if (!(a.dropout >= 0 && a.dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got ${a.dropout}`);
  return { activation: a.activation, pooling: a.pooling, kernel: a.kernel, batchNorm: a.batchnorm, dropout: a.dropout, residual: a.residual };
}

export interface OptimizerArgs {
  optimizer: OptimizerKind;
  lr: number;
  momentum?: number;
  weightDecay?: number;
  nesterov: boolean;
}

export function optimizerSettings(a: OptimizerArgs): OptimizerSettings {
  if (!(a.lr > 0 && Number.isFinite(a.lr))) throw new UsageError(`--lr must be a positive number, got ${a.lr}`);
  const momentum = a.momentum ?? (a.optimizer === 'sgd' ? 0.9 : undefined);
  try {
    return defaultOptimizerSettings(a.optimizer, { lr: a.lr, momentum, weightDecay: a.weightDecay, nesterov: a.nesterov });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
