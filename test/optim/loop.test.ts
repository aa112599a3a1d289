import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { graphAttr } from '../../src/graph/ir.js';
import * as names from '../../src/graph/names.js';
import { encodeModel } from '../../src/onnx/model.js';
import { buildOptimizerStep, defaultOptimizerSettings, stateSlots, type OptimizerSettings } from '../../src/optim/index.js';
import { PARAMS, relativeError, rng } from './harness.js';
import { referenceStep, type RefState } from './reference.js';

const TRIPS = 5;
/** Gradient of the loss sum(C/2 p^2), computed inside the Loop body. */
const C = 0.7;

/**
 * An ONNX Loop whose body holds one optimizer step: the Loop's iteration number is `step`, the learning
 * rate comes from the enclosing graph, params and state are loop-carried.
 */
function loopGraph(s: OptimizerSettings) {
  const slots = stateSlots(s);
  const carried = [...PARAMS.map((p) => p.name), ...slots.flatMap((slot) => PARAMS.map((p) => names.state(p.name, slot)))];
  const shapeOf = (name: string) => PARAMS.find((p) => name === p.name || name.startsWith(`${p.name}.`))!.shape;
  const outer = new GraphBuilder('optimizer_loop');
  const lr = outer.input(names.LEARNING_RATE, 'float32', []);
  for (const v of carried) outer.input(v, 'float32', shapeOf(v));

  const body = new GraphBuilder('body', 'loop');
  const iter = body.input('loop.iter', 'int64', []);
  const cond = body.input('loop.cond', 'bool', []);
  for (const v of carried) body.input(`loop.${v}`, 'float32', shapeOf(v));
  body.outer(lr, 'float32', []);
  const params = PARAMS.map((p) => `loop.${p.name}`);
  const grads = params.map((p) => body.op1('Mul', [p, body.constant(C)]));
  const state = Object.fromEntries(slots.map((slot) => [slot, PARAMS.map((p) => `loop.${names.state(p.name, slot)}`)]));
  const out = buildOptimizerStep(body, s, { learningRate: lr, step: iter, params, grads, state }, { outputName: (n) => `${n}.out` });
  body.output(body.op1('Identity', [cond], {}, { outputs: ['loop.cond.out'] }));
  out.params.forEach((p) => body.output(p));
  for (const slot of slots) out.state[slot].forEach((v) => body.output(v));

  // The same int64 constant outside and inside the body: names must not clash across the two graphs.
  const trips = outer.op1('Add', [outer.constant(TRIPS, 'int64'), outer.constant(0, 'int64')]);
  outer.op('Loop', [trips, '', ...carried], { body: graphAttr(body.graph) }, { outputs: carried.map(names.updated) });
  for (const v of carried) {
    outer.setInfo(names.updated(v), 'float32', shapeOf(v));
    outer.output(names.updated(v));
  }
  return { graph: outer.graph, carried };
}

const cases = [
  defaultOptimizerSettings('adam', { weightDecay: 0.01 }),
  defaultOptimizerSettings('sgd', { momentum: 0.9, dampening: 0.2 }),
  defaultOptimizerSettings('rmsprop', { centered: true, momentum: 0.5 }),
];

for (const s of cases) {
  test(`${s.kind}: ${TRIPS} steps inside an ONNX Loop body match ${TRIPS} reference steps`, async () => {
    const { graph, carried } = loopGraph(s);
    const session = await ort.InferenceSession.create(encodeModel(graph));
    const next = rng(3);
    const lr = Math.fround(0.05);
    const start = new Map(PARAMS.map((p) => [p.name, Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => next())]));
    const feeds: Record<string, ort.Tensor> = { [names.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.from([lr]), []) };
    for (const v of carried) {
      const p = PARAMS.find((q) => v === q.name || v.startsWith(`${q.name}.`))!;
      feeds[v] = new ort.Tensor('float32', start.get(v) ?? new Float32Array(start.get(p.name)!.length), p.shape);
    }
    const results = await session.run(feeds);
    await session.release();

    for (const p of PARAMS) {
      let param: Float64Array = Float64Array.from(start.get(p.name)!);
      let state: RefState = Object.fromEntries(stateSlots(s).map((slot) => [slot, new Float64Array(param.length)]));
      for (let step = 0; step < TRIPS; step++) {
        const r = referenceStep(s, lr, step, param, param.map((x) => Math.fround(C) * x), state);
        param = r.param;
        state = r.state;
      }
      const got = results[names.updated(p.name)].data as Float32Array;
      assert.ok(relativeError(got, param) <= 1e-6, `${p.name}: relative error ${relativeError(got, param)}`);
      assert.ok(got.some((x, i) => x !== start.get(p.name)![i]), `${p.name} did not change`);
      for (const slot of stateSlots(s)) {
        const v = results[names.updated(names.state(p.name, slot))].data as Float32Array;
        assert.ok(relativeError(v, state[slot]) <= 1e-6, `${p.name}.${slot}: relative error ${relativeError(v, state[slot])}`);
      }
    }
  });
}
