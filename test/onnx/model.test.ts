import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { float, floats, tensorAttr } from '../../src/graph/ir.js';
import { tensor } from '../../src/graph/tensor.js';
import { buildGradients } from '../../src/autodiff/gradients.js';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { OPSET } from '../../src/onnx/opset.js';

/** A small CNN training graph (forward, loss, gradients), built the same way every time. */
function cnnTrainingGraph(): GraphBuilder {
  const b = new GraphBuilder('cnn');
  const x = b.input('input', 'float32', ['N', 1, 8, 8]);
  const labels = b.input('labels', 'int64', ['N']);
  const param = (name: string, dims: number[]) => b.input(name, 'float32', dims);
  const [w0, b0, w1, b1] = [param('w0', [4, 1, 3, 3]), param('b0', [4]), param('w1', [3, 64]), param('b1', [3])];
  const h = b.op1('MaxPool', [b.op1('Relu', [b.op1('Conv', [x, w0, b0], { pads: [1, 1, 1, 1] })])], { kernel_shape: [2, 2], strides: [2, 2] });
  const logits = b.op1('Gemm', [b.op1('Flatten', [h]), w1, b1], { transB: 1 }, { outputs: ['logits'] });
  const loss = b.op1('SoftmaxCrossEntropyLoss', [logits, labels], {}, { outputs: ['loss'] });
  const grads = buildGradients(b, loss, [w0, b0, w1, b1]);
  [loss, logits, ...grads].forEach((o) => b.output(o));
  return b;
}

test('the same build gives byte-identical models twice', () => {
  const a = encodeModel(cnnTrainingGraph().graph, { metadata: { model: 'cnn', note: 'x' } });
  const c = encodeModel(cnnTrainingGraph().graph, { metadata: { note: 'x', model: 'cnn' } });
  assert.ok(a.length > 1000);
  assert.deepEqual(Buffer.from(a), Buffer.from(c));
});

test('encode -> decode -> encode round trip keeps every field and the bytes', () => {
  const b = new GraphBuilder('attrs');
  const x = b.input('x', 'float32', ['N', 3]);
  b.initializer('w64', tensor('float64', [2], [1.5, -2.25]));
  b.initializer('i64', tensor('int64', [3], [1, -2, 3]));
  const y = b.op1('LeakyRelu', [x], { alpha: float(0.25) });
  const z = b.op1('Constant', [], { value: tensorAttr(tensor('float32', [2], [0.5, 1])) });
  b.op1('Identity', [y], { note: 'text', ks: [3, 3], fs: floats([0.5, 2]) }, { outputs: ['out'] });
  b.output('out');
  b.output(z);
  const bytes = encodeModel(b.graph, { metadata: { classes: 'a,b' }, docString: 'doc' });
  const m = decodeModel(bytes);
  assert.equal(m.opset, OPSET);
  assert.deepEqual(m.metadata, { classes: 'a,b' });
  assert.deepEqual(m.graph.inputs, [{ name: 'x', dtype: 'float32', shape: ['N', 3] }]);
  assert.deepEqual(Array.from(m.graph.initializers.get('w64')!.data as Float64Array), [1.5, -2.25]);
  assert.deepEqual(Array.from(m.graph.initializers.get('i64')!.data as BigInt64Array), [1n, -2n, 3n]);
  const leaky = m.graph.nodes[0];
  assert.equal(leaky.opType, 'LeakyRelu');
  assert.deepEqual(leaky.attrs.alpha, { kind: 'float', value: 0.25 });
  const id = m.graph.nodes[2];
  assert.deepEqual(id.attrs.ks, { kind: 'ints', value: [3, 3] });
  assert.deepEqual(id.attrs.fs, { kind: 'floats', value: [0.5, 2] });
  assert.deepEqual(id.attrs.note, { kind: 'string', value: 'text' });
  assert.equal(m.graph.nodes[1].attrs.value.kind, 'tensor');
  assert.deepEqual(Buffer.from(encodeModel(m.graph, { metadata: m.metadata, docString: 'doc' })), Buffer.from(bytes));
});

test('the CNN training graph loads in onnxruntime-node, with a dynamic batch, and runs', async () => {
  const bytes = encodeModel(cnnTrainingGraph().graph);
  const s = await ort.InferenceSession.create(bytes);
  assert.deepEqual(s.outputNames.slice(0, 2), ['loss', 'logits']);
  assert.deepEqual(s.outputNames.slice(2), ['w0.grad', 'b0.grad', 'w1.grad', 'b1.grad']);
  const f = (dims: number[]) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((p, q) => p * q, 1) }, (_, i) => Math.sin(i)), dims);
  for (const n of [1, 3]) {
    const out = await s.run({
      input: f([n, 1, 8, 8]), labels: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3)), [n]),
      w0: f([4, 1, 3, 3]), b0: f([4]), w1: f([3, 64]), b1: f([3]),
    });
    assert.ok(Number.isFinite(out.loss.data[0] as number));
    assert.deepEqual(out['w0.grad'].dims, [4, 1, 3, 3]);
  }
});
