import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { modelName, modelOptions, withVariantOptions, type VariantArgs } from '../options.js';

const summaryOptions = (y: Argv) => withVariantOptions(y).positional('model', { type: 'string', demandOption: true });
export type SummaryArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof summaryOptions>['argv']>>;

export const summaryCommand: CommandModule<object, SummaryArgs> = {
  command: 'summary <model>',
  describe: 'print a torchsummary-style table: layers, output shapes, parameters, multiply-adds',
  builder: summaryOptions as unknown as CommandModule<object, SummaryArgs>['builder'],
  handler: async (a) => {
    const model = modelName(a.model);
    const options = modelOptions(a as VariantArgs, model);
    const { modelSummary } = await import('../../models/summary.js');
    console.log(modelSummary(model, options));
  },
};
