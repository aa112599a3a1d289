/** fit: the epoch loop (tfjs-layers' fitDataset), with everything else in callbacks. */
import type { AugmentSettings } from '../data/augment.js';
import { epochOrder, planBatches } from '../data/batches.js';
import { Rng } from '../data/rng.js';
import { TRAINING_DEFAULTS } from '../program/defaults.js';
import type { EpochMetrics } from '../report/metrics.js';
import { AugmentFeed } from './augment_feed.js';
import type { Callback, ChunkEnd, FitContext, History, StopReason } from './callbacks/callback.js';
import { trainEpoch, trainTensors, type EpochCursor, type EpochRunner } from './epoch.js';
import { afterEpoch, initialFitState, type FitState } from './fit_state.js';
import type { Program } from './program.js';
import { asView, type Samples } from '../data/view.js';

export interface FitOptions {
  /** Train until this many epochs are complete (counting those of `initialState`). Required. */
  epochs: number;
  /** Default 64. */
  batchSize?: number;
  /** Scored after every epoch. Default: none (validation loss NaN; no best epoch). */
  validation?: Samples;
  /** Default none. */
  callbacks?: Callback[];
  /** Stops training after the current chunk of steps; the position is kept in the history's state. */
  signal?: AbortSignal;
  /** Seeds the shuffling, dropout and augmentation streams of a fresh fit. Default 0. */
  seed?: number;
  /** Continue from this state (a checkpoint's metadata) instead of a fresh one. */
  initialState?: FitState;
  /** Seeded augmentation of training batches, prepared on a worker thread. Default none. */
  augment?: AugmentSettings;
  /** Steps per Loop run; callbacks' onBatchEnd runs between runs. Default 100. */
  chunkSteps?: number;
  /** Validation batch size. Default 1000. */
  evalBatchSize?: number;
  /** Print lines. Default console.log. */
  log?: (line: string) => void;
  /** Stop as the signal would after this many optimizer steps in this call (tests). Default: no limit. */
  stopAfterSteps?: number;
}

export async function fit(program: Program, samples: Samples, o: FitOptions): Promise<History> {
  const train = asView(samples);
  const callbacks = o.callbacks ?? [];
  const batchSize = o.batchSize ?? TRAINING_DEFAULTS.batchSize;
  const feed = o.augment ? AugmentFeed.create(train.split, { ...o.augment, normalization: program.def.dataset.normalization }) : null;
  let stopped: StopReason = 'done';
  const ctx = fitContext(program, o, (r) => (stopped = r));
  const runner: EpochRunner = {
    sessions: program.sessions, data: trainTensors(train.split), feed, graphKind: program.settings.graphKind, batchSize,
    chunkSteps: o.chunkSteps ?? TRAINING_DEFAULTS.chunkSteps, lr: program.optimizer.lr,
    budget: { steps: o.stopAfterSteps ?? Infinity }, stopRequested: () => o.signal?.aborted ?? false,
  };
  const emit = async <K extends keyof Callback>(hook: K, ...args: unknown[]) => {
    for (const cb of callbacks) await (cb[hook] as ((...a: unknown[]) => unknown) | undefined)?.call(cb, ctx, ...args);
  };
  try {
    await emit('onTrainBegin');
    while (ctx.state.epoch < o.epochs && stopped === 'done') {
      const s = ctx.state;
      const shuffle = Rng.fromState(s.rng.shuffle);
      const plan = planBatches(epochOrder(train.indices, shuffle), batchSize);
      const cursor: EpochCursor = {
        plan, total: plan.steps + (plan.remainder.length ? 1 : 0), noise: Rng.fromState(s.rng.noise),
        position: s.position ?? { batchesDone: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 },
        augment: s.rng.augment ?? Rng.fromSeed(o.seed ?? 0, 'augment').getState(),
      };
      const t0 = performance.now() - cursor.position.seconds * 1000;
      await emit('onEpochBegin', { epoch: s.epoch + 1, total: cursor.total });
      await trainEpoch(runner, cursor, (res) => emit('onBatchEnd', chunkEnd(res.losses, cursor)));
      // On a GPU the state stays on the device while the epoch trains; the epoch's callbacks read it.
      await program.sessions.syncHost();
      const rng = { shuffle: s.rng.shuffle, noise: cursor.noise.getState(), augment: cursor.augment };
      if (cursor.position.batchesDone < cursor.total) {
        // Stopped inside the epoch: keep where it stands, so that a resumed fit continues exactly here.
        ctx.state = { ...s, step: program.step, position: { ...cursor.position, seconds: (performance.now() - t0) / 1000 }, rng };
        stopped = 'interrupted';
        break;
      }
      const m = await epochMetrics(program, cursor, o, t0, s.epoch + 1);
      ctx.state = afterEpoch(s, m, program.step, { ...rng, shuffle: shuffle.getState() });
      await emit('onEpochEnd', m);
    }
    const history: History = { epochs: ctx.state.history, stopped, state: ctx.state };
    await emit('onTrainEnd', history);
    return history;
  } finally {
    await feed?.close();
  }
}

async function epochMetrics(program: Program, c: EpochCursor, o: FitOptions, t0: number, epoch: number): Promise<EpochMetrics> {
  const val = o.validation ? await program.evaluate(o.validation, o.evalBatchSize) : { loss: NaN, acc: NaN };
  const p = c.position;
  return { epoch, trainLoss: p.lossSum / p.seen, trainAcc: p.correct / p.seen, valLoss: val.loss, valAcc: val.acc, seconds: (performance.now() - t0) / 1000 };
}

function chunkEnd(losses: Float32Array, c: EpochCursor): ChunkEnd {
  const p = c.position;
  return { losses, done: p.batchesDone, total: c.total, loss: p.lossSum / p.seen, acc: p.correct / p.seen, samples: p.seen };
}

function fitContext(program: Program, o: FitOptions, stop: (r: StopReason) => void): FitContext & { state: FitState } {
  const hooks: (() => void)[] = [];
  const log = o.log ?? ((line: string) => console.log(line));
  return {
    program,
    epochs: o.epochs,
    state: o.initialState ?? initialFitState(o.seed ?? 0),
    stop,
    log: (line) => {
      hooks.forEach((h) => h());
      log(line);
    },
    beforeLog: (fn) => hooks.push(fn),
  };
}
