/** Runs optimizer.onnx for several steps in onnxruntime-node beside the float64 reference. */
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import * as names from '../../src/graph/names.js';
import { encodeModel } from '../../src/onnx/model.js';
import { buildOptimizerGraph, stateSlots, type OptimizerSettings, type OptimizedParam } from '../../src/optim/index.js';
import { referenceStep, type RefState } from './reference.js';
import { seeded } from '../helpers/seeded.js';

export const PARAMS: OptimizedParam[] = [
  { name: 'layers.0.weight', shape: [4, 5] },
  { name: 'layers.0.bias', shape: [4] },
];

/** Deterministic uniform numbers in [-1, 1). */
export function rng(seed: number): () => number {
  const u = seeded(seed);
  return () => u() * 2 - 1;
}

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Gradients of mixed scales, with exact zeros and tiny values so eps matters. */
function gradient(next: () => number, n: number, step: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    if (i % 7 === 3) return 0;
    if (i % 5 === 1) return next() * 1e-6;
    return next() * (step % 2 === 0 ? 1 : 0.1);
  });
}

export interface Trajectory {
  /** Graph outputs after the last step, by input name (params and state). */
  graph: Map<string, Float32Array>;
  /** The float64 reference after the last step, same keys. */
  reference: Map<string, Float64Array>;
  /** Parameters before the first step. */
  start: Map<string, Float32Array>;
}

export interface RunOptions {
  lr: number;
  steps: number;
  seed?: number;
  /** Initial state values by state input name; default zeros. */
  initialState?: Map<string, Float32Array>;
}

/** Runs `steps` updates from the same start through the graph and the reference. */
export async function runTrajectory(settings: OptimizerSettings, opts: RunOptions): Promise<Trajectory> {
  const next = rng(opts.seed ?? 1);
  const slots = stateSlots(settings);
  const session = await ort.InferenceSession.create(encodeModel(buildOptimizerGraph(settings, PARAMS)));
  const graph = new Map<string, Float32Array>();
  const reference = new Map<string, Float64Array>();
  for (const p of PARAMS) {
    const values = Float32Array.from({ length: numel(p.shape) }, () => next());
    graph.set(p.name, values);
    reference.set(p.name, Float64Array.from(values));
    for (const slot of slots) {
      const key = names.state(p.name, slot);
      const init = opts.initialState?.get(key) ?? new Float32Array(values.length);
      graph.set(key, init);
      reference.set(key, new Float64Array(values.length));
    }
  }
  const start = new Map(PARAMS.map((p) => [p.name, graph.get(p.name)!]));
  const lr = Math.fround(opts.lr);
  for (let step = 0; step < opts.steps; step++) {
    const grads = PARAMS.map((p) => gradient(next, numel(p.shape), step));
    const feeds: Record<string, ort.Tensor> = {
      [names.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.from([lr]), []),
      [names.STEP]: new ort.Tensor('int64', BigInt64Array.from([BigInt(step)]), []),
    };
    PARAMS.forEach((p, i) => {
      feeds[p.name] = new ort.Tensor('float32', graph.get(p.name)!, p.shape);
      feeds[names.grad(p.name)] = new ort.Tensor('float32', grads[i], p.shape);
      for (const slot of slots) feeds[names.state(p.name, slot)] = new ort.Tensor('float32', graph.get(names.state(p.name, slot))!, p.shape);
    });
    const results = await session.run(feeds);
    for (const key of [...graph.keys()]) graph.set(key, results[names.updated(key)].data as Float32Array);
    PARAMS.forEach((p, i) => {
      const state: RefState = Object.fromEntries(slots.map((slot) => [slot, reference.get(names.state(p.name, slot))!]));
      const r = referenceStep(settings, lr, step, reference.get(p.name)!, Float64Array.from(grads[i]), state);
      reference.set(p.name, r.param);
      for (const slot of slots) reference.set(names.state(p.name, slot), r.state[slot]);
    });
  }
  await session.release();
  return { graph, reference, start };
}

/** Largest |graph - reference| over a tensor, relative to max(1e-3, max |reference|). */
export function relativeError(actual: Float32Array, expected: Float64Array): number {
  let scale = 1e-3;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst / scale;
}

/**
 * Asserts every tensor of the trajectory matches the reference within `tol` (relative to the tensor's
 * largest magnitude), and that every parameter moved, so a no-op graph cannot pass.
 */
export function assertTrajectory(t: Trajectory, tol: number): number {
  let worst = 0;
  for (const [key, expected] of t.reference) {
    const actual = t.graph.get(key)!;
    assert.equal(actual.length, expected.length, key);
    const err = relativeError(actual, expected);
    worst = Math.max(worst, err);
    assert.ok(err <= tol, `${key}: relative error ${err.toExponential(2)} > ${tol}`);
  }
  for (const [name, before] of t.start) {
    const after = t.graph.get(name)!;
    assert.ok(after.some((x, i) => x !== before[i]), `${name} did not change`);
  }
  return worst;
}
