/** The files a finished run writes besides its checkpoints: config, eval model, curves, summary, results. */
import { IMAGE_FOLDER_FIT } from '../data/image_folder.js';
import type { ModelDef } from '../models/registry.js';
import { modelSummary } from '../models/summary.js';
import { formatEpochLine, type EpochMetrics } from '../report/metrics.js';
import { renderCurves } from '../report/plot.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import type { Program } from './program.js';
import { runFile } from './run_dir.js';
import type { TrainSettings } from './settings.js';

/** The run's config.json: the settings, plus what prediction and the web page need. */
export function runConfig(s: TrainSettings<string>, def: ModelDef) {
  return {
    format: 'onnxtrain-run/1',
    model: s.model,
    modelFile: s.modelFile ?? null,
    importFolder: s.importFolder ?? null,
    dataFolder: s.dataFolder ?? null,
    input: s.input ?? null,
    normalize: s.normalize ?? null,
    // How predict and the page frame images: as the folder's images were (null: pixels.ts defaultFit).
    fit: s.dataFolder ? (s.fit ?? IMAGE_FOLDER_FIT) : null,
    options: def.options,
    dataset: def.dataset.name,
    inputShape: def.dataset.inputShape,
    classNames: classNamesOf(s, def),
    classes: s.classes ?? null,
    normalization: def.dataset.normalization,
    optimizer: s.optimizer,
    epochs: s.epochs,
    batchSize: s.batchSize,
    seed: s.seed,
    valSize: s.valSize ?? null,
    earlyStopping: s.earlyStopping,
    limit: s.limit ?? null,
    frozen: s.frozen,
    init: s.init ?? null,
    augment: s.augment ?? null,
    graphKind: s.graphKind,
    device: s.device,
  };
}

/** The class names of the run's outputs: the dataset's, or those of the --classes subset in its order. */
export function classNamesOf(s: Pick<TrainSettings, 'classes'>, def: ModelDef): string[] {
  const k = def.options?.numClasses ?? def.dataset.classNames.length;
  return s.classes ? s.classes.map((c) => def.dataset.classNames[c]) : def.dataset.classNames.slice(0, k);
}

/** model.onnx (the eval graph with the weights), curves, summary and results. */
export async function finishRun(runDir: string, s: TrainSettings<string>, program: Program, history: EpochMetrics[], test: { loss: number; acc: number; n: number } | null, stopped: string) {
  const cfg = runConfig(s, program.def);
  await program.exportEval(runFile(runDir, 'model'), { classNames: JSON.stringify(cfg.classNames), normalization: JSON.stringify(cfg.normalization) });
  if (history.length) await writeFileAtomic(runFile(runDir, 'curves'), await renderCurves(history, { title: `${s.model}` }));
  const best = history.reduce<EpochMetrics | null>((b, m) => (!b || m.valLoss < b.valLoss ? m : b), null);
  await writeJsonAtomic(runFile(runDir, 'results'), { model: s.model, epochs: history.length, stopped, test, best, final: history.at(-1) ?? null });
  const lines = [
    modelSummary(program.def),
    '',
    ...history.map((m) => formatEpochLine(m, s.epochs)),
    test ? `Test Accuracy: ${(test.acc * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}, ${test.n} images)` : 'No test set.',
  ];
  await writeFileAtomic(runFile(runDir, 'summary'), lines.join('\n') + '\n');
}
