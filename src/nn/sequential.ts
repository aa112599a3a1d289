import { Activation } from './activation.js';
import type { BuildContext } from './context.js';
import { join, type Module } from './module.js';
import { Pool2d } from './pool.js';

/**
 * ReLU followed by MaxPool2d: MaxPool(Relu(x)) = Relu(MaxPool(x)), and the gradients agree too, ties
 * included (a window whose maximum is <= 0 passes nothing either way; a positive maximum is the same first
 * tap of x and of Relu(x)). Pooling first runs the ReLU and its gradient on a quarter of the elements.
 */
function poolsBeforeRelu(a: Module, b: Module | undefined): b is Pool2d {
  return a instanceof Activation && a.kind === 'relu' && b instanceof Pool2d && b.kind === 'max';
}

/** nn.Sequential: children named 0, 1, 2, ... (or given names), applied in order. */
export class Sequential implements Module {
  readonly type = 'Sequential';
  readonly children: [string, Module][];

  constructor(children: Module[] | [string, Module][]) {
    this.children = children.map((c, i) => (Array.isArray(c) ? c : [String(i), c]));
  }

  build(ctx: BuildContext, name: string, x: string): string {
    for (let k = 0; k < this.children.length; k++) {
      const [child, m] = this.children[k];
      const next = this.children[k + 1];
      if (next && poolsBeforeRelu(m, next[1])) {
        const [poolName, pool] = [next[0], next[1] as Pool2d];
        const relu = m as Activation;
        const pooled = ctx.b.scope(poolName, () => pool.emit(ctx.b, x));
        const y = ctx.b.scope(child, () => relu.emit(ctx.b, pooled));
        ctx.row(relu.summaryRow(join(name, child), ctx.b.shape(x)));
        ctx.row(pool.summaryRow(join(name, poolName), ctx.b.shape(y)));
        x = y;
        k++;
        continue;
      }
      x = ctx.b.scope(child, () => m.build(ctx, join(name, child), x));
    }
    return x;
  }
}
