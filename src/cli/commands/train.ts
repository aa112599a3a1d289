import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { readImportFolder } from '../../artifacts/import_record.js';
import { augmentationFromNames, type AugmentSettings } from '../../data/augment.js';
import { buildModelDef, isModelName } from '../../models/registry.js';
import { defaultOptimizerSettings } from '../../optim/index.js';
import { signature } from '../../program/signature.js';
import { FITS } from '../../predict/pixels.js';
import { expandFrozen } from '../../train/transfer.js';
import { TRAINING_DEFAULTS } from '../../program/defaults.js';
import { DEVICES } from '../../train/session.js';
import { SPIN_POLICIES } from '../../train/spinning.js';
import type { TrainSettings } from '../../train/settings.js';
import { builderOf, type ArgsOf, type CliContext } from '../context.js';
import { modelName, modelOptions, optimizerSettings, withOptimizerOptions, withVariantOptions, type OptimizerArgs, type VariantArgs } from '../options.js';
import { classList, imageShape, intAtLeast, nonNegativeInt, optional, positiveInt, UsageError } from '../parse.js';

export function trainOptions(y: Argv) {
  const d = TRAINING_DEFAULTS;
  return withOptimizerOptions(withVariantOptions(y))
    .positional('model', { type: 'string', describe: 'simple-mlp, medium-mlp, deep-mlp, basic-cnn, complex-cnn, cifar10-cnn, an ONNX file (also as --model path/to/model.onnx), or a folder made by onnxtrain import' })
    .option('data', { type: 'string', describe: 'train on this image folder: one subfolder of images per class (train/ val/ test/ subfolders used as given)' })
    .option('input', { type: 'string', describe: 'C,H,W of the images an ONNX model takes, when its input size is not fixed (e.g. 3,224,224)' })
    .option('fit', { choices: FITS, describe: 'with --data: how each image fills the model\'s input: crop (shorter side, centre cut out, as torchvision), stretch (whole image), object (cropped to the object, as Fashion-MNIST)', defaultDescription: 'crop' })
    .option('normalize', { choices: ['auto', 'imagenet'] as const, describe: 'folder images: per-channel mean/std of the training images, or ImageNet\'s', defaultDescription: 'auto' })
    .option('epochs', { type: 'string', describe: 'epochs', defaultDescription: '20; cifar10-cnn 10' })
    .option('batch-size', { type: 'string', defaultDescription: String(d.batchSize) })
    .option('seed', { type: 'string', describe: 'seeds weights, split, shuffling, dropout', defaultDescription: String(d.seed) })
    .option('val-size', { type: 'string', describe: 'validation images taken from the training set', defaultDescription: String(d.valSize) })
    .option('early-stopping', { type: 'string', describe: 'patience in epochs (0: off); restores the best weights', defaultDescription: '0' })
    .option('threads', { type: 'string', describe: 'onnxruntime intra-op threads', defaultDescription: 'one per core' })
    .option('spinning', { choices: SPIN_POLICIES, describe: 'idle onnxruntime threads spin-wait: auto = when the cores are otherwise idle', defaultDescription: 'auto' })
    .option('device', { choices: DEVICES, defaultDescription: 'cpu' })
    .option('out', { type: 'string', describe: 'run folder', defaultDescription: 'runs/<model>-<date>-<time>' })
    .option('resume', { type: 'string', describe: 'continue the run in this folder from its last checkpoint' })
    .option('data-dir', { type: 'string', describe: 'dataset folder', defaultDescription: 'data/<dataset>' })
    .option('limit', { type: 'string', describe: 'use only the first N training images (quick checks)' })
    .option('runner', { choices: ['loop', 'step'] as const, describe: 'many steps per onnxruntime call (train_loop), or one (train_step)', defaultDescription: 'loop' })
    .option('chunk-steps', { type: 'string', describe: 'steps per Loop run', defaultDescription: String(d.chunkSteps) })
    .option('freeze', { type: 'string', array: true, describe: 'parameters to freeze: state_dict names or prefixes (e.g. features)' })
    .option('init', { type: 'string', describe: 'start from these weights: a run folder, a .safetensors checkpoint or a model.onnx with initializers' })
    .option('classes', { type: 'string', describe: 'train on these classes only, e.g. 0,1,2,3,4 (new head of that many outputs); with --data only auto: the head follows the folder\'s classes' })
    .option('augment', { type: 'string', describe: 'augment training batches: any of crop,flip,jitter,rotate (comma-separated)' });
}

