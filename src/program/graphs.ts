/** The graph set's builders; each graph's contract (inputs and outputs, in order) is stated above it. */
import { buildGradients } from '../autodiff/gradients.js';
import { GraphBuilder } from '../graph/builder.js';
import { graphAttr, type Dim, type Graph } from '../graph/ir.js';
import * as names from '../graph/names.js';
import type { Tensor } from '../graph/tensor.js';
import { emitForward, imageShape } from '../models/forward.js';
import type { ParamSpec, ValueSource } from '../nn/context.js';
import { emitLossAndCorrect } from '../nn/loss.js';
import type { GradTarget } from '../ops/types.js';
import { buildOptimizerGraph, buildOptimizerStep } from '../optim/index.js';
import { stateSpecs, type GraphSettings, type ModelSignature } from './signature.js';

/** A graph set's settings with its signature, computed once. */
export interface Compiled {
  settings: GraphSettings;
  sig: ModelSignature;
  /** Where the gradients will run (ops/types.ts); default 'portable'. */
  target?: GradTarget;
}

/** Declare inputs in contract order: frozen params, buffers, noise. */
function declareRest(b: GraphBuilder, sig: ModelSignature, withNoise: boolean): void {
  for (const p of [...sig.frozen, ...sig.buffers]) b.input(p.name, p.dtype, p.shape);
  if (withNoise) for (const n of sig.noise) b.input(n.name, 'float32', n.shape);
}

/** Sources for a forward pass whose parameters, buffers and noise are already declared inputs. */
const inputSource: ValueSource = { param: (p: ParamSpec) => p.name, noise: (name: string) => name };

/** Output each buffer's update under `name(buffer)`, renaming the value where it can (else an Identity). */
function outputBufferUpdates(b: GraphBuilder, buffers: ParamSpec[], updates: Map<string, string>, key: (p: ParamSpec) => string, name: (p: ParamSpec) => string): void {
  for (const p of buffers) {
    const v = updates.get(key(p));
    if (!v) throw new Error(`buffer '${p.name}' has no update`);
    const out = name(p);
    b.output(b.rename(v, out) ? out : b.op1('Identity', [v], {}, { outputs: [out] }));
  }
}

/**
 * training.onnx — forward, loss and gradients.
 * In:  input [N,C,H,W] f32, labels [N] i64, trainable params..., frozen params..., buffers..., noise...
 * Out: loss [] f32, logits [N,K] f32, one gradient per trainable param (`<param>.grad`, in order),
 *      correct [] i64, updated buffers (`<buffer>.new`)...
 */
export function buildTrainingGraph({ settings: s, sig, target }: Compiled): Graph {
  const b = new GraphBuilder('training');
  const x = b.input(names.INPUT, 'float32', imageShape(s.def));
  const y = b.input(names.LABELS, 'int64', ['N']);
  for (const p of sig.trainable) b.input(p.name, p.dtype, p.shape);
  declareRest(b, sig, true);
  const { ctx, logits } = emitForward(b, s.def, 'train', x, { frozen: new Set(s.frozen ?? []), source: inputSource, logitsName: names.LOGITS });
  const { loss, correct } = emitLossAndCorrect(b, { logits, labels: y, lossName: names.LOSS, correctName: names.CORRECT });
  const grads = buildGradients(b, loss, sig.trainable.map((p) => p.name), { target });
  b.output(loss);
  b.output(logits);
  grads.forEach((g) => b.output(g));
  b.output(correct);
  outputBufferUpdates(b, sig.buffers, ctx.bufferUpdates, (p) => p.name, (p) => names.updated(p.name));
  return b.graph;
}

/**
 * eval.onnx — inference. In: input [N,C,H,W] f32. Out: logits [N,K], probabilities [N,K] (softmax).
 * With `weights`, parameters and buffers are initializers (the deployable model); without, they are
 * inputs after `input`, in state_dict order.
 */
export function buildEvalGraph({ settings: s }: Compiled, weights?: Map<string, Tensor>): Graph {
  const b = new GraphBuilder('eval');
  const x = b.input(names.INPUT, 'float32', imageShape(s.def));
  const { logits } = emitForward(b, s.def, 'eval', x, { weights, logitsName: names.LOGITS });
  b.output(logits);
  b.output(b.op1('Softmax', [logits], { axis: 1 }, { outputs: [names.PROBABILITIES] }));
  return b.graph;
}

/**
 * validation.onnx — loss and accuracy without gradients, on the running statistics.
 * In: input, labels, every parameter and buffer in state_dict order. Out: loss [] f32 (mean), correct [] i64.
 */
