import { SpinWatch } from '../spinning.js';
import type { Callback } from './callback.js';

export interface SpinWatchSettings {
  /** The run's intra-op threads (undefined: one per core). */
  threads?: number;
  /** Busy threads of this process besides onnxruntime's (the augmentation worker). Default 0. */
  ownWorkers?: number;
}

/**
 * Between chunks, follow the machine's load: when other processes take a core, or give it back, for two
 * readings in a row, rebuild the sessions with spinning off or on, and say so. The state carries over.
 */
export function spinWatch(s: SpinWatchSettings = {}): Callback {
  let watch: SpinWatch | null = null;
  return {
    onTrainBegin: () => {
      watch = new SpinWatch(s.threads, s.ownWorkers ?? 0);
    },
    onBatchEnd: async (ctx) => {
      const d = watch?.check(ctx.program.sessions.spinning);
      if (!d) return;
      ctx.log(d.spinning ? 'Spinning on: the cores are free again' : `Spinning off: ${d.why.replace(/^no spinning: /, '')}`);
      await ctx.program.setSpinning(d.spinning);
    },
  };
}
