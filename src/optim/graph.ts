import { GraphBuilder } from '../graph/builder.js';
import type { Graph } from '../graph/ir.js';
import * as names from '../graph/names.js';
import { stateSlots } from './settings.js';
import { buildOptimizerStep } from './step.js';
import type { OptimizerSettings } from './types.js';

export interface OptimizedParam {
  name: string;
  shape: number[];
}

/**
 * The standalone optimizer graph (optimizer.onnx): one update step.
 *
 * Inputs, in order:
 *   1. `learning_rate`  float32 []
 *   2. `step`           int64 [], updates already applied (PyTorch's state['step'] before the update)
 *   3. every parameter  float32, its shape, in `params` order
 *   4. every gradient   names.grad(p), float32, the parameter's shape, in parameter order
 *   5. optimizer state  names.state(p, slot), float32, the parameter's shape: for each slot of
 *                       stateSlots(settings) in slot order, every parameter in parameter order
 * Outputs, in order:
 *   1. names.updated(p) for every parameter, in parameter order
 *   2. names.updated(names.state(p, slot)), in the same order as the state inputs
 * Feed each output back as the input of the same name without `.new` for the next step, with step + 1.
 * State inputs are zeros before the first step.
 */
export function buildOptimizerGraph(settings: OptimizerSettings, params: OptimizedParam[]): Graph {
  if (params.length === 0) throw new Error('buildOptimizerGraph: no parameters: pass at least one {name, shape}');
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) throw new Error(`buildOptimizerGraph: parameter '${p.name}' listed twice: pass each parameter once`);
    seen.add(p.name);
  }
  const slots = stateSlots(settings);
  const b = new GraphBuilder(`optimizer_${settings.kind}`);
  const learningRate = b.input(names.LEARNING_RATE, 'float32', []);
  const step = b.input(names.STEP, 'int64', []);
  const ps = params.map((p) => b.input(p.name, 'float32', p.shape));
  const grads = params.map((p) => b.input(names.grad(p.name), 'float32', p.shape));
  const state = Object.fromEntries(
    slots.map((slot) => [slot, params.map((p) => b.input(names.state(p.name, slot), 'float32', p.shape))]),
  );
  const out = buildOptimizerStep(b, settings, { learningRate, step, params: ps, grads, state }, { outputName: names.updated });
  for (const p of out.params) b.output(p);
  for (const slot of slots) for (const v of out.state[slot]) b.output(v);
  return b.graph;
}
