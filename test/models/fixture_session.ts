/** Runs our training graphs on a PyTorch fixture's formula inputs (see test/helpers/fixture_values.ts). */
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { compileGraphSet, type GraphName } from '../../src/program/compile.js';
import { signature, type GraphSettings, type ModelSignature } from '../../src/program/signature.js';
import type { Graph } from '../../src/graph/ir.js';
import * as N from '../../src/graph/names.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { buildModelDef, type ModelDef } from '../../src/models/registry.js';
import { encodeModel } from '../../src/onnx/model.js';
import { defaultOptimizerSettings, stateSlots, type OptimizerKind } from '../../src/optim/index.js';
import { fixtureBatch, fixtureMasks, fixtureWeights, type Fixture } from '../helpers/fixture_values.js';

export const toOrt = (t: Tensor): ort.Tensor =>
  new ort.Tensor(t.dtype === 'int64' ? 'int64' : 'float32', t.data as Float32Array | BigInt64Array, t.dims);

export const fromOrt = (t: ort.Tensor): Tensor =>
  t.type === 'int64'
    ? { dtype: 'int64', dims: [...t.dims], data: t.data as BigInt64Array }
    : { dtype: 'float32', dims: [...t.dims], data: t.data as Float32Array };

/**
 * Which graphs run: the portable ones, or those a CPU session runs (GraphSet.graphFor(name, 'cpu'): the
 * NCHWc lowering where this machine has it).
 */
export type GraphPath = 'portable' | 'cpu';

const graphOf = (settings: GraphSettings, name: GraphName, path: GraphPath): Graph =>
  path === 'cpu' ? compileGraphSet(settings).graphFor(name, 'cpu') : compileGraphSet(settings).graph(name);

export async function session(graph: Graph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(graph));
}

/** A fixture case's model, signature and formula inputs. */
export interface FixtureCase {
  fixture: Fixture;
  def: ModelDef;
  sig: ModelSignature;
  weights: Map<string, Tensor>;
  masks: Map<string, Tensor>;
  images: Tensor;
  labels: Tensor;
}

export function fixtureCase(fixture: Fixture): FixtureCase {
  const def = buildModelDef(fixture.model, fixture.options);
  const sig = signature({ def, optimizer: defaultOptimizerSettings('adam') });
  const { images, labels } = fixtureBatch(def, fixture.batch.size);
  return { fixture, def, sig, weights: fixtureWeights(sig.all), masks: fixtureMasks(sig.noise, fixture.batch.size), images, labels };
}

const settingsFor = (c: FixtureCase, kind: OptimizerKind): GraphSettings => {
  const r = c.fixture.optimizers[kind as 'adam' | 'sgd' | 'rmsprop'];
  return { def: c.def, optimizer: defaultOptimizerSettings(kind, { lr: r.lr, momentum: r.momentum }) };
};

/** training.onnx outputs: loss, logits, gradients by parameter, running statistics after the forward. */
export async function runTraining(c: FixtureCase, path: GraphPath = 'portable') {
  const s = await session(graphOf({ def: c.def, optimizer: defaultOptimizerSettings('adam') }, 'training', path));
  const feeds: Record<string, ort.Tensor> = { [N.INPUT]: toOrt(c.images), [N.LABELS]: toOrt(c.labels) };
  for (const p of [...c.sig.trainable, ...c.sig.buffers]) feeds[p.name] = toOrt(c.weights.get(p.name)!);
  for (const [name, m] of c.masks) feeds[name] = toOrt(m);
  const out = await s.run(feeds);
  await s.release();
  return {
    loss: (out[N.LOSS].data as Float32Array)[0],
    logits: fromOrt(out[N.LOGITS]),
    grads: new Map(c.sig.trainable.map((p) => [p.name, fromOrt(out[N.grad(p.name)])])),
    buffers: new Map(c.sig.buffers.map((p) => [p.name, fromOrt(out[N.updated(p.name)])])),
  };
}

