import type { Callback } from './callback.js';

export class NonFiniteLoss extends Error {
  override name = 'NonFiniteLoss';
}

export interface NanStopSettings {
  /** Names the checkpoint to go back to, given the completed epochs; default: none named. */
  lastGood?: (epochs: number) => string | null | Promise<string | null>;
}

/** Stop with NonFiniteLoss at the first NaN or infinite loss, naming the step and what to do. */
export function nanStop(s: NanStopSettings = {}): Callback {
  return {
    onBatchEnd: async (ctx, c) => {
      const i = c.losses.findIndex((l) => !Number.isFinite(l));
      if (i < 0) return;
      const { epoch } = ctx.state;
      const step = ctx.program.step - c.losses.length + i + 1;
      const back = await s.lastGood?.(epoch);
      throw new NonFiniteLoss(`loss became ${c.losses[i]} at epoch ${epoch + 1}, step ${step}: lower --lr (now ${ctx.program.optimizer.lr}); ` +
        (back ? `the last good checkpoint is ${back} (epoch ${epoch})` : 'no checkpoint was saved'));
    },
  };
}