export function buildValidationGraph({ settings: s }: Compiled): Graph {
  const b = new GraphBuilder('validation');
  const x = b.input(names.INPUT, 'float32', imageShape(s.def));
  const y = b.input(names.LABELS, 'int64', ['N']);
  const { logits } = emitForward(b, s.def, 'eval', x);
  const { loss, correct } = emitLossAndCorrect(b, { logits, labels: y, lossName: names.LOSS, correctName: names.CORRECT });
  b.output(loss);
  b.output(correct);
  return b.graph;
}

/** optimizer.onnx — see buildOptimizerGraph (src/optim/graph.ts) for its contract. */
export function buildOptimizerOnlyGraph({ settings: s, sig }: Compiled): Graph {
  return buildOptimizerGraph(s.optimizer, sig.trainable.map((p) => ({ name: p.name, shape: p.shape })));
}

/** Where one training step reads its values and how it names its results. */
interface StepWiring {
  lr: string;
  step: string;
  source: ValueSource;
  param: (p: ParamSpec) => string;
  state: (name: string) => string;
  outputName?: (name: string) => string;
  lossName?: string;
  correctName?: string;
}

/** Forward, gradients and optimizer update on values already in `b`. */
function emitStep(b: GraphBuilder, { settings: s, sig, target }: Compiled, x: string, y: string, w: StepWiring) {
  const { ctx, logits } = emitForward(b, s.def, 'train', x, { frozen: new Set(s.frozen ?? []), source: w.source });
  const { loss, correct } = emitLossAndCorrect(b, { logits, labels: y, lossName: w.lossName, correctName: w.correctName });
  const params = sig.trainable.map(w.param);
  const grads = buildGradients(b, loss, params, { gradName: (p) => b.fresh(`${p}.grad`), target });
  const opt = buildOptimizerStep(b, s.optimizer, {
    learningRate: w.lr,
    step: w.step,
    params,
    grads,
    state: Object.fromEntries(sig.slots.map((slot) => [slot, sig.trainable.map((p) => w.state(names.state(p.name, slot)))])),
  }, { outputName: w.outputName });
  return { ctx, loss, correct, opt };
}

/**
 * train_step.onnx — one fused training step (the fast path for one run per step).
 * In:  input, labels, learning_rate [] f32, step [] i64 (updates already applied), trainable params...,
 *      optimizer state (slot-major: every param's first slot, then the next slot)..., frozen params...,
 *      buffers..., noise...
 * Out: loss [] f32, correct [] i64, updated params (`<param>.new`)..., updated state..., updated buffers...
 */
export function buildTrainStepGraph(c: Compiled): Graph {
  const { settings: s, sig } = c;
  const b = new GraphBuilder('train_step');
  const x = b.input(names.INPUT, 'float32', imageShape(s.def));
  const y = b.input(names.LABELS, 'int64', ['N']);
  const lr = b.input(names.LEARNING_RATE, 'float32', []);
  const step = b.input(names.STEP, 'int64', []);
  for (const p of sig.trainable) b.input(p.name, p.dtype, p.shape);
  for (const st of stateSpecs(sig)) b.input(st.name, st.param.dtype, st.param.shape);
  declareRest(b, sig, true);
  const { ctx, opt } = emitStep(b, c, x, y, {
    lr, step, source: inputSource, param: (p) => p.name, state: (n) => n, outputName: names.updated, lossName: names.LOSS, correctName: names.CORRECT,
  });
  b.output(names.LOSS);
  b.output(names.CORRECT);
  opt.params.forEach((p) => b.output(p));
  for (const slot of sig.slots) opt.state[slot].forEach((v) => b.output(v));
  outputBufferUpdates(b, sig.buffers, ctx.bufferUpdates, (p) => p.name, (p) => names.updated(p.name));
  return b.graph;
}