export type TrainArgs = ArgsOf<typeof trainOptions>;

/** 'crop,flip,jitter,rotate' -> the combined augmentation settings ('rotation' is accepted for 'rotate'). */
export function augmentList(text: string): AugmentSettings {
  const names = text.split(',').map((t) => t.trim()).filter(Boolean).map((t) => (t === 'rotate' ? 'rotation' : t));
  if (names.length === 0) throw new UsageError(`--augment needs one or more of crop,flip,jitter,rotate, got '${text}'`);
  try {
    return augmentationFromNames(names);
  } catch (e) {
    throw new UsageError(`--augment: ${(e as Error).message.replace('rotation', 'rotate')}`);
  }
}

/** Options that --resume may change; the rest are the run's own (config.json). */
const RESUMABLE = new Set(['epochs', 'earlyStopping', 'device', 'threads', 'spinning', 'dataDir', 'resume']);
const NOT_OPTIONS = new Set(['_', '$0', 'model']);

const isOnnxFile = (model: string | undefined): model is string => Boolean(model?.toLowerCase().endsWith('.onnx'));
/** An import folder's path (a seed model's name stays a name, even where a folder of that name exists). */
const isFolder = (model: string | undefined): model is string => Boolean(model && !isModelName(model) && statSync(model, { throwIfNoEntry: false })?.isDirectory());

