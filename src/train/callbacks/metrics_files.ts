import { writeMetrics } from '../../report/metrics.js';
import type { Callback } from './callback.js';

/** `<dir>/metrics.json` and `metrics.csv`, rewritten after every epoch with the whole history. */
export function metricsFiles(dir: string): Callback {
  return { onEpochEnd: (ctx) => writeMetrics(dir, ctx.state.history) };
}
