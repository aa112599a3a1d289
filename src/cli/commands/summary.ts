import type { Argv } from 'yargs';
import { modelName, modelOptions, withVariantOptions } from '../options.js';

export const summaryCommand = {
  command: 'summary <model>',
  describe: 'print a torchsummary-style table: layers, output shapes, parameters, multiply-adds',
  builder: (y: Argv) => withVariantOptions(y).positional('model', { type: 'string', demandOption: true }),
  handler: async (a: Record<string, unknown>) => {
    const { modelSummary } = await import('../../models/summary.js');
    console.log(modelSummary(modelName(a.model), modelOptions(a as never)));
  },
};
