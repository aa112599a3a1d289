import { GraphBuilder } from '../graph/builder.js';
import type { Dim } from '../graph/ir.js';
import * as names from '../graph/names.js';
import { allocate, numel, type Tensor } from '../graph/tensor.js';
import { emitForward, imageShape } from '../models/forward.js';
import type { ModelDef } from '../models/registry.js';
import type { ParamSpec } from '../nn/context.js';
import { stateSlots, type OptimizerSettings } from '../optim/index.js';

/** Everything a graph set is built from. */
export interface GraphSettings {
  def: ModelDef;
  optimizer: OptimizerSettings;
  /** state_dict names of parameters that get no gradient and no update (transfer learning). */
  frozen?: string[];
}

/** A model's graph-facing signature: which values go in, in which order. */
export interface ModelSignature {
  /** Trainable parameters, in order: the order of gradients and optimizer state. */
  trainable: ParamSpec[];
  /** Frozen parameters: inputs of training graphs, never updated. */
  frozen: ParamSpec[];
  /** Buffers (BatchNorm running statistics): inputs, and updated by training graphs. */
  buffers: ParamSpec[];
  /** Per-step random inputs (dropout masks, scaled keep-masks), batch first. */
  noise: { name: string; shape: Dim[]; p: number }[];
  /** Every parameter and buffer in module order: the state_dict. */
  all: ParamSpec[];
  /** Optimizer state slots per trainable parameter (exp_avg, exp_avg_sq, ...). */
  slots: string[];
}

/** The signature, from one probe build of the forward pass. */
export function signature(s: GraphSettings): ModelSignature {
  const b = new GraphBuilder('probe');
  const x = b.input(names.INPUT, 'float32', imageShape(s.def));
  const frozen = new Set(s.frozen ?? []);
  const { ctx } = emitForward(b, s.def, 'train', x, { frozen });
  const known = new Set(ctx.params.map((p) => p.name));
  for (const f of frozen) if (!known.has(f)) throw new Error(`cannot freeze '${f}': ${s.def.name} has no parameter of that name`);
  return {
    trainable: ctx.params.filter((p) => !p.buffer && !frozen.has(p.name)),
    frozen: ctx.params.filter((p) => !p.buffer && frozen.has(p.name)),
    buffers: ctx.params.filter((p) => p.buffer),
    noise: ctx.noise,
    all: ctx.params,
    slots: stateSlots(s.optimizer),
  };
}

export interface StateSpec {
  name: string;
  slot: string;
  param: ParamSpec;
}

/** Optimizer state in contract order: slot-major (every trainable param's first slot, then the next slot). */
export function stateSpecs(sig: ModelSignature): StateSpec[] {
  return sig.slots.flatMap((slot) => sig.trainable.map((param) => ({ name: names.state(param.name, slot), slot, param })));
}

/** Zeroed optimizer state for the trainable parameters, keyed by state name. */
export function zeroState(sig: ModelSignature): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const { name, param: p } of stateSpecs(sig)) m.set(name, { dtype: p.dtype, dims: [...p.shape], data: allocate(p.dtype, numel(p.shape)) });
  return m;
}

/** Parameter count, frozen ones included, buffers excluded. */
export function parameterCount(sig: ModelSignature): number {
  return sig.all.filter((p) => !p.buffer).reduce((n, p) => n + numel(p.shape), 0);
}
