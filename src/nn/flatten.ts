import type { BuildContext } from './context.js';
import type { Module } from './module.js';

/** nn.Flatten: [N, ...] -> [N, prod(...)]. */
export class Flatten implements Module {
  readonly type = 'Flatten';
  build(ctx: BuildContext, name: string, x: string): string {
    const y = ctx.b.op1('Flatten', [x], { axis: 1 });
    ctx.row({ name, type: this.type, outputShape: ctx.b.shape(y), params: 0, trainable: false, macs: 0 });
    return y;
  }
}
