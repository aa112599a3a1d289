/** Runs of models and data of your own: an ONNX model file (src/import) and/or an image folder (src/data/image_folder). */
import { readFileSync } from 'node:fs';
import { readImportFolder } from '../artifacts/import_record.js';
import { imageFolderClasses, prepareImageFolder } from '../data/image_folder.js';
import type { PreparedData } from '../data/prepare.js';
import { formatImportReport, IMAGENET_NORMALIZATION, importOnnx } from '../import/index.js';
import { buildModelDef, isModelName, type ModelDef } from '../models/registry.js';
import { checkRegularFileSync } from '../util/fsx.js';
import type { TrainSettings } from './settings.js';

type Own = Pick<TrainSettings<string>, 'model' | 'options' | 'classes' | 'modelFile' | 'importFolder' | 'dataFolder' | 'input'> & { log?: (line: string) => void };

/** Whether the run trains an ONNX model file or on an image folder (rather than a seed model on its dataset). */
export const isFolderRun = (s: Pick<TrainSettings<string>, 'modelFile' | 'dataFolder'>): boolean => Boolean(s.modelFile || s.dataFolder);

/**
 * The model of such a run: the ONNX file imported (its head resized to the folder's classes), or a seed
 * model with a head of the folder's classes. `--classes` (a subset of a built-in dataset) does not apply.
 */
export function importRunModel(s: Own): ModelDef {
  if (s.classes) throw new Error('--classes selects classes of a built-in dataset: with --data, keep only the class folders you want');
  if (s.importFolder) readImportFolder(s.importFolder);
  if (s.modelFile) checkRegularFileSync(s.modelFile, 'give the path of an ONNX model file', `--model ${s.modelFile}`);
  const classNames = s.dataFolder ? imageFolderClasses(s.dataFolder) : undefined;
  if (!s.modelFile) {
    if (!isModelName(s.model)) throw new Error(`unknown model '${s.model}': name a seed model or give an ONNX file (--model path/to/model.onnx)`);
    const def = buildModelDef(s.model, { ...s.options, numClasses: classNames!.length });
    return { ...def, dataset: { ...def.dataset, name: 'images', classNames: classNames! } };
  }
  let imported: ReturnType<typeof importOnnx>;
  try {
    imported = importOnnx(new Uint8Array(readFileSync(s.modelFile)), { input: s.input, numClasses: classNames?.length, classNames, name: s.model });
  } catch (e) {
    throw new Error(`--model ${s.modelFile}: ${(e as Error).message}`, { cause: e });
  }
  for (const line of formatImportReport(imported.report)) s.log?.(`${s.modelFile}: ${line}`);
  return imported.def;
}

/** The image folder, brought to the model's input shape; the model's class names and normalisation follow it. */
export async function prepareFolderData(s: TrainSettings<string>, def: ModelDef): Promise<PreparedData> {
  if (!s.dataFolder) throw new Error(`${s.modelFile} is not a seed model: give its images with --data <folder> (one subfolder per class)`);
  const data = await prepareImageFolder(s.dataFolder, {
    inputShape: def.dataset.inputShape,
    normalization: s.normalize === 'imagenet' ? IMAGENET_NORMALIZATION : undefined,
    fit: s.fit,
    seed: s.seed,
    valSize: s.valSize,
    log: s.log,
  });
  def.dataset.name = data.info.name;
  def.dataset.classNames = data.info.classNames;
  def.dataset.normalization = data.info.normalization;
  return data;
}
