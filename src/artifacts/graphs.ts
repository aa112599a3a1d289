import { buildGradients } from '../autodiff/gradients.js';
import { GraphBuilder } from '../graph/builder.js';
import { graphAttr, type Dim, type Graph } from '../graph/ir.js';
import * as N from '../graph/names.js';
import type { Tensor } from '../graph/tensor.js';
import type { ModelDef } from '../models/registry.js';
import type { ParamSpec } from '../nn/context.js';
import { buildOptimizerGraph, buildOptimizerStep, stateSlots, type OptimizerSettings } from '../optim/index.js';
import { emitForward, emitLossAndCorrect, imageShape } from './forward.js';

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
  slots: string[];
}

export function signature(s: GraphSettings): ModelSignature {
  const b = new GraphBuilder('probe');
  const x = b.input(N.INPUT, 'float32', imageShape(s.def));
  const { ctx } = emitForward(b, s.def, 'train', x, { frozen: new Set(s.frozen ?? []) });
  const frozen = new Set(s.frozen ?? []);
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

/** Optimizer state in contract order: slot-major (every trainable param's first slot, then the next slot). */
export function stateSpecs(sig: ModelSignature): { name: string; slot: string; param: ParamSpec }[] {
  return sig.slots.flatMap((slot) => sig.trainable.map((param) => ({ name: N.state(param.name, slot), slot, param })));
}

/** Declare inputs in contract order: frozen params, buffers, noise. */
function declareRest(b: GraphBuilder, sig: ModelSignature, withNoise: boolean): void {
  for (const p of [...sig.frozen, ...sig.buffers]) b.input(p.name, p.dtype, p.shape);
  if (withNoise) for (const n of sig.noise) b.input(n.name, 'float32', n.shape);
}

/** Sources for a forward pass whose parameters, buffers and noise are already declared. */
const declared = { param: (p: ParamSpec) => p.name, noise: (name: string) => name };

/**
 * training.onnx — forward, loss and gradients.
 * In:  input [N,C,H,W] f32, labels [N] i64, trainable params..., frozen params..., buffers..., noise...
 * Out: loss [] f32, logits [N,K] f32, one gradient per trainable param (`<param>.grad`, in order),
 *      correct [] i64, updated buffers (`<buffer>.new`)...
 */
export function buildTrainingGraph(s: GraphSettings): Graph {
  const sig = signature(s);
  const b = new GraphBuilder('training');
  const x = b.input(N.INPUT, 'float32', imageShape(s.def));
  const y = b.input(N.LABELS, 'int64', ['N']);
  for (const p of sig.trainable) b.input(p.name, p.dtype, p.shape);
  declareRest(b, sig, true);
  const { ctx, logits } = emitForward(b, s.def, 'train', x, { frozen: new Set(s.frozen ?? []), source: declared, logitsName: N.LOGITS });
  const { loss, correct } = emitLossAndCorrect(b, logits, y, N.LOSS, N.CORRECT);
  const grads = buildGradients(b, loss, sig.trainable.map((p) => p.name));
  b.output(loss);
  b.output(logits);
  grads.forEach((g) => b.output(g));
  b.output(correct);
  outputBufferUpdates(b, sig, ctx.bufferUpdates);
  return b.graph;
}

function outputBufferUpdates(b: GraphBuilder, sig: ModelSignature, updates: Map<string, string>, rename = true): string[] {
  return sig.buffers.map((p) => {
    const v = updates.get(p.name);
    if (!v) throw new Error(`buffer '${p.name}' has no update`);
    const name = N.updated(p.name);
    const out = rename && b.rename(v, name) ? name : b.op1('Identity', [v], {}, { outputs: [name] });
    return b.output(out);
  });
}

/**
 * eval.onnx — inference. In: input [N,C,H,W] f32. Out: logits [N,K], probabilities [N,K] (softmax).
 * With `weights`, parameters and buffers are initializers (the deployable model); without, they are
 * inputs after `input`, in state_dict order.
 */
export function buildEvalGraph(s: GraphSettings, weights?: Map<string, Tensor>): Graph {
  const b = new GraphBuilder('eval');
  const x = b.input(N.INPUT, 'float32', imageShape(s.def));
  const { logits } = emitForward(b, s.def, 'eval', x, { weights, logitsName: N.LOGITS });
  b.output(logits);
  b.output(b.op1('Softmax', [logits], { axis: 1 }, { outputs: [N.PROBABILITIES] }));
  return b.graph;
}

/**
 * validation.onnx — loss and accuracy without gradients, on the running statistics.
 * In: input, labels, every parameter and buffer in state_dict order. Out: loss [] f32 (mean), correct [] i64.
 */
export function buildValidationGraph(s: GraphSettings): Graph {
  const b = new GraphBuilder('validation');
  const x = b.input(N.INPUT, 'float32', imageShape(s.def));
  const y = b.input(N.LABELS, 'int64', ['N']);
  const { logits } = emitForward(b, s.def, 'eval', x);
  const { loss, correct } = emitLossAndCorrect(b, logits, y, N.LOSS, N.CORRECT);
  b.output(loss);
  b.output(correct);
  return b.graph;
}

/** optimizer.onnx — see buildOptimizerGraph for its contract. */
export function buildOptimizer(s: GraphSettings): Graph {
  return buildOptimizerGraph(s.optimizer, signature(s).trainable.map((p) => ({ name: p.name, shape: p.shape })));
}

/** Forward, gradients and optimizer update on values already in `b`. */
function emitStep(b: GraphBuilder, s: GraphSettings, sig: ModelSignature, x: string, y: string, io: {
  lr: string; step: string; source: import('../nn/context.js').ValueSource; param: (p: ParamSpec) => string; state: (name: string) => string;
  outputName?: (name: string) => string; lossName?: string; correctName?: string;
}) {
  const { ctx, logits } = emitForward(b, s.def, 'train', x, { frozen: new Set(s.frozen ?? []), source: io.source });
  const { loss, correct } = emitLossAndCorrect(b, logits, y, io.lossName, io.correctName);
  const params = sig.trainable.map(io.param);
  const grads = buildGradients(b, loss, params, { gradName: (p) => b.fresh(`${p}.grad`) });
  const opt = buildOptimizerStep(b, s.optimizer, {
    learningRate: io.lr,
    step: io.step,
    params,
    grads,
    state: Object.fromEntries(sig.slots.map((slot) => [slot, sig.trainable.map((p) => io.state(N.state(p.name, slot)))])),
  }, { outputName: io.outputName });
  return { ctx, loss, correct, opt };
}

/**
 * train_step.onnx — one fused training step (the fast path for one run per step).
 * In:  input, labels, learning_rate [] f32, step [] i64 (updates already applied), trainable params...,
 *      optimizer state (slot-major: every param's first slot, then the next slot)..., frozen params...,
 *      buffers..., noise...
 * Out: loss [] f32, correct [] i64, updated params (`<param>.new`)..., updated state..., updated buffers...
 */
export function buildTrainStepGraph(s: GraphSettings): Graph {
  const sig = signature(s);
  const b = new GraphBuilder('train_step');
  const x = b.input(N.INPUT, 'float32', imageShape(s.def));
  const y = b.input(N.LABELS, 'int64', ['N']);
  const lr = b.input(N.LEARNING_RATE, 'float32', []);
  const step = b.input(N.STEP, 'int64', []);
  for (const p of sig.trainable) b.input(p.name, p.dtype, p.shape);
  for (const st of stateSpecs(sig)) b.input(st.name, st.param.dtype, st.param.shape);
  declareRest(b, sig, true);
  const { ctx, opt } = emitStep(b, s, sig, x, y, {
    lr, step, source: declared, param: (p) => p.name, state: (n) => n, outputName: N.updated, lossName: N.LOSS, correctName: N.CORRECT,
  });
  b.output(N.LOSS);
  b.output(N.CORRECT);
  opt.params.forEach((p) => b.output(p));
  for (const slot of sig.slots) opt.state[slot].forEach((v) => b.output(v));
  outputBufferUpdates(b, sig, ctx.bufferUpdates);
  return b.graph;
}

/**
 * train_loop.onnx — many training steps in one run (ONNX Loop); the default runner.
 * In:  images [M,C,H,W] f32 (the data set, or a chunk of it), all_labels [M] i64, batch_indices [S,B] i64
 *      (row s: the samples of step s), learning_rate [] f32, step [] i64, trainable params..., state...
 *      (as train_step), frozen params..., buffers..., noise... (each [S, B, ...]: row s for step s)
 * Out: step.new [] i64 (= step + S), updated params..., updated state..., updated buffers...,
 *      losses [S] f32 and corrects [S] i64 (per step).
 */
export function buildTrainLoopGraph(s: GraphSettings): Graph {
  const sig = signature(s);
  const outer = new GraphBuilder('train_loop');
  const [C, H, W] = s.def.dataset.inputShape;
  const images = outer.input(N.DATA_IMAGES, 'float32', ['M', C, H, W]);
  const labels = outer.input(N.DATA_LABELS, 'int64', ['M']);
  const indices = outer.input(N.BATCH_INDICES, 'int64', ['S', 'B']);
  const lr = outer.input(N.LEARNING_RATE, 'float32', []);
  outer.input(N.STEP, 'int64', []);
  for (const p of sig.trainable) outer.input(p.name, p.dtype, p.shape);
  for (const st of stateSpecs(sig)) outer.input(st.name, st.param.dtype, st.param.shape);
  for (const p of [...sig.frozen, ...sig.buffers]) outer.input(p.name, p.dtype, p.shape);
  for (const n of sig.noise) outer.input(n.name, 'float32', ['S', ...n.shape.map((d) => (d === 'N' ? 'B' : d))]);

  // Loop-carried: step, trainable params, state, buffers. Inside the body they carry a `loop.` prefix.
  const carried = [N.STEP, ...sig.trainable.map((p) => p.name), ...stateSpecs(sig).map((st) => st.name), ...sig.buffers.map((p) => p.name)];
  const inner = (name: string) => `loop.${name}`;
  const body = new GraphBuilder('train_loop_body', 'loop');
  const iter = body.input('loop.iter', 'int64', []);
  const cond = body.input('loop.cond', 'bool', []);
  for (const v of carried) body.input(inner(v), outer.dtype(v), outer.info(v).shape);
  body.outer(images, 'float32', outer.shape(images));
  body.outer(labels, 'int64', outer.shape(labels));
  body.outer(indices, 'int64', outer.shape(indices));
  body.outer(lr, 'float32', []);
  for (const p of sig.frozen) body.outer(p.name, p.dtype, p.shape);
  for (const n of sig.noise) body.outer(n.name, 'float32', outer.shape(n.name));

  const rows = body.op1('Gather', [indices, iter], { axis: 0 });
  const x = body.op1('Gather', [images, rows], { axis: 0 });
  body.refine(x, ['B', C, H, W]);
  const y = body.op1('Gather', [labels, rows], { axis: 0 });
  body.refine(y, ['B']);
  const frozen = new Set(s.frozen ?? []);
  const source = {
    param: (p: ParamSpec) => (frozen.has(p.name) ? p.name : inner(p.name)),
    noise: (name: string, shape: Dim[]) => {
      const v = body.op1('Gather', [name, iter], { axis: 0 });
      body.refine(v, shape.map((d) => (d === 'N' ? 'B' : d)));
      return v;
    },
  };
  const outName = (name: string) => `${name}.out`;
  const { ctx, loss, correct, opt } = emitStep(body, s, sig, x, y, {
    lr, step: inner(N.STEP), source, param: (p) => inner(p.name), state: inner, outputName: outName,
  });
  body.op1('Identity', [cond], {}, { outputs: ['loop.cond.out'] });
  body.output('loop.cond.out');
  body.output(body.op1('Add', [inner(N.STEP), body.constant(1, 'int64')], {}, { outputs: [outName(inner(N.STEP))] }));
  opt.params.forEach((p) => body.output(p));
  for (const slot of sig.slots) opt.state[slot].forEach((v) => body.output(v));
  for (const p of sig.buffers) {
    const v = ctx.bufferUpdates.get(inner(p.name))!;
    const name = outName(inner(p.name));
    body.output(body.rename(v, name) ? name : body.op1('Identity', [v], {}, { outputs: [name] }));
  }
  body.output(loss);
  body.output(correct);

  const trips = outer.op1('Gather', [outer.op1('Shape', [indices]), outer.constant(0, 'int64')], { axis: 0 });
  const outs = [...carried.map(N.updated), N.STEP_LOSSES, N.STEP_CORRECT];
  outer.op('Loop', [trips, '', ...carried], { body: graphAttr(body.graph) }, { outputs: outs });
  // The Loop's output types follow its body; scan outputs gain a leading [S].
  carried.forEach((v) => outer.setInfo(N.updated(v), outer.dtype(v), outer.info(v).shape));
  outer.setInfo(N.STEP_LOSSES, 'float32', ['S']);
  outer.setInfo(N.STEP_CORRECT, 'int64', ['S']);
  outs.forEach((o) => outer.output(o));
  return outer.graph;
}
