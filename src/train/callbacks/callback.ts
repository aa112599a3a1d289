import type { EpochMetrics } from '../../report/metrics.js';
import type { FitState } from '../fit_state.js';
import type { Program } from '../program.js';

/** Why fit ended. */
export type StopReason = 'done' | 'early-stopping' | 'interrupted';

export interface History {
  epochs: EpochMetrics[];
  stopped: StopReason;
  state: FitState;
}

/** What a callback sees: the program being trained, the live state, a way to stop and to print. */
export interface FitContext {
  readonly program: Program;
  /** Epochs asked for. */
  readonly epochs: number;
  /** The state as of the last event; replaced (not mutated) by fit. */
  readonly state: FitState;
  /** Stop after the current epoch, for this reason. */
  stop(reason: StopReason): void;
  /** Print a line (progress bars clear themselves first). */
  log(line: string): void;
  /** Run before every log line: a progress bar registers its clearing here. */
  beforeLog(fn: () => void): void;
}

/** A chunk of steps just trained: its per-step losses and where the epoch stands. */
export interface ChunkEnd {
  losses: Float32Array;
  /** Batches of this epoch done, and in all. */
  done: number;
  total: number;
  /** Running mean loss, accuracy and samples seen over the epoch so far. */
  loss: number;
  acc: number;
  samples: number;
}

/** tfjs-layers' callback surface: each hook optional, awaited in the order the callbacks are given. */
export interface Callback {
  onTrainBegin?(ctx: FitContext): void | Promise<void>;
  onEpochBegin?(ctx: FitContext, info: { epoch: number; total: number }): void | Promise<void>;
  /** After each chunk of steps (one onnxruntime run). */
  onBatchEnd?(ctx: FitContext, chunk: ChunkEnd): void | Promise<void>;
  onEpochEnd?(ctx: FitContext, metrics: EpochMetrics): void | Promise<void>;
  onTrainEnd?(ctx: FitContext, history: History): void | Promise<void>;
}
