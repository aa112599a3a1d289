import { saveCheckpoint } from '../../artifacts/checkpoint.js';
import type { FitState } from '../fit_state.js';
import type { Program } from '../program.js';
import { runFile } from '../run_dir.js';
import type { Callback } from './callback.js';

/** Save the program's weights, optimizer state and `meta` (the fit state, plus `extra`) atomically. */
export function saveRunCheckpoint(path: string, program: Program, state: FitState, extra: Record<string, unknown> = {}): Promise<void> {
  return saveCheckpoint(path, { weights: program.weights(), optimizerState: program.optimizerState(), meta: { ...extra, ...state } });
}

export interface CheckpointSettings {
  /** Stored in every checkpoint's metadata beside the fit state (e.g. { model: 'simple-mlp' }). Default none. */
  meta?: Record<string, unknown>;
}

/**
 * `<dir>/last.safetensors` after every epoch and at an interruption (with the position inside the epoch),
 * `<dir>/best.safetensors` whenever the validation loss improves. Each write is atomic.
 */
export function checkpoints(dir: string, s: CheckpointSettings = {}): Callback {
  const save = (file: 'last' | 'best', program: Program, state: FitState) => saveRunCheckpoint(runFile(dir, file), program, state, s.meta);
  return {
    onEpochEnd: async (ctx) => {
      if (ctx.state.stale === 0) await save('best', ctx.program, ctx.state);
      await save('last', ctx.program, ctx.state);
    },
    onTrainEnd: async (ctx, h) => {
      if (h.stopped === 'interrupted') await save('last', ctx.program, h.state);
    },
  };
}
