import type { Argv, CommandModule } from 'yargs';
import { builderOf, type ArgsOf } from '../context.js';
import { modelName, modelOptions, withVariantOptions, type VariantArgs } from '../options.js';

const summaryOptions = (y: Argv) => withVariantOptions(y).positional('model', { type: 'string', demandOption: true });
export type SummaryArgs = ArgsOf<typeof summaryOptions>;

export const summaryCommand: CommandModule<object, SummaryArgs> = {
  command: 'summary <model>',
  describe: 'print a torchsummary-style table: layers, output shapes, parameters, multiply-adds',
  builder: builderOf<SummaryArgs>(summaryOptions),
  handler: async (a) => {
    const model = modelName(a.model);
    const options = modelOptions(a as VariantArgs, model);
    const { modelSummary } = await import('../../models/summary.js');
    console.log(modelSummary(model, options));
  },
};
