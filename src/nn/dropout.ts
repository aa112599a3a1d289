import { noise } from '../graph/names.js';
import type { BuildContext } from './context.js';
import type { Module } from './module.js';

/**
 * nn.Dropout(p). Training multiplies by a mask input `<name>.noise` of the activation's shape holding 0 or
 * 1/(1-p), drawn by the trainer from the run's seeded generator (so a resumed run repeats it exactly).
 * Evaluation is the identity and emits nothing.
 */
export class Dropout implements Module {
  readonly type = 'Dropout';
  constructor(readonly p: number) {
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout p must be in [0, 1), got ${p}`);
  }

  build(ctx: BuildContext, name: string, x: string): string {
    const shape = ctx.b.shape(x);
    const y = ctx.mode === 'train' && this.p > 0 ? ctx.b.op1('Mul', [x, ctx.noiseInput(noise(name), shape, this.p)]) : x;
    ctx.row({ name, type: this.type, outputShape: shape, params: 0, trainable: false, macs: 0 });
    return y;
  }
}
