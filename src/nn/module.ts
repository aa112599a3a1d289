import type { BuildContext } from './context.js';

/** A layer: configured by its constructor, it emits its nodes in `build(ctx, name, x) -> y`. */
export interface Module {
  readonly type: string;
  /** `name` is the PyTorch module path (e.g. `features.0`), the prefix of its state_dict entries. */
  build(ctx: BuildContext, name: string, x: string): string;
}

export const join = (prefix: string, child: string | number): string => (prefix ? `${prefix}.${child}` : String(child));
