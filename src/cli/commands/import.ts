import type { Argv, CommandModule } from 'yargs';
import { builderOf, type ArgsOf } from '../context.js';
import { imageShape, optional } from '../parse.js';

function importOptions(y: Argv) {
  return y
    .positional('model', { type: 'string', demandOption: true, describe: 'an ONNX image classifier (exported from PyTorch: docs/import.md)' })
    .option('out', { type: 'string', describe: 'the import folder', defaultDescription: 'models/<file base name>' })
    .option('input', { type: 'string', describe: 'C,H,W of the images the model takes, when its input size is not fixed (e.g. 3,224,224)' })
    .option('normalize', { choices: ['auto', 'imagenet'] as const, describe: 'folder images when trained: per-channel mean/std of the training images, or ImageNet\'s', defaultDescription: 'auto' })
    .option('name', { type: 'string', describe: 'the model\'s name in runs', defaultDescription: 'the file\'s base name' });
}

export type ImportArgs = ArgsOf<typeof importOptions>;

export const importCommand: CommandModule<object, ImportArgs> = {
  command: 'import <model>',
  describe: 'check every op of an ONNX model, build its gradients, and write models/<name>/ (model.onnx, import.json, the graph set) for train',
  builder: builderOf<ImportArgs>(importOptions),
  handler: async (a) => {
    const settings = { source: a.model, outDir: a.out, input: optional(a.input, (v) => imageShape('input', v)), normalize: a.normalize, name: a.name };
    const { importModelFolder } = await import('../../artifacts/import_folder.js');
    const { formatImportReport } = await import('../../import/index.js');
    const { outDir, report, files } = await importModelFolder(settings);
    for (const line of formatImportReport(report)) console.log(`${a.model}: ${line}`);
    console.log(`wrote ${outDir}/ (${files.join(', ')})`);
    console.log(`train it: onnxtrain train ${outDir} --data <image folder> --classes auto`);
  },
};