/** The train command's arguments as settings, checked; throws UsageError (exit 2). No process needed. */
export function trainArgsToSettings(a: TrainArgs): { settings: Partial<TrainSettings<string>>; resume?: string } {
  if (a.resume !== undefined) {
    const fixed = Object.keys(a).filter((k) => !k.includes('-') && !NOT_OPTIONS.has(k) && !RESUMABLE.has(k) && a[k as keyof TrainArgs] !== undefined);
    if (a.model) fixed.unshift('model');
    if (fixed.length) {
      const flag = fixed[0] === 'model' ? `the model '${a.model}'` : `--${fixed[0].replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
      throw new UsageError(`--resume continues ${a.resume} with its own settings: drop ${flag} (only --epochs, --early-stopping, --device, --threads, --spinning and --data-dir may change)`);
    }
  } else if (!a.model) {
    throw new UsageError('name a model to train (e.g. simple-mlp), or --resume <run folder>');
  }
  if (a.resume === undefined && (isOnnxFile(a.model) || isFolder(a.model) || a.data !== undefined)) return ownModelSettings(a);
  if (a.fit !== undefined && a.resume === undefined) throw new UsageError(`--fit frames the images of a --data folder; ${a.model} trains on its own dataset's images as they are: drop --fit, or give --data <folder>`);
  const model = modelName(a.model ?? 'simple-mlp');
  const settings: Partial<TrainSettings> = {
    epochs: optional(a.epochs, (v) => positiveInt('epochs', v)),
    earlyStopping: optional(a.earlyStopping, (v) => nonNegativeInt('early-stopping', v)),
    threads: optional(a.threads, (v) => positiveInt('threads', v)),
    spinning: a.spinning,
    device: a.device,
    dataDir: a.dataDir,
  };
  if (a.resume !== undefined) return { settings, resume: a.resume };
  const numClasses = buildModelDef(model).dataset.classNames.length;
  if (a.classes === 'auto') throw new UsageError('--classes auto goes with --data <image folder> (the head follows its classes); on a built-in dataset list class indices, e.g. --classes 0,1,2');
  if (a.freeze) checkFreeze(model, a.freeze);
  return {
    settings: {
      ...settings,
      model,
      options: modelOptions(a as VariantArgs, model),
      optimizer: optimizerSettings(a as OptimizerArgs),
      batchSize: optional(a.batchSize, (v) => positiveInt('batch-size', v)),
      seed: optional(a.seed, (v) => nonNegativeInt('seed', v)),
      valSize: optional(a.valSize, (v) => nonNegativeInt('val-size', v)),
      out: a.out,
      limit: optional(a.limit, (v) => intAtLeast('limit', v, 2)),
      graphKind: a.runner,
      chunkSteps: optional(a.chunkSteps, (v) => positiveInt('chunk-steps', v)),
      frozen: a.freeze,
      init: a.init,
      classes: optional(a.classes, (v) => classList(String(v), numClasses)),
      augment: optional(a.augment, (v) => augmentList(String(v))),
    },
  };
}

/**
 * An ONNX model (`--model path/to/model.onnx`, or an import folder) and/or an image folder (`--data`): the
 * model's own name is the file's base name (the import's name); variant options do not apply to it; an import
 * folder gives the defaults of --input and --normalize; --freeze is checked when the run opens.
 */
function ownModelSettings(a: TrainArgs): { settings: Partial<TrainSettings<string>> } {
  const imported = isFolder(a.model) ? readImportFolder(a.model).run : undefined;
  const onnx = isOnnxFile(a.model) || imported !== undefined;
  if (!a.data) throw new UsageError(`${a.model} is not a seed model: give its images with --data <folder> (one subfolder of images per class)`);
  if (a.classes !== undefined && a.classes !== 'auto') throw new UsageError('--classes selects classes of a built-in dataset: with --data, keep only the class folders you want');
  const variant = ['activation', 'pooling', 'kernel', 'batchnorm', 'dropout', 'residual'].find((k) => a[k as keyof TrainArgs] !== undefined);
  if (onnx && variant) throw new UsageError(`--${variant} changes a seed model's architecture; ${a.model} keeps its own: drop --${variant}`);
  const input = optional(a.input, (v) => imageShape('input', v));
  if (input && !onnx) throw new UsageError('--input sets the image size of an ONNX model; a seed model has its own');
  const model = imported?.model ?? (onnx ? basename(a.model!).replace(/\.onnx$/i, '') : modelName(a.model ?? 'simple-mlp'));
  return {
    settings: {
      model,
      modelFile: imported?.modelFile ?? (onnx ? a.model : undefined),
      importFolder: imported?.importFolder,
      dataFolder: a.data,
      input: input ?? imported?.input,
      normalize: a.normalize ?? imported?.normalize,
      fit: a.fit,
      options: onnx ? {} : modelOptions(a as VariantArgs, modelName(model)),
      optimizer: optimizerSettings(a as OptimizerArgs),
      epochs: optional(a.epochs, (v) => positiveInt('epochs', v)),
      earlyStopping: optional(a.earlyStopping, (v) => nonNegativeInt('early-stopping', v)),
      threads: optional(a.threads, (v) => positiveInt('threads', v)),
      spinning: a.spinning,
      device: a.device,
      batchSize: optional(a.batchSize, (v) => positiveInt('batch-size', v)),
      seed: optional(a.seed, (v) => nonNegativeInt('seed', v)),
      valSize: optional(a.valSize, (v) => nonNegativeInt('val-size', v)),
      out: a.out,
      graphKind: a.runner,
      chunkSteps: optional(a.chunkSteps, (v) => positiveInt('chunk-steps', v)),
      frozen: a.freeze,
      init: a.init,
      augment: optional(a.augment, (v) => augmentList(String(v))),
    },
  };
}

/** Every --freeze prefix must name parameters of the model, and something must be left to train. */
function checkFreeze(model: ReturnType<typeof modelName>, prefixes: string[]): void {
  try {
    expandFrozen(signature({ def: buildModelDef(model), optimizer: defaultOptimizerSettings('adam') }).all, prefixes, model);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const trainCommand = (ctx: CliContext): CommandModule<object, TrainArgs> => ({
  command: 'train [model]',
  describe: 'train a model on its dataset (Fashion-MNIST or CIFAR-10) and write runs/<model>-<time>/',
  builder: builderOf<TrainArgs>(trainOptions),
  handler: async (a) => {
    const { settings, resume } = trainArgsToSettings(a);
    ctx.handlesStop();
    const { resolveSettings, resumeSettings } = await import('../../train/resolve_settings.js');
    const { train } = await import('../../train/run.js');
    const s = resume ? await resumeSettings(resume, settings) : resolveSettings(settings as Partial<TrainSettings<string>> & Pick<TrainSettings<string>, 'model'>);
    await train(s, resume ? { dir: resume } : undefined, ctx.signal);
  },
});
