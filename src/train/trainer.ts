import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { loadCheckpoint, saveCheckpoint } from '../artifacts/checkpoint.js';
import * as G from '../artifacts/graphs.js';
import { zeroState } from '../artifacts/build.js';
import { epochOrder, gatherBatch, planBatches, type BatchPlan } from '../data/batches.js';
import { Rng, type RngState } from '../data/rng.js';
import type { Tensor } from '../graph/tensor.js';
import { initialWeights } from '../models/init.js';
import { buildModelDef, type ModelDef } from '../models/registry.js';
import { modelSummary } from '../models/summary.js';
import { encodeModel } from '../onnx/model.js';
import { formatEpochLine, writeMetrics, type EpochMetrics } from '../report/metrics.js';
import { renderCurves } from '../report/plot.js';
import { ProgressBar } from '../report/progress.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { writeSampleImages } from '../web/samples.js';
import { checkClasses, prepareData } from './data.js';
import { AugmentFeed, type AugmentedRows } from './augment_feed.js';
import { Runner } from './runner.js';
import { defaultRunDir, runFile } from './run_dir.js';
import { checkDevice } from './session.js';
import { resolveSpinning, SpinWatch } from './spinning.js';
import type { TrainSettings } from './settings.js';
import type { NormalizedSplit } from '../data/normalize.js';
import { applyInitWeights, expandFrozen, loadInitWeights } from './transfer.js';

/** Where a run stands; saved in every checkpoint so that `--resume` continues exactly. */
export interface RunMeta {
  model: string;
  /** Completed epochs. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  /** Inside an epoch that a stop interrupted: batches done and the running sums so far. */
  position: { batchesDone: number; lossSum: number; correct: number; seen: number; seconds: number } | null;
  /** augment: the augmentation stream (absent in checkpoints from before augmentation existed). */
  rng: { shuffle: RngState; noise: RngState; augment?: RngState };
  history: EpochMetrics[];
  best: { valLoss: number; epoch: number } | null;
  /** Epochs since the validation loss last improved (early stopping). */
  stale: number;
}

export interface TrainResult {
  runDir: string;
  history: EpochMetrics[];
  test: { loss: number; acc: number; n: number } | null;
  /** Why training ended. */
  stopped: 'done' | 'early-stopping' | 'interrupted';
}

/** Raised after a stop request (Ctrl-C) has saved the run: exit quietly with code 130. */
export class Interrupted extends Error {
  constructor(readonly runDir: string) {
    super(`interrupted: saved ${runFile(runDir, 'last')}; continue with --resume ${runDir}`);
    this.name = 'Interrupted';
  }
}

export class NonFiniteLoss extends Error {
  override name = 'NonFiniteLoss';
}

/** The run's config.json: the settings, plus what prediction and the web page need. */
export function runConfig(s: TrainSettings, def: ModelDef) {
  return {
    format: 'onnxtrain-run/1',
    model: s.model,
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
    valSize: s.valSize,
    earlyStopping: s.earlyStopping,
    limit: s.limit ?? null,
    frozen: s.frozen,
    init: s.init ?? null,
    augment: s.augment ?? null,
    runner: s.runner,
    device: s.device,
  };
}

/** The class names of the run's outputs: the dataset's, or those of the --classes subset in its order. */
export function classNamesOf(s: Pick<TrainSettings, 'classes'>, def: ModelDef): string[] {
  return s.classes ? s.classes.map((c) => def.dataset.classNames[c]) : def.dataset.classNames.slice(0, def.options.numClasses);
}

