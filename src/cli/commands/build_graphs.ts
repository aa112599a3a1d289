import type { Argv } from 'yargs';
import { MODEL_NAMES } from '../../models/registry.js';
import { modelName, modelOptions, optimizerSettings, withOptimizerOptions, withVariantOptions } from '../options.js';

export const buildGraphsCommand = {
  command: 'build-graphs [models..]',
  describe: 'write graphs/<model>/ (training, optimizer, eval, validation, train_step, train_loop graphs, checkpoint, manifest)',
  builder: (y: Argv) =>
    withOptimizerOptions(withVariantOptions(y))
      .positional('models', { type: 'string', array: true, describe: `models (default: all of ${MODEL_NAMES.join(', ')})` })
      .option('out', { type: 'string', describe: 'output root folder', default: 'graphs' })
      .option('seed', { type: 'number', describe: 'seed of the initial weights', default: 0 }),
  handler: async (a: Record<string, unknown>) => {
    const { buildArtifacts } = await import('../../artifacts/build.js');
    const { join } = await import('node:path');
    const models = ((a.models as string[] | undefined)?.length ? (a.models as string[]) : [...MODEL_NAMES]).map(modelName);
    const options = modelOptions(a as never);
    const optimizer = optimizerSettings(a as never);
    for (const model of models) {
      const t0 = Date.now();
      const { outDir, manifest } = await buildArtifacts({ model, options, optimizer, seed: a.seed as number, outDir: join(a.out as string, model) });
      const params = manifest.parameters.filter((p) => !p.buffer).reduce((n, p) => n + p.shape.reduce((x, y) => x * y, 1), 0);
      console.log(`${model}: ${outDir}/ (${params.toLocaleString('en-US')} parameters, ${Date.now() - t0} ms)`);
    }
  },
};
