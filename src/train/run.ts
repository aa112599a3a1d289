/**
 * A training run as `npm run train` makes it: the run folder (README "Training runs") around a fit.
 * openRun prepares everything (new, resumed, or from --init weights); train composes fit's callbacks.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { loadCheckpoint } from '../artifacts/checkpoint.js';
import { prepareData, checkClasses, type PreparedData } from '../data/prepare.js';
import { initialWeights } from '../models/init.js';
import { buildModelDef, datasetOf, type ModelDef } from '../models/registry.js';
import { signature } from '../program/signature.js';
import { writeJsonAtomic } from '../util/fsx.js';
import { checkpoints, earlyStopping, metricsFiles, nanStop, progressBar, spinWatch, webSamples, type Callback } from './callbacks/index.js';
import { fit } from './fit.js';
import { initialFitState, type FitState } from './fit_state.js';
import { compile, type Program } from './program.js';
import { defaultRunDir, runFile } from './run_dir.js';
import { classNamesOf, finishRun, runConfig } from './run_outputs.js';
import type { TrainSettings } from './settings.js';
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
export function runModelDef(s: Pick<TrainSettings, 'model' | 'options' | 'classes'>): ModelDef {
  if (s.classes) checkClasses(s.classes, buildModelDef(s.model, s.options).dataset);
  return buildModelDef(s.model, s.classes ? { ...s.options, numClasses: s.classes.length } : s.options);
}

async function openRun(s: TrainSettings, resume: boolean): Promise<OpenRun> {
  await checkDevice(s.device);
  const def = runModelDef(s);
  const frozen = expandFrozen(signature({ def, optimizer: s.optimizer }).all, s.frozen, s.model);
  const runDir = s.out ?? defaultRunDir(s.model);
  if (!resume && existsSync(runFile(runDir, 'last'))) throw new Error(`${runDir} already holds a run: continue it with --resume ${runDir}, or pass another --out`);
  const init = resume ? undefined : s.initWeights ?? (s.init ? await loadInitWeights(s.init) : undefined);
  const data = await prepareData(datasetOf(s.model), { seed: s.seed, valSize: s.valSize, dataDir: s.dataDir, download: s.download, classes: s.classes, limit: s.limit, log: s.log });
  const spin = await resolveSpinning(s.spinning, s.threads, { ownWorkers: s.augment ? 1 : 0 });
  const program = await compile(def, { optimizer: s.optimizer, device: s.device, threads: s.threads, spinning: spin.spinning, frozen, graphKind: s.graphKind, seed: s.seed });
  let state: FitState;
  if (resume) {
    const ck = await loadCheckpoint<RunMeta>(runFile(runDir, 'last'));
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
    await mkdir(runDir, { recursive: true });
    await writeJsonAtomic(runFile(runDir, 'config'), runConfig(s, def));
    state = initialFitState(s.seed);
  }
  return { runDir, def, data, program, state, spinWhy: spin.why };
}

/** The callbacks of a CLI run, in the order they act at each event. */
function runCallbacks(s: TrainSettings, run: OpenRun): Callback[] {
  const { runDir } = run;
  const threads = s.threads ?? availableParallelism();
  const cbs: Callback[] = [
    nanStop({ lastGood: (epochs) => (epochs > 0 ? runFile(runDir, 'last') : null) }),
    progressBar({ stream: s.progress === null ? null : s.progress ?? process.stderr }),
    checkpoints(runDir, { meta: { model: s.model } }),
    metricsFiles(runDir),
  ];
  if (s.spinning === 'auto' && s.device === 'cpu' && threads > 1) cbs.push(spinWatch({ threads: s.threads, ownWorkers: s.augment ? 1 : 0 }));
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
export async function train(s: TrainSettings, resume?: { dir: string }, signal?: AbortSignal): Promise<TrainResult> {
  const run = await openRun(resume ? { ...s, out: resume.dir } : s, resume !== undefined);
  const { runDir, data, program } = run;
  try {
    s.log(`Training ${s.model} on ${data.info.name}: ${data.train.indices.length} train / ${data.val.indices.length} validation / ${data.test.n} test images, ` +
      `${s.epochs} epochs, batch ${s.batchSize}, ${s.optimizer.kind} lr ${s.optimizer.lr}; ${s.device}, ${s.threads ?? availableParallelism()} threads, ${run.spinWhy} -> ${runDir}`);
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
  }
}