/** Train a model as the reference notebook does, writing the run folder; see README "Training runs". */
export async function train(s: TrainSettings, resumeMeta?: { dir: string }): Promise<TrainResult> {
  await checkDevice(s.device);
  if (s.classes) checkClasses(s.classes, buildModelDef(s.model, s.options).dataset);
  const def = buildModelDef(s.model, s.classes ? { ...s.options, numClasses: s.classes.length } : s.options);
  const frozen = expandFrozen(G.signature({ def, optimizer: s.optimizer }).all, s.frozen, s.model);
  const gs: G.GraphSettings = { def, optimizer: s.optimizer, frozen };
  const sig = G.signature(gs);
  const runDir = resumeMeta?.dir ?? s.out ?? defaultRunDir(s.model);
  const init = resumeMeta ? undefined : s.initWeights ?? (s.init ? await loadInitWeights(s.init) : undefined);
  const log = s.log;

  const data = await prepareData(def.dataset, { seed: s.seed, valSize: s.valSize, dataDir: s.dataDir, download: s.download, classes: s.classes, limit: s.limit, log });
  const threads = s.threads ?? availableParallelism();
  const spin = await resolveSpinning(s.spinning, s.threads, { ownWorkers: s.augment ? 1 : 0 });
  const runner = await Runner.create(gs, { device: s.device, threads: s.threads, spinning: spin.spinning, runner: s.runner });

  let meta: RunMeta;
  if (resumeMeta) {
    const ck = await loadCheckpoint<RunMeta>(runFile(runDir, 'last'));
    runner.load(ck.weights, ck.optimizerState, ck.meta.step);
    meta = ck.meta;
    log(`Resuming ${runDir} after epoch ${meta.epoch}${meta.position ? ` and ${meta.position.batchesDone} batches` : ''}`);
  } else {
    if (existsSync(runFile(runDir, 'last'))) throw new Error(`${runDir} already holds a run: continue it with --resume ${runDir}, or pass another --out`);
    await mkdir(runDir, { recursive: true });
    const weights = initialWeights(sig.all, s.seed);
    if (init) {
      const r = applyInitWeights(weights, init, sig.all, s.model);
      log(`Initial weights from ${s.init ?? 'initWeights'}: ${r.loaded.length} tensors loaded` +
        (r.replaced.length ? `, new head ${r.replaced.join(', ')} (${def.options.numClasses} classes)` : '') +
        (frozen.length ? `; frozen: ${frozen.join(', ')}` : ''));
    }
    runner.load(weights, zeroState(sig), 0);
    meta = {
      model: s.model, epoch: 0, step: 0, position: null,
      rng: { shuffle: Rng.fromSeed(s.seed, 'shuffle').getState(), noise: Rng.fromSeed(s.seed, 'dropout').getState(), augment: Rng.fromSeed(s.seed, 'augment').getState() },
      history: [], best: null, stale: 0,
    };
    await writeJsonAtomic(runFile(runDir, 'config'), runConfig(s, def));
  }
  log(`Training ${s.model} on ${def.dataset.name}: ${data.trainIdx.length} train / ${data.valIdx.length} validation / ${data.test.n} test images, ` +
    `${s.epochs} epochs, batch ${s.batchSize}, ${s.optimizer.kind} lr ${s.optimizer.lr}; ${s.device}, ${threads} threads, ${spin.why} -> ${runDir}`);

  const save = async (file: 'last' | 'best') =>
    saveCheckpoint(runFile(runDir, file), { weights: runner.weights(), optimizerState: runner.optimizerState(), meta });

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\nstopping after the current chunk (Ctrl-C again to quit without saving)\n');
  };
  process.on('SIGINT', onSigint);
  const budget = { steps: s.stopAfterSteps ?? Infinity };
  let stopped: TrainResult['stopped'] = 'done';
  const feed = s.augment ? AugmentFeed.create(data.train, { ...s.augment, normalization: def.dataset.normalization }) : null;
  const imagesTensor = new ort.Tensor('float32', data.train.images, [data.train.n, data.train.channels, data.train.height, data.train.width]);
  const labelsTensor = new ort.Tensor('int64', BigInt64Array.from(data.train.labels, (v) => BigInt(v)), [data.train.n]);
  const imageDims = [data.train.channels, data.train.height, data.train.width];
  const watch = s.spinning === 'auto' && s.device === 'cpu' && threads > 1 ? new SpinWatch(s.threads, s.augment ? 1 : 0) : null;
  const afterChunk = watch ? async (progress: ProgressBar | null) => {
    const d = watch.check(runner.spinning);
    if (!d) return;
    progress?.clearLine();
    log(d.spinning ? 'Spinning on: the cores are free again' : `Spinning off: ${d.why.replace(/^no spinning: /, '')}`);
    await runner.setSpinning(d.spinning);
  } : undefined;

  try {
    while (meta.epoch < s.epochs) {
      const shuffle = Rng.fromState(meta.rng.shuffle);
      const noise = Rng.fromState(meta.rng.noise);
      const plan = planBatches(epochOrder(data.trainIdx, shuffle), s.batchSize);
      const pos = meta.position ?? { batchesDone: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      const total = plan.steps + (plan.remainder.length ? 1 : 0);
      const t0 = performance.now() - pos.seconds * 1000;
      const progress = s.progress === null ? null : new ProgressBar({ total, label: `Epoch ${meta.epoch + 1}/${s.epochs}`, stream: s.progress ?? process.stderr, initial: { done: pos.batchesDone, samples: pos.seen } });
      const augState = await trainSteps({ s, plan, total, pos, runner, noise, feed, progress, budget, stop: () => stopRequested,
        augState: meta.rng.augment ?? Rng.fromSeed(s.seed, 'augment').getState(), data: { images: imagesTensor, labels: labelsTensor, split: data.train, dims: imageDims },
        epoch: meta.epoch, runDir, afterChunk });
      progress?.finish({ clear: true });

      if (pos.batchesDone < total) {
        // Stopped inside the epoch: save where we are so that --resume continues exactly here.
        pos.seconds = (performance.now() - t0) / 1000;
        meta = { ...meta, step: runner.step, position: pos, rng: { shuffle: meta.rng.shuffle, noise: noise.getState(), augment: augState } };
        await save('last');
        stopped = 'interrupted';
        break;
      }

      const val = await runner.evaluate(data.train, data.valIdx, s.evalBatchSize);
      const m: EpochMetrics = {
        epoch: meta.epoch + 1,
        trainLoss: pos.lossSum / pos.seen,
        trainAcc: pos.correct / pos.seen,
        valLoss: val.loss,
        valAcc: val.acc,
        seconds: (performance.now() - t0) / 1000,
      };
      const improved = !meta.best || m.valLoss < meta.best.valLoss;
      meta = {
        ...meta,
        epoch: meta.epoch + 1,
        step: runner.step,
        position: null,
        rng: { shuffle: shuffle.getState(), noise: noise.getState(), augment: augState },
        history: [...meta.history, m],
        best: improved ? { valLoss: m.valLoss, epoch: m.epoch } : meta.best,
        stale: improved ? 0 : meta.stale + 1,
      };
      log(formatEpochLine(m, s.epochs));
      if (improved) await save('best');
      await save('last');
      await writeMetrics(runDir, meta.history);
      if (s.earlyStopping > 0 && meta.stale >= s.earlyStopping) {
        log(`Early stopping: validation loss has not improved for ${meta.stale} epochs; restoring the weights of epoch ${meta.best!.epoch}`);
        stopped = 'early-stopping';
        break;
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    await feed?.close();
  }

  if (stopped === 'interrupted') {
    await runner.release();
    throw new Interrupted(runDir);
  }
  if (stopped === 'early-stopping') {
    const best = await loadCheckpoint(runFile(runDir, 'best'));
    runner.load(best.weights, best.optimizerState, best.meta.step as number);
  }
  const test = data.test.n ? await runner.evaluate(data.test, Int32Array.from({ length: data.test.n }, (_, i) => i), s.evalBatchSize) : null;
  if (test) log(`Test Accuracy: ${(test.acc * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}, ${test.n} images)`);
  await finishRun(runDir, s, gs, runner.weights(), meta.history, test, stopped);
  const t = data.rawTest;
  await writeSampleImages({ dir: join(runDir, 'samples'), images: t.images, labels: t.labels, shape: [t.channels, t.height, t.width], classNames: classNamesOf(s, def) });
  await runner.release();
  log(`Outputs in ${runDir}/ (model.onnx, metrics.csv, curves.png, last/best.safetensors, samples/)`);
  return { runDir, history: meta.history, test, stopped };
}

interface StepsContext {
  s: TrainSettings;
  plan: BatchPlan;
  /** Batches in the epoch, the last partial one included. */
  total: number;
  /** Running position and sums of the epoch, updated in place. */
  pos: { batchesDone: number; lossSum: number; correct: number; seen: number };
  runner: Runner;
  noise: Rng;
  feed: AugmentFeed | null;
  progress: ProgressBar | null;
  /** Steps this process may still take (tests stop runs with it). */
  budget: { steps: number };
  stop: () => boolean;
  /** The augmentation generator state after the last chunk trained. */
  augState: RngState;
  data: { images: ort.Tensor; labels: ort.Tensor; split: NormalizedSplit; dims: number[] };
  /** Completed epochs (this one is epoch + 1) and the run folder, for messages. */
  epoch: number;
  runDir: string;
  /** Runs between chunks (spinning follows the machine's load); it erases the bar before it prints. */
  afterChunk?: (progress: ProgressBar | null) => Promise<void>;
}

/**
 * Train the rest of an epoch's batches from pos.batchesDone, in Loop chunks (or single steps), until the
 * epoch ends or a stop is requested. Returns the augmentation generator state to save.
 */
async function trainSteps(c0: StepsContext): Promise<RngState> {
  const { s, plan, total, pos, runner, noise, feed, progress, budget, stop, data, epoch, runDir } = c0;
  let augState = c0.augState;
  const lr = s.optimizer.lr;
  // A chunk: `rows` Loop steps from batch k, or one single step (the step runner, the last partial batch).
  const chunkAt = (k: number, left: number) => {
    const loop = k < plan.steps && s.runner === 'loop';
    const rows = loop ? Math.min(s.chunkSteps, plan.steps - k, left) : 1;
    return { k, rows, loop, indices: loop ? plan.full.subarray(k * s.batchSize, (k + rows) * s.batchSize) : batchRows(plan, k, s.batchSize) };
  };
  // With augmentation the worker prepares the next chunk while this one trains. The generator state
  // kept in meta is the one after the last chunk trained, so a stop discards any prefetched chunk.
  const prefetch = (k: number, left: number, restart: boolean) => {
    if (!feed || k >= total || left <= 0) return null;
    const c = chunkAt(k, left);
    const ready = feed.request(c.indices, restart ? augState : undefined);
    ready.catch(() => {});
    return { ...c, ready };
  };
  let next = prefetch(pos.batchesDone, budget.steps, true);

  while (pos.batchesDone < total) {
    if (stop() || budget.steps <= 0) break;
    const k = pos.batchesDone;
    let res;
    if (next) {
      const c = next;
      const rows: AugmentedRows = await c.ready;
      next = prefetch(k + c.rows, budget.steps - c.rows, false);
      res = c.loop
        ? await runner.trainLoop({ images: new ort.Tensor('float32', rows.images, [rows.n, ...data.dims]), labels: new ort.Tensor('int64', rows.labels, [rows.n]) },
          identityIndices(rows.n), c.rows, s.batchSize, lr, noise)
        : await runner.trainStep(rows, data.dims, lr, noise);
      augState = rows.state;
    } else {
      const c = chunkAt(k, budget.steps);
      res = c.loop
        ? await runner.trainLoop({ images: data.images, labels: data.labels }, c.indices, c.rows, s.batchSize, lr, noise)
        : await runner.trainStep(gatherBatch(data.split, c.indices), data.dims, lr, noise);
    }
    for (let i = 0; i < res.losses.length; i++) {
      if (!Number.isFinite(res.losses[i])) {
        throw new NonFiniteLoss(`loss became ${res.losses[i]} at epoch ${epoch + 1}, step ${runner.step - res.losses.length + i + 1}: lower --lr (now ${lr}); ` +
          (epoch > 0 ? `the last good checkpoint is ${runFile(runDir, 'last')} (epoch ${epoch})` : 'no checkpoint was saved'));
      }
      pos.lossSum += res.losses[i] * res.sizes[i];
      pos.correct += res.corrects[i];
      pos.seen += res.sizes[i];
    }
    pos.batchesDone += res.losses.length;
    budget.steps -= res.losses.length;
    progress?.update(pos.batchesDone, { loss: pos.lossSum / pos.seen, acc: pos.correct / pos.seen, samples: pos.seen });
    await c0.afterChunk?.(progress);
  }
  return augState;
}

const identities = new Map<number, BigInt64Array>();
/** 0..n-1: the batch_indices of a chunk whose rows are already gathered in order. */
function identityIndices(n: number): BigInt64Array {
  let v = identities.get(n);
  if (!v) identities.set(n, (v = BigInt64Array.from({ length: n }, (_, i) => BigInt(i))));
  return v;
}

function batchRows(plan: BatchPlan, k: number, batchSize: number): BigInt64Array {
  return k < plan.steps ? plan.full.subarray(k * batchSize, (k + 1) * batchSize) : plan.remainder;
}

/** model.onnx (eval graph with the weights), curves, summary and results. */
async function finishRun(runDir: string, s: TrainSettings, gs: G.GraphSettings, weights: Map<string, Tensor>, history: EpochMetrics[], test: TrainResult['test'], stopped: TrainResult['stopped']) {
  const cfg = runConfig(s, gs.def);
  await writeFileAtomic(runFile(runDir, 'model'), encodeModel(G.buildEvalGraph(gs, weights), {
    metadata: { model: s.model, classNames: JSON.stringify(cfg.classNames), normalization: JSON.stringify(cfg.normalization) },
  }));
  if (history.length) await writeFileAtomic(runFile(runDir, 'curves'), await renderCurves(history, { title: `${s.model}` }));
  const results = { model: s.model, epochs: history.length, stopped, test, best: history.reduce<EpochMetrics | null>((b, m) => (!b || m.valLoss < b.valLoss ? m : b), null), final: history.at(-1) ?? null };
  await writeJsonAtomic(runFile(runDir, 'results'), results);
  const lines = [
    modelSummary(s.model, gs.def.options),
    '',
    ...history.map((m) => formatEpochLine(m, s.epochs)),
    test ? `Test Accuracy: ${(test.acc * 100).toFixed(2)}% (loss ${test.loss.toFixed(4)}, ${test.n} images)` : 'No test set.',
  ];
  await writeFileAtomic(runFile(runDir, 'summary'), lines.join('\n') + '\n');
}

