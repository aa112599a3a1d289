/**
 * A training run as `npm run train` makes it: the run folder (README "Training runs") around a fit.
 * openRun prepares everything (new, resumed, or from --init weights); train composes fit's callbacks.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readdir } from 'node:fs/promises';
import { loadCheckpoint } from '../artifacts/checkpoint.js';
import { prepareData, checkClasses, type PreparedData } from '../data/prepare.js';
import { initialWeights } from '../models/init.js';
import { buildModelDef, datasetOf, isModelName, type ModelDef } from '../models/registry.js';
import { signature } from '../program/signature.js';
import { checkWritable, makeDir, readJson, writeJsonAtomic } from '../util/fsx.js';
import { LOCK_FILE, lockFolder } from '../util/lock.js';
import { checkpoints, earlyStopping, metricsFiles, nanStop, progressBar, spinWatch, webSamples, type Callback } from './callbacks/index.js';
import { fit } from './fit.js';
import { initialFitState, type FitState } from './fit_state.js';
import { compile, type Program } from './program.js';
import { defaultRunDir, runFile } from './run_dir.js';
import { classNamesOf, finishRun, runConfig } from './run_outputs.js';
import type { TrainSettings } from './settings.js';
import { importRunModel, isFolderRun, prepareFolderData } from './imported.js';
import { describePlacement } from './device/placement.js';
import { checkDevice } from './session.js';
import { resolveSpinning } from './spinning.js';
import { applyInitWeights, expandFrozen, loadInitWeights } from './transfer.js';
import type { EpochMetrics } from '../report/metrics.js';

/** What a run's checkpoints carry in their metadata: the fit state and the model's name. */
export type RunMeta = FitState & { model: string };

export interface TrainResult {
  runDir: string;
  history: EpochMetrics[];
  test: { loss: number; acc: number; n: number } | null;
  /** Why training ended. */
  stopped: 'done' | 'early-stopping' | 'interrupted';
}

/** Raised after a stop request (Ctrl-C, SIGTERM, an aborted signal) has saved the run. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(readonly runDir: string) {
    super(`interrupted: saved ${runFile(runDir, 'last')}; continue with --resume ${runDir}`);
  }
}

interface OpenRun {
  runDir: string;
  def: ModelDef;
  data: PreparedData;
  program: Program;
  state: FitState;
  /** How idle threads wait, as printed. */
  spinWhy: string;
}

/** The model definition of a run: the seed model, with a head of `classes.length` outputs for a class subset. */
export function runModelDef(s: Pick<TrainSettings<string>, 'model' | 'options' | 'classes' | 'modelFile' | 'importFolder' | 'dataFolder' | 'input'>): ModelDef {
  if (isFolderRun(s)) return importRunModel(s);
  if (!isModelName(s.model)) throw new Error(`unknown model '${s.model}': name a seed model or give an ONNX file (--model path/to/model.onnx)`);
  if (s.classes) checkClasses(s.classes, buildModelDef(s.model, s.options).dataset);
  return buildModelDef(s.model, s.classes ? { ...s.options, numClasses: s.classes.length } : s.options);
}

/**
 * The folder a new run may use: absent, empty, or one this tool began that has no checkpoint yet (a run
 * stopped before its first epoch ended starts again). Anything else is refused, naming the fix.
 */
async function checkNewRunDir(runDir: string): Promise<void> {
  if (existsSync(runFile(runDir, 'last'))) throw new Error(`${runDir} already holds a run: continue it with --resume ${runDir}, or pass another --out`);
  const entries = (await readdir(runDir)).filter((e) => e !== LOCK_FILE && !e.endsWith('.tmp'));
  if (entries.length === 0) return;
  const cfg = existsSync(runFile(runDir, 'config')) ? await readJson<{ format?: string }>(runFile(runDir, 'config')).catch(() => null) : null;
  if (cfg?.format === 'onnxtrain-run/1') return;
  throw new Error(`${runDir} is not empty and holds no onnxtrain run (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): pass a new or empty folder with --out`);
}