/** The Loop body of train_loop: one step on the rows of batch_indices[iter]. */
function buildLoopBody(c: Compiled, outer: GraphBuilder, carried: string[]): Graph {
  const { settings: s, sig } = c;
  const inner = names.loopCarried;
  const [images, labels, indices, lr] = [names.DATA_IMAGES, names.DATA_LABELS, names.BATCH_INDICES, names.LEARNING_RATE];
  const body = new GraphBuilder('train_loop_body', 'loop');
  const iter = body.input(names.LOOP_ITER, 'int64', []);
  const cond = body.input(names.LOOP_COND, 'bool', []);
  for (const v of carried) body.input(inner(v), outer.dtype(v), outer.info(v).shape);
  for (const v of [images, labels, indices, lr]) body.outer(v, outer.dtype(v), outer.shape(v));
  for (const p of sig.frozen) body.outer(p.name, p.dtype, p.shape);
  for (const n of sig.noise) body.outer(n.name, 'float32', outer.shape(n.name));

  const [C, H, W] = s.def.dataset.inputShape;
  const rows = body.op1('Gather', [indices, iter], { axis: 0 });
  const x = body.op1('Gather', [images, rows], { axis: 0 });
  body.refine(x, ['B', C, H, W]);
  const y = body.op1('Gather', [labels, rows], { axis: 0 });
  body.refine(y, ['B']);
  const frozen = new Set(s.frozen ?? []);
  const source: ValueSource = {
    param: (p) => (frozen.has(p.name) ? p.name : inner(p.name)),
    noise: (name: string, shape: Dim[]) => {
      const v = body.op1('Gather', [name, iter], { axis: 0 });
      body.refine(v, shape.map((d) => (d === 'N' ? 'B' : d)));
      return v;
    },
  };
  const { ctx, loss, correct, opt } = emitStep(body, c, x, y, {
    lr, step: inner(names.STEP), source, param: (p) => inner(p.name), state: inner, outputName: names.bodyOut,
  });
  body.output(body.op1('Identity', [cond], {}, { outputs: [names.LOOP_COND_OUT] }));
  body.output(body.op1('Add', [inner(names.STEP), body.constant(1, 'int64')], {}, { outputs: [names.bodyOut(inner(names.STEP))] }));
  opt.params.forEach((p) => body.output(p));
  for (const slot of sig.slots) opt.state[slot].forEach((v) => body.output(v));
  outputBufferUpdates(body, sig.buffers, ctx.bufferUpdates, (p) => inner(p.name), (p) => names.bodyOut(inner(p.name)));
  body.output(loss);
  body.output(correct);
  return body.graph;
}

/**
 * train_loop.onnx — many training steps in one run (ONNX Loop); the default runner.
 * In:  images [M,C,H,W] f32 (the data set, or a chunk of it), all_labels [M] i64, batch_indices [S,B] i64
 *      (row s: the samples of step s), learning_rate [] f32, step [] i64, trainable params..., state...
 *      (as train_step), frozen params..., buffers..., noise... (each [S, B, ...]: row s for step s)
 * Out: step.new [] i64 (= step + S), updated params..., updated state..., updated buffers...,
 *      losses [S] f32 and corrects [S] i64 (per step).
 */
export function buildTrainLoopGraph(c: Compiled): Graph {
  const { settings: s, sig } = c;
  const outer = new GraphBuilder('train_loop');
  const [C, H, W] = s.def.dataset.inputShape;
  outer.input(names.DATA_IMAGES, 'float32', ['M', C, H, W]);
  outer.input(names.DATA_LABELS, 'int64', ['M']);
  const indices = outer.input(names.BATCH_INDICES, 'int64', ['S', 'B']);
  outer.input(names.LEARNING_RATE, 'float32', []);
  outer.input(names.STEP, 'int64', []);
  for (const p of sig.trainable) outer.input(p.name, p.dtype, p.shape);
  for (const st of stateSpecs(sig)) outer.input(st.name, st.param.dtype, st.param.shape);
  for (const p of [...sig.frozen, ...sig.buffers]) outer.input(p.name, p.dtype, p.shape);
  for (const n of sig.noise) outer.input(n.name, 'float32', ['S', ...n.shape.map((d) => (d === 'N' ? 'B' : d))]);

  // Loop-carried: step, trainable params, state, buffers.
  const carried = [names.STEP, ...sig.trainable.map((p) => p.name), ...stateSpecs(sig).map((st) => st.name), ...sig.buffers.map((p) => p.name)];
  const body = buildLoopBody(c, outer, carried);
  const trips = outer.op1('Gather', [outer.op1('Shape', [indices]), outer.constant(0, 'int64')], { axis: 0 });
  const outs = [...carried.map(names.updated), names.STEP_LOSSES, names.STEP_CORRECT];
  outer.op('Loop', [trips, '', ...carried], { body: graphAttr(body) }, { outputs: outs });
  // The Loop's output types follow its body; scan outputs gain a leading [S].
  carried.forEach((v) => outer.setInfo(names.updated(v), outer.dtype(v), outer.info(v).shape));
  outer.setInfo(names.STEP_LOSSES, 'float32', ['S']);
  outer.setInfo(names.STEP_CORRECT, 'int64', ['S']);
  outs.forEach((o) => outer.output(o));
  return outer.graph;
}
