import type { Argv, CommandModule } from 'yargs';
import { builderOf, type ArgsOf } from '../context.js';
import { MODEL_NAMES } from '../../models/registry.js';
import { TRAINING_DEFAULTS } from '../../program/defaults.js';
import { modelName, modelOptions, optimizerSettings, withOptimizerOptions, withVariantOptions, type OptimizerArgs, type VariantArgs } from '../options.js';
import { nonNegativeInt, optional } from '../parse.js';

function buildGraphsOptions(y: Argv) {
  return withOptimizerOptions(withVariantOptions(y))
    .positional('models', { type: 'string', array: true, describe: `models (default: all of ${MODEL_NAMES.join(', ')})` })
    .option('out', { type: 'string', describe: 'output root folder', defaultDescription: 'graphs' })
    .option('seed', { type: 'string', describe: 'seed of the initial weights', defaultDescription: String(TRAINING_DEFAULTS.seed) });
}

export type BuildGraphsArgs = ArgsOf<typeof buildGraphsOptions>;

export const buildGraphsCommand: CommandModule<object, BuildGraphsArgs> = {
  command: 'build-graphs [models..]',
  describe: 'write graphs/<model>/ (training, optimizer, eval, validation, train_step, train_loop graphs, checkpoint, manifest)',
  builder: builderOf<BuildGraphsArgs>(buildGraphsOptions),
  handler: async (a) => {
    const models = (a.models?.length ? a.models : [...MODEL_NAMES]).map(modelName);
    const optimizer = optimizerSettings(a as OptimizerArgs);
    const seed = optional(a.seed, (v) => nonNegativeInt('seed', v));
    const perModel = models.map((model) => ({ model, options: modelOptions(a as VariantArgs, models.length === 1 ? model : undefined) }));
    const { buildArtifacts } = await import('../../artifacts/build.js');
    const { join } = await import('node:path');
    const { numel } = await import('../../graph/tensor.js');
    for (const { model, options } of perModel) {
      const t0 = Date.now();
      const { outDir, manifest } = await buildArtifacts({ model, options, optimizer, seed, outDir: join(a.out ?? 'graphs', model) });
      const params = manifest.parameters.filter((p) => !p.buffer).reduce((n, p) => n + numel(p.shape), 0);
      console.log(`${model}: ${outDir}/ (${params.toLocaleString('en-US')} parameters, ${Date.now() - t0} ms)`);
    }
  },
};
