import type { GraphBuilder } from '../graph/builder.js';
import type { Dim } from '../graph/ir.js';
import { adam } from './adam.js';
import type { NameFor, ParamUpdater } from './ops.js';
import { rmsprop } from './rmsprop.js';
import { stateSlots, validateOptimizerSettings } from './settings.js';
import { sgd } from './sgd.js';
import type { OptimizerInputs, OptimizerOutputs, OptimizerSettings } from './types.js';

export interface OptimizerStepOptions {
  /** Name each updated value after its original (the lead passes names.updated); default fresh names. */
  outputName?: (name: string) => string;
}

/**
 * Appends one optimizer update to `b` (a training graph, or the body of an ONNX Loop) and returns the
 * updated parameters and state, in the order of `io`. Reads `io.learningRate` (float32 scalar) and
 * `io.step` (int64 scalar, updates already applied; bias corrections use t = step + 1). All state slots
 * start at zeros (see stateSlots). The graph values it creates live under the scope 'optimizer'.
 */
export function buildOptimizerStep(
  b: GraphBuilder,
  settings: OptimizerSettings,
  io: OptimizerInputs,
  opts: OptimizerStepOptions = {},
): OptimizerOutputs {
  validateOptimizerSettings(settings);
  const slots = stateSlots(settings);
  checkInputs(b, settings, slots, io);
  const out: NameFor = opts.outputName ? (name) => ({ outputs: [opts.outputName!(name)] }) : () => ({});

  return b.scope('optimizer', () => {
    const update = updater(b, settings, io.learningRate, io.step);
    const result: OptimizerOutputs = { params: [], state: Object.fromEntries(slots.map((slot) => [slot, []])) };
    io.params.forEach((param, i) => {
      const state = Object.fromEntries(slots.map((slot) => [slot, io.state[slot][i]]));
      const u = b.scope(param, () => update({ param, grad: io.grads[i], state }, out));
      result.params.push(u.param);
      for (const slot of slots) result.state[slot].push(u.state[slot]);
    });
    return result;
  });
}

function updater(b: GraphBuilder, s: OptimizerSettings, lr: string, step: string): ParamUpdater {
  switch (s.kind) {
    case 'adam':
    case 'adamw':
      return adam(b, s, lr, step);
    case 'sgd':
      return sgd(b, s, lr, step);
    case 'rmsprop':
      return rmsprop(b, s, lr);
  }
}

function checkInputs(b: GraphBuilder, s: OptimizerSettings, slots: string[], io: OptimizerInputs): void {
  const fail = (msg: string): never => {
    throw new Error(`buildOptimizerStep (${s.kind}): ${msg}`);
  };
  const expectType = (name: string, dtype: string, shape?: Dim[]): void => {
    const v = b.info(name);
    if (v.dtype !== dtype) fail(`'${name}' is ${v.dtype}: it must be ${dtype}`);
    if (shape && v.shape && (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i]))) {
      fail(`'${name}' has shape [${v.shape}]: it must have shape [${shape}]`);
    }
  };
  expectType(io.learningRate, 'float32', []);
  expectType(io.step, 'int64', []);
  if (io.grads.length !== io.params.length) {
    fail(`${io.params.length} params but ${io.grads.length} grads: pass one gradient per parameter, in parameter order`);
  }
  const given = Object.keys(io.state).sort().join(', ');
  if (given !== [...slots].sort().join(', ')) {
    fail(`state slots [${given}] do not match [${slots.join(', ')}]: pass io.state with exactly stateSlots(settings)`);
  }
  for (const slot of slots) {
    if (io.state[slot].length !== io.params.length) {
      fail(`state '${slot}' has ${io.state[slot].length} values for ${io.params.length} params: pass one per parameter`);
    }
  }
  io.params.forEach((p, i) => {
    expectType(p, 'float32');
    const shape = b.info(p).shape;
    expectType(io.grads[i], 'float32', shape);
    for (const slot of slots) expectType(io.state[slot][i], 'float32', shape);
  });
}
