import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import * as names from '../../src/graph/names.js';
import { encodeModel } from '../../src/onnx/model.js';
import {
  buildOptimizerGraph, buildOptimizerStep, defaultOptimizerSettings, stateSlots, type OptimizerSettings,
} from '../../src/optim/index.js';
import { PARAMS } from './harness.js';

const ALL: [string, OptimizerSettings][] = [
  ['adam', defaultOptimizerSettings('adam')],
  ['adam L2', defaultOptimizerSettings('adam', { weightDecay: 0.1 })],
  ['adamw', defaultOptimizerSettings('adamw')],
  ['sgd', defaultOptimizerSettings('sgd')],
  ['sgd L2', defaultOptimizerSettings('sgd', { weightDecay: 0.1 })],
  ['sgd momentum', defaultOptimizerSettings('sgd', { momentum: 0.9 })],
  ['sgd dampening', defaultOptimizerSettings('sgd', { momentum: 0.9, dampening: 0.1 })],
  ['sgd nesterov', defaultOptimizerSettings('sgd', { momentum: 0.9, nesterov: true })],
  ['rmsprop', defaultOptimizerSettings('rmsprop')],
  ['rmsprop momentum', defaultOptimizerSettings('rmsprop', { momentum: 0.9 })],
  ['rmsprop centered', defaultOptimizerSettings('rmsprop', { centered: true })],
  ['rmsprop centered momentum', defaultOptimizerSettings('rmsprop', { centered: true, momentum: 0.9 })],
];

for (const [label, s] of ALL) {
  test(`${label}: optimizer graph inputs and outputs follow the documented order, names and types`, async () => {
    const g = buildOptimizerGraph(s, PARAMS);
    const slots = stateSlots(s);
    const stateNames = slots.flatMap((slot) => PARAMS.map((p) => names.state(p.name, slot)));
    const expectedInputs = [
      names.LEARNING_RATE, names.STEP, ...PARAMS.map((p) => p.name), ...PARAMS.map((p) => names.grad(p.name)), ...stateNames,
    ];
    const expectedOutputs = [...PARAMS.map((p) => names.updated(p.name)), ...stateNames.map(names.updated)];
    assert.deepEqual(g.inputs.map((v) => v.name), expectedInputs);
    assert.deepEqual(g.outputs.map((v) => v.name), expectedOutputs);
    assert.deepEqual(g.inputs.slice(0, 2).map((v) => [v.dtype, v.shape]), [['float32', []], ['int64', []]]);
    const shapeOf = (name: string) => PARAMS.find((p) => name.startsWith(p.name))!.shape;
    for (const v of [...g.inputs.slice(2), ...g.outputs]) assert.deepEqual([v.dtype, v.shape], ['float32', shapeOf(v.name)], v.name);

    const session = await ort.InferenceSession.create(encodeModel(g));
    assert.deepEqual(session.inputNames, expectedInputs);
    assert.deepEqual(session.outputNames, expectedOutputs);
    await session.release();
  });
}

test('two builds of the same optimizer give identical bytes', () => {
  for (const [label, s] of ALL) {
    assert.deepEqual(encodeModel(buildOptimizerGraph(s, PARAMS)), encodeModel(buildOptimizerGraph(s, PARAMS)), label);
  }
});

/**
 * Nodes added per parameter (the graph runs every training step). Lower is better: update the table
 * when a change saves nodes. The counts follow the formulas in src/optim/{adam,sgd,rmsprop}.ts.
 */
const NODES_PER_PARAM: Record<string, number> = {
  'adam': 12, 'adam L2': 14, 'adamw': 13,
  'sgd': 2, 'sgd L2': 4, 'sgd momentum': 4, 'sgd dampening': 5, 'sgd nesterov': 6,
  'rmsprop': 9, 'rmsprop momentum': 11, 'rmsprop centered': 14, 'rmsprop centered momentum': 16,
};

