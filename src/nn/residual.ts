import type { BuildContext } from './context.js';
import { join, type Module } from './module.js';

/** y = act(body(x) + shortcut(x)); the shortcut is the identity unless given (e.g. a 1x1 Conv2d). */
export class Residual implements Module {
  readonly type = 'Residual';
  constructor(readonly body: Module, readonly shortcut?: Module, readonly activation?: Module) {}

  build(ctx: BuildContext, name: string, x: string): string {
    const b = ctx.b;
    const main = b.scope('body', () => this.body.build(ctx, join(name, 'body'), x));
    const skip = this.shortcut ? b.scope('shortcut', () => this.shortcut!.build(ctx, join(name, 'shortcut'), x)) : x;
    let y = b.op1('Add', [main, skip]);
    if (this.activation) y = b.scope('act', () => this.activation!.build(ctx, join(name, 'act'), y));
    return y;
  }
}