/** The run's checkpoint to resume from, with a message that says what to do when there is none. */
async function resumeCheckpoint(runDir: string, model: string) {
  if (!existsSync(runFile(runDir, 'last'))) {
    throw new Error(`${runDir} has no checkpoint yet (it stopped before its first epoch ended): start it again with the same train command and --out ${runDir}`);
  }
  return loadCheckpoint<RunMeta>(runFile(runDir, 'last'), { model });
}

async function openRun(s: TrainSettings<string>, resume: boolean): Promise<OpenRun & { unlock: () => Promise<void> }> {
  const device = await checkDevice(s.device);
  if (device.why) s.log(`--device auto: ${device.provider}, since ${device.why}`);
  const def = runModelDef(s);
  const all = signature({ def, optimizer: s.optimizer }).all;
  const frozen = expandFrozen(all, s.frozen, s.model);
  if (s.fit && !s.dataFolder) throw new Error(`fit '${s.fit}' frames the images of an image folder; ${s.model} trains on its own dataset's images as they are: drop fit, or give dataFolder`);
  if (s.valSize === 0 && s.earlyStopping > 0) throw new Error('--early-stopping needs validation images: drop --val-size 0, or drop --early-stopping');
  const runDir = s.out ?? defaultRunDir(s.model);
  await checkWritable(runDir, `--out ${runDir}`);
  await makeDir(runDir);
  const unlock = await lockFolder(runDir, resume ? 'train --resume' : 'train');
  try {
    const ck = resume ? await resumeCheckpoint(runDir, s.model) : null;
    if (!ck) await checkNewRunDir(runDir);
    const init = resume ? undefined : s.initWeights ?? (s.init ? await loadInitWeights(s.init) : undefined);
    const data = isFolderRun(s)
      ? await prepareFolderData(s, def)
      : await prepareData(datasetOf(s.model as Parameters<typeof datasetOf>[0]), { seed: s.seed, valSize: s.valSize, dataDir: s.dataDir, download: s.download, classes: s.classes, limit: s.limit, log: s.log });
    if (data.train.indices.length < s.batchSize) {
      throw new Error(`only ${data.train.indices.length} training images are left after ${data.val.indices.length} for validation, fewer than one batch of ${s.batchSize}: use more images (--limit), a smaller --val-size or a smaller --batch-size`);
    }
    const spin = await resolveSpinning(s.spinning, s.threads, { ownWorkers: s.augment ? 1 : 0 });
    const program = await compile(def, { optimizer: s.optimizer, device: device.provider, threads: s.threads, spinning: spin.spinning, frozen, graphKind: s.graphKind, seed: s.seed });
    let state: FitState;
    if (ck) {
      program.load(ck.weights, ck.optimizerState, ck.meta.step);
      const { model: _model, ...fitState } = ck.meta;
      state = fitState;
      s.log(`Resuming ${runDir} after epoch ${state.epoch}${state.position ? ` and ${state.position.batchesDone} batches` : ''}`);
    } else {
      if (init) {
        const weights = initialWeights(program.signature.all, s.seed);
        const r = applyInitWeights(weights, init, program.signature.all, s.model);
        program.load(weights);
        s.log(`Initial weights from ${s.init ?? 'initWeights'}: ${r.loaded.length} tensors loaded` +
          (r.replaced.length ? `, new head ${r.replaced.join(', ')} (${def.options?.numClasses} classes)` : '') +
          (frozen.length ? `; frozen: ${frozen.join(', ')}` : ''));
      }
      await writeJsonAtomic(runFile(runDir, 'config'), runConfig(s, def));
      state = initialFitState(s.seed);
    }
    s.log(data.val.indices.length ? `${data.validation[0].toUpperCase()}${data.validation.slice(1)}` : 'No validation images (--val-size 0): best = last, and no early stopping');
    return { runDir, def, data, program, state, spinWhy: spin.why, unlock };
  } catch (e) {
    await unlock();
    throw e;
  }
}