test('node count per parameter stays within budget, with no Identity or Constant nodes', () => {
  for (const [label, s] of ALL) {
    const one = buildOptimizerGraph(s, PARAMS.slice(0, 1));
    const two = buildOptimizerGraph(s, PARAMS);
    assert.equal(two.nodes.length - one.nodes.length, NODES_PER_PARAM[label], label);
    assert.ok(!two.nodes.some((n) => n.opType === 'Identity' || n.opType === 'Constant'), `${label}: Identity/Constant node`);
  }
});

test('buildOptimizerStep appends to an existing builder and names outputs only when asked', () => {
  const s = defaultOptimizerSettings('adam');
  const b = new GraphBuilder('fused');
  const lr = b.op1('Mul', [b.input('base_lr', 'float32', []), b.constant(0.5)]);
  const step = b.input('step', 'int64', []);
  const w = b.input('w', 'float32', [3]);
  const grad = b.op1('Mul', [w, b.constant(2)]);
  const state = { exp_avg: [b.input('m', 'float32', [3])], exp_avg_sq: [b.input('v', 'float32', [3])] };
  const before = b.graph.nodes.length;
  const out = buildOptimizerStep(b, s, { learningRate: lr, step, params: [w], grads: [grad], state });
  assert.ok(b.graph.nodes.length > before);
  const produced = new Set(b.graph.nodes.flatMap((n) => n.outputs));
  for (const v of [out.params[0], out.state.exp_avg[0], out.state.exp_avg_sq[0]]) {
    assert.ok(produced.has(v), `${v} is produced by a node`);
    assert.ok(!v.endsWith('.new'), `${v} got a fresh name`);
  }
  assert.deepEqual(Object.keys(out.state), ['exp_avg', 'exp_avg_sq']);
  assert.deepEqual(b.info(out.params[0]).shape, [3]);
});

test('buildOptimizerStep rejects inputs that do not match the settings, naming the problem', () => {
  const s = defaultOptimizerSettings('adam');
  const make = () => {
    const b = new GraphBuilder('bad');
    return {
      b,
      io: {
        learningRate: b.input('lr', 'float32', []),
        step: b.input('step', 'int64', []),
        params: [b.input('w', 'float32', [3])],
        grads: [b.input('w.grad', 'float32', [3])],
        state: { exp_avg: [b.input('w.m', 'float32', [3])], exp_avg_sq: [b.input('w.v', 'float32', [3])] } as Record<string, string[]>,
      },
    };
  };
  const cases: [string, (x: ReturnType<typeof make>) => void, RegExp][] = [
    ['grad count', ({ io }) => { io.grads = []; }, /1 params but 0 grads/],
    ['missing slot', ({ io }) => { delete io.state.exp_avg_sq; }, /state slots \[exp_avg\] do not match \[exp_avg, exp_avg_sq\]/],
    ['short slot', ({ io }) => { io.state.exp_avg = []; }, /state 'exp_avg' has 0 values for 1 params/],
    ['grad shape', ({ b, io }) => { io.grads = [b.input('g2', 'float32', [4])]; }, /'g2' has shape \[4\]: it must have shape \[3\]/],
    ['param dtype', ({ b, io }) => { io.params = [b.input('w64', 'float64', [3])]; }, /'w64' is float64: it must be float32/],
    ['step dtype', ({ b, io }) => { io.step = b.input('step32', 'int32', []); }, /'step32' is int32: it must be int64/],
  ];
  for (const [label, spoil, message] of cases) {
    const x = make();
    spoil(x);
    assert.throws(() => buildOptimizerStep(x.b, s, x.io), message, label);
  }
  const x = make();
  assert.throws(() => buildOptimizerStep(x.b, { ...s, betas: [0.9, 1] }, x.io), /betas\[1\] = 1: use a number in \[0, 1\)/);
});

test('buildOptimizerGraph rejects an empty or repeated parameter list', () => {
  const s = defaultOptimizerSettings('sgd');
  assert.throws(() => buildOptimizerGraph(s, []), /no parameters/);
  assert.throws(() => buildOptimizerGraph(s, [PARAMS[0], PARAMS[0]]), /'layers.0.weight' listed twice/);
});
