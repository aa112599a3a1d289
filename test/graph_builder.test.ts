import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/graph/builder.js';
import { dropUnusedConstants } from '../src/graph/ir.js';
import { buildGradients } from '../src/autodiff/gradients.js';
import { encodeModel } from '../src/onnx/model.js';

test('a scalar operand takes the rank of a tensor with a dimension 1 (onnxruntime broadcasts it 5-25x slower as a scalar), and only there', async () => {
  const b = new GraphBuilder('t');
  const w = b.input('w', 'float32', [4, 3, 1, 1]);
  const v = b.input('v', 'float32', [4, 3, 2, 2]);
  const s = b.input('s', 'float32', []);
  const half = b.constant(0.5);
  const a = b.op1('Mul', [w, half]);
  const c = b.op1('Add', [s, w]);
  const d = b.op1('Mul', [v, half]);
  const e = b.op1('Sub', [w, s]);
  const node = (y: string) => b.graph.nodes.find((n) => n.outputs[0] === y)!;
  assert.deepEqual(b.graph.initializers.get(node(a).inputs[1])!.dims, [1, 1, 1, 1]);
  assert.deepEqual(b.info(node(c).inputs[0]).shape, [1, 1, 1, 1], 'a computed scalar, on either side, through a Reshape');
  assert.equal(node(e).inputs[1], node(c).inputs[0], 'one Reshape per value and rank');
  assert.equal(node(d).inputs[1], half, 'no dimension 1: the scalar stays');
  for (const y of [a, c, d, e]) b.output(y);
  const sess = await ort.InferenceSession.create(encodeModel(b.graph));
  const wv = Float32Array.from({ length: 12 }, (_, i) => i - 5);
  const r = await sess.run({ w: new ort.Tensor('float32', wv, [4, 3, 1, 1]), v: new ort.Tensor('float32', new Float32Array(48).fill(2), [4, 3, 2, 2]), s: new ort.Tensor('float32', Float32Array.of(3), []) });
  assert.deepEqual(r[a].dims, [4, 3, 1, 1]);
  assert.deepEqual(Array.from(r[a].data as Float32Array), Array.from(wv, (x) => x / 2));
  assert.deepEqual(Array.from(r[c].data as Float32Array), Array.from(wv, (x) => x + 3));
  assert.deepEqual(Array.from(r[e].data as Float32Array), Array.from(wv, (x) => x - 3));
});

test('dropUnusedConstants removes the builder constants nothing reads, and nothing else', () => {
  const b = new GraphBuilder('t');
  const w = b.input('w', 'float32', [2, 1]);
  const y = b.op1('Mul', [w, b.constant(2)]);
  b.initializer('unused.weight', { dtype: 'float32', dims: [1], data: Float32Array.of(1) });
  b.output(y);
  const before = [...b.graph.initializers.keys()];
  assert.equal(before.length, 3, 'the scalar 2, its [1, 1] copy, the weight');
  dropUnusedConstants(b.graph);
  assert.deepEqual([...b.graph.initializers.keys()].sort(), ['const_float32_1x1_2', 'unused.weight']);
});

test('a composite with its own gradient rule: autodiff calls it and skips the nodes inside', () => {
  const b = new GraphBuilder('t');
  const x = b.input('x', 'float32', [3]);
  const inner = b.op1('Exp', [x]);
  const y = b.op1('Log', [inner]);
  b.customGradient(y, [x], (_c, dY) => [dY]);
  const loss = b.op1('ReduceSum', [y], { keepdims: 0 });
  const n = b.graph.nodes.length;
  buildGradients(b, loss, [x]);
  const ops = b.graph.nodes.slice(n).map((m) => m.opType);
  assert.ok(!ops.includes('Exp') && !ops.includes('Div') && !ops.includes('Mul'), `the rules of Log and Exp were not used: ${ops}`);
  assert.throws(() => b.customGradient(x, [x], (_c, d) => [d]), /not the only output of the last node emitted/);
});
