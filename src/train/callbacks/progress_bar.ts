import { formatEpochLine } from '../../report/metrics.js';
import { ProgressBar, type ProgressStream } from '../../report/progress.js';
import type { Callback } from './callback.js';

export interface ProgressBarSettings {
  /** Where the bar is drawn; nothing is drawn unless it is a terminal. null: no bar. Default process.stderr. */
  stream?: ProgressStream | null;
}

/** A bar while each epoch trains, and the reference notebook's line after it. */
export function progressBar(s: ProgressBarSettings = {}): Callback {
  let bar: ProgressBar | null = null;
  const finish = () => {
    bar?.finish({ clear: true });
    bar = null;
  };
  return {
    onTrainBegin: (ctx) => ctx.beforeLog(() => bar?.clearLine()),
    onEpochBegin: (ctx, { epoch, total }) => {
      if (s.stream === null) return;
      const p = ctx.state.position;
      bar = new ProgressBar({ total, label: `Epoch ${epoch}/${ctx.epochs}`, stream: s.stream ?? process.stderr, initial: { done: p?.batchesDone ?? 0, samples: p?.seen ?? 0 } });
    },
    onBatchEnd: (_ctx, c) => bar?.update(c.done, { loss: c.loss, acc: c.acc, samples: c.samples }),
    onEpochEnd: (ctx, m) => {
      finish();
      ctx.log(formatEpochLine(m, ctx.epochs));
    },
    onTrainEnd: finish,
  };
}
