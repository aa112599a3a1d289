import type { GraphBuilder, OpOptions } from '../graph/builder.js';
import { castTo } from '../ops/shapes.js';

/** The values one parameter's update reads. */
export interface ParamIO {
  param: string;
  grad: string;
  /** Slot name -> this parameter's state value. */
  state: Record<string, string>;
}

/** Updated values of one parameter. */
export interface ParamUpdate {
  param: string;
  state: Record<string, string>;
}

/** Op options that name an updated value after its original (or leave a fresh name). */
export type NameFor = (original: string) => OpOptions;

/** Updates one parameter; built once per optimizer step after the shared scalars. */
export type ParamUpdater = (p: ParamIO, out: NameFor) => ParamUpdate;

/** float32 x * c; x itself when c is 1 (exact, so the node is dropped). */
export function scale(b: GraphBuilder, x: string, c: number): string {
  return c === 1 ? x : b.op1('Mul', [x, b.constant(c)]);
}

/** PyTorch's `grad.add(param, alpha=wd)`: g + wd p; g itself when wd is 0. */
export function l2(b: GraphBuilder, g: string, p: string, weightDecay: number): string {
  return weightDecay === 0 ? g : b.op1('Add', [g, scale(b, p, weightDecay)]);
}

/** PyTorch's `old.mul_(keep).add_(x, alpha=1 - keep)`: keep old + (1 - keep) x, float32. */
export function ema(b: GraphBuilder, old: string, keep: number, x: string, opts: OpOptions): string {
  return b.op1('Add', [scale(b, old, keep), scale(b, x, 1 - keep)], {}, opts);
}

/** t = step + 1 as a float64 scalar (PyTorch's state['step'] after `step_t += 1`). */
export function stepCount(b: GraphBuilder, step: string): string {
  const t = b.op1('Add', [castTo(b, step, 'float64'), b.constant(1, 'float64')]);
  b.refine(t, []);
  return t;
}

/** float64 scalar c ** t. */
export function pow(b: GraphBuilder, c: number, t: string): string {
  return b.op1('Pow', [b.constant(c, 'float64'), t]);
}
