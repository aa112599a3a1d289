import type { Argv } from 'yargs';
import { augmentationFromNames, type AugmentSettings } from '../../data/augment.js';
import { DEVICES } from '../../train/session.js';
import { SPIN_POLICIES, spinPolicy } from '../../train/spinning.js';
import type { TrainSettings } from '../../train/settings.js';
import { modelName, modelOptions, optimizerSettings, UsageError, withOptimizerOptions, withVariantOptions } from '../options.js';

const positiveInt = (name: string, v: unknown): number => {
  if (!(Number.isInteger(v) && (v as number) > 0)) throw new UsageError(`--${name} must be a positive integer, got ${String(v)}`);
  return v as number;
};

/** '0,1,2' -> [0, 1, 2]. */
export function classList(text: string): number[] {
  const out = text.split(',').map((t) => Number(t.trim()));
  if (out.some((c) => !Number.isInteger(c) || c < 0)) throw new UsageError(`--classes must be comma-separated class indices such as 0,1,2,3,4, got ${text}`);
  return out;
}

/** 'crop,flip,jitter,rotate' -> the combined augmentation settings ('rotation' is accepted for 'rotate'). */
export function augmentList(text: string): AugmentSettings {
  const names = text.split(',').map((t) => t.trim()).filter(Boolean).map((t) => (t === 'rotate' ? 'rotation' : t));
  if (names.length === 0) throw new UsageError('--augment needs one or more of crop,flip,jitter,rotate');
  try {
    return augmentationFromNames(names);
  } catch (e) {
    throw new UsageError(`--augment: ${(e as Error).message.replace('rotation', 'rotate')}`);
  }
}

export const trainCommand = {
  command: 'train [model]',
  describe: 'train a model on its dataset (Fashion-MNIST or CIFAR-10) and write runs/<model>-<time>/',
  builder: (y: Argv) =>
    withOptimizerOptions(withVariantOptions(y))
      .positional('model', { type: 'string', describe: 'simple-mlp, medium-mlp, deep-mlp, basic-cnn, complex-cnn or cifar10-cnn' })
      .option('epochs', { type: 'number', describe: 'epochs (default 20; cifar10-cnn 10)' })
      .option('batch-size', { type: 'number', default: 64 })
      .option('seed', { type: 'number', default: 0, describe: 'seeds weights, split, shuffling, dropout' })
      .option('val-size', { type: 'number', default: 10000, describe: 'validation images taken from the 60k training set' })
      .option('early-stopping', { type: 'number', default: 0, describe: 'patience in epochs (0: off); restores the best weights' })
      .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads (default: one per core)' })
      .option('spinning', { choices: SPIN_POLICIES, default: 'auto' as const, describe: 'idle onnxruntime threads spin-wait: auto = when the cores are otherwise idle' })
      .option('device', { choices: DEVICES, default: 'cpu' as const })
      .option('out', { type: 'string', describe: 'run folder (default runs/<model>-<date>-<time>)' })
      .option('resume', { type: 'string', describe: 'continue the run in this folder from its last checkpoint' })
      .option('data-dir', { type: 'string', describe: 'dataset folder (default data/<dataset>)' })
      .option('limit', { type: 'number', describe: 'use only the first N training images (quick checks)' })
      .option('runner', { choices: ['loop', 'step'] as const, default: 'loop' as const, describe: 'many steps per onnxruntime call, or one' })
      .option('chunk-steps', { type: 'number', default: 100, describe: 'steps per Loop run' })
      .option('freeze', { type: 'string', array: true, default: [] as string[], describe: 'parameters to freeze: state_dict names or prefixes (e.g. features)' })
      .option('init', { type: 'string', describe: 'start from these weights: a run folder, a .safetensors checkpoint or a model.onnx with initializers' })
      .option('classes', { type: 'string', describe: 'train on these classes only, e.g. 0,1,2,3,4 (new head of that many outputs)' })
      .option('augment', { type: 'string', describe: 'augment training batches: any of crop,flip,jitter,rotate (comma-separated)' }),
  handler: async (a: Record<string, unknown>) => {
    const { trainFromSettings } = await import('../../train/cli.js');
    const resume = a.resume as string | undefined;
    if (!resume && !a.model) throw new UsageError('name a model to train (e.g. simple-mlp), or --resume <run folder>');
    const model = modelName(a.model ?? 'simple-mlp');
    const settings: Partial<TrainSettings> = {
      model,
      options: modelOptions(a as never),
      optimizer: optimizerSettings(a as never),
      epochs: a.epochs === undefined ? undefined : positiveInt('epochs', a.epochs),
      batchSize: positiveInt('batch-size', a.batchSize),
      seed: a.seed as number,
      valSize: a.valSize as number,
      earlyStopping: a.earlyStopping as number,
      threads: a.threads === undefined ? undefined : positiveInt('threads', a.threads),
      spinning: spinPolicy(a.spinning),
      device: a.device as TrainSettings['device'],
      out: a.out as string | undefined,
      dataDir: a.dataDir as string | undefined,
      limit: a.limit as number | undefined,
      runner: a.runner as 'loop' | 'step',
      chunkSteps: positiveInt('chunk-steps', a.chunkSteps),
      frozen: a.freeze as string[],
      init: a.init as string | undefined,
      classes: a.classes === undefined ? undefined : classList(String(a.classes)),
      augment: a.augment === undefined ? undefined : augmentList(String(a.augment)),
    };
    if (!(Number.isInteger(settings.valSize) && settings.valSize! >= 0)) throw new UsageError(`--val-size must be a non-negative integer, got ${a.valSize}`);
    if (!(Number.isInteger(settings.earlyStopping) && settings.earlyStopping! >= 0)) throw new UsageError(`--early-stopping must be a non-negative integer, got ${a.earlyStopping}`);
    await trainFromSettings(settings, resume);
  },
};
