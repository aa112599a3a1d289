import type { BuildContext } from './context.js';
import { join, type Module } from './module.js';

/** nn.Sequential: children named 0, 1, 2, ... (or given names), applied in order. */
export class Sequential implements Module {
  readonly type = 'Sequential';
  readonly children: [string, Module][];

  constructor(children: Module[] | [string, Module][]) {
    this.children = children.map((c, i) => (Array.isArray(c) ? c : [String(i), c]));
  }

  build(ctx: BuildContext, name: string, x: string): string {
    for (const [child, m] of this.children) x = ctx.b.scope(child, () => m.build(ctx, join(name, child), x));
    return x;
  }
}