/** "the last good checkpoint is X": only when X exists and its weights are finite. */
async function lastGood(runDir: string): Promise<string | null> {
  const last = runFile(runDir, 'last');
  if (!existsSync(last)) return null;
  return loadCheckpoint(last, { finite: true }).then(() => last, () => null);
}

/** The callbacks of a CLI run, in the order they act at each event. */
function runCallbacks(s: TrainSettings<string>, run: OpenRun): Callback[] {
  const { runDir } = run;
  const threads = s.threads ?? availableParallelism();
  const cbs: Callback[] = [
    nanStop({ lastGood: (epochs) => (epochs > 0 ? lastGood(runDir) : null) }),
    progressBar({ stream: s.progress === null ? null : s.progress ?? process.stderr }),
    checkpoints(runDir, { meta: { model: s.model } }),
    metricsFiles(runDir),
  ];
  if (s.spinning === 'auto' && run.program.settings.device === 'cpu' && threads > 1) cbs.push(spinWatch({ threads: s.threads, ownWorkers: s.augment ? 1 : 0 }));
  if (s.earlyStopping > 0) {
    cbs.push(earlyStopping({ patience: s.earlyStopping, loadBest: async () => {
      const ck = await loadCheckpoint<RunMeta>(runFile(runDir, 'best'));
      return { weights: ck.weights, optimizerState: ck.optimizerState, step: ck.meta.step };
    } }));
  }
  cbs.push(webSamples(runDir, { images: run.data.rawTest, classNames: classNamesOf(s, run.def) }));
  return cbs;
}

/** Train a seed model as the reference notebook does, writing the run folder; see README "Training runs". */
export async function train(s: TrainSettings<string>, resume?: { dir: string }, signal?: AbortSignal): Promise<TrainResult> {
  const run = await openRun(resume ? { ...s, out: resume.dir } : s, resume !== undefined);
  const { runDir, data, program } = run;
  try {
    const device = program.settings.device;
    // On a GPU provider: where the graphs run (nodes on the device, op types left to the CPU, copies per step).
    const where = device === 'cpu' ? '' : `: ${await describePlacement(program.graphs, device, { batch: s.batchSize, graphKind: s.graphKind })};`;
    s.log(`Training ${s.model} on ${data.info.name}: ${data.train.indices.length} train / ${data.val.indices.length} validation / ${data.test.n} test images, ` +
      `${s.epochs} epochs, batch ${s.batchSize}, ${s.optimizer.kind} lr ${s.optimizer.lr}; ${device}${where || ','} ${s.threads ?? availableParallelism()} threads, ${run.spinWhy} -> ${runDir}`);
    const history = await fit(program, data.train, {
      epochs: s.epochs, batchSize: s.batchSize, validation: data.val, callbacks: runCallbacks(s, run), signal, seed: s.seed,
      initialState: run.state, augment: s.augment, chunkSteps: s.chunkSteps, evalBatchSize: s.evalBatchSize, log: s.log, stopAfterSteps: s.stopAfterSteps,
    });
    if (history.stopped === 'interrupted') throw new Interrupted(runDir);
    const test = data.test.n ? await program.evaluate(data.test, s.evalBatchSize) : null;
    if (test) s.log(`Test Accuracy: ${(test.acc * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}, ${test.n} images)`);
    await finishRun(runDir, s, program, history.epochs, test, history.stopped);
    s.log(`Outputs in ${runDir}/ (model.onnx, metrics.csv, curves.png, last/best.safetensors, samples/)`);
    return { runDir, history: history.epochs, test, stopped: history.stopped };
  } finally {
    await program.release();
    await run.unlock();
  }
}