/** Parameters, optimizer state and buffers after some steps, with the loss before each step. */
export interface StepResult {
  losses: number[];
  params: Map<string, Tensor>;
  state: Map<string, Tensor>;
  buffers: Map<string, Tensor>;
}

const zeros = (t: Tensor): Tensor => ({ dtype: 'float32', dims: [...t.dims], data: new Float32Array(t.data.length) });

/** `steps` runs of train_step.onnx on the fixture batch and masks, from zero optimizer state. */
export async function runTrainSteps(c: FixtureCase, kind: OptimizerKind, steps: number, path: GraphPath = 'portable'): Promise<StepResult> {
  const settings = settingsFor(c, kind);
  const slots = stateSlots(settings.optimizer);
  const s = await session(graphOf(settings, 'train_step', path));
  const params = new Map(c.sig.trainable.map((p) => [p.name, c.weights.get(p.name)!]));
  const state = new Map(slots.flatMap((slot) => c.sig.trainable.map((p) => [N.state(p.name, slot), zeros(c.weights.get(p.name)!)] as const)));
  const buffers = new Map(c.sig.buffers.map((p) => [p.name, c.weights.get(p.name)!]));
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const feeds: Record<string, ort.Tensor> = {
      [N.INPUT]: toOrt(c.images),
      [N.LABELS]: toOrt(c.labels),
      [N.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.of(settings.optimizer.lr), []),
      [N.STEP]: new ort.Tensor('int64', BigInt64Array.of(BigInt(step)), []),
    };
    for (const m of [params, state, buffers, c.masks]) for (const [name, t] of m) feeds[name] = toOrt(t);
    const out = await s.run(feeds);
    losses.push((out[N.LOSS].data as Float32Array)[0]);
    for (const m of [params, state, buffers]) for (const name of m.keys()) m.set(name, fromOrt(out[N.updated(name)]));
  }
  await s.release();
  return { losses, params, state, buffers };
}

/** The same steps in one run of train_loop.onnx: every step reads the whole fixture batch and the same masks. */
export async function runTrainLoop(c: FixtureCase, kind: OptimizerKind, steps: number, path: GraphPath = 'portable'): Promise<StepResult> {
  const settings = settingsFor(c, kind);
  const slots = stateSlots(settings.optimizer);
  const s = await session(graphOf(settings, 'train_loop', path));
  const B = c.labels.dims[0];
  const feeds: Record<string, ort.Tensor> = {
    [N.DATA_IMAGES]: toOrt(c.images),
    [N.DATA_LABELS]: toOrt(c.labels),
    [N.BATCH_INDICES]: new ort.Tensor('int64', BigInt64Array.from({ length: steps * B }, (_, i) => BigInt(i % B)), [steps, B]),
    [N.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.of(settings.optimizer.lr), []),
    [N.STEP]: new ort.Tensor('int64', BigInt64Array.of(0n), []),
  };
  for (const p of c.sig.trainable) {
    feeds[p.name] = toOrt(c.weights.get(p.name)!);
    for (const slot of slots) feeds[N.state(p.name, slot)] = toOrt(zeros(c.weights.get(p.name)!));
  }
  for (const p of c.sig.buffers) feeds[p.name] = toOrt(c.weights.get(p.name)!);
  for (const [name, m] of c.masks) {
    const data = new Float32Array(steps * m.data.length);
    for (let i = 0; i < steps; i++) data.set(m.data as Float32Array, i * m.data.length);
    feeds[name] = new ort.Tensor('float32', data, [steps, ...m.dims]);
  }
  const out = await s.run(feeds);
  await s.release();
  assert.equal((out[N.updated(N.STEP)].data as BigInt64Array)[0], BigInt(steps), 'step.new');
  const pick = (names: string[]) => new Map(names.map((name) => [name, fromOrt(out[N.updated(name)])]));
  return {
    losses: Array.from(out[N.STEP_LOSSES].data as Float32Array),
    params: pick(c.sig.trainable.map((p) => p.name)),
    state: pick(slots.flatMap((slot) => c.sig.trainable.map((p) => N.state(p.name, slot)))),
    buffers: pick(c.sig.buffers.map((p) => p.name)),
  };
}
