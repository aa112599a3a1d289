import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { float } from '../../src/graph/ir.js';
import { tensor } from '../../src/graph/tensor.js';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';

test('zero-valued attributes of our own graphs decode as 0 and re-encode to the same bytes', async () => {
  const b = new GraphBuilder('zeros');
  const x = b.input('x', 'float32', ['N', 3]);
  const w = b.initializer('w', tensor('float32', [4, 3], Array.from({ length: 12 }, (_, i) => i - 6)));
  const g = b.op1('Gemm', [x, w], { transA: 0, transB: 1, alpha: float(1), beta: float(0) });
  const y = b.op1('LeakyRelu', [g], { alpha: float(0) });
  b.op1('Flatten', [y], { axis: 0 }, { outputs: ['out'] });
  b.output('out');
  const bytes = encodeModel(b.graph);
  const m = decodeModel(bytes);
  assert.deepEqual(m.graph.nodes.map((n) => n.attrs), [
    { alpha: float(1), beta: float(0), transA: { kind: 'int', value: 0 }, transB: { kind: 'int', value: 1 } },
    { alpha: float(0) },
    { axis: { kind: 'int', value: 0 } },
  ]);
  assert.deepEqual(encodeModel(m.graph, m), bytes);
  // New nodes and attributes, with no decoded proto behind them, give the same bytes too.
  const copy = { ...m.graph, nodes: m.graph.nodes.map((n) => ({ ...n, attrs: structuredClone(n.attrs) })) } as typeof m.graph;
  assert.deepEqual(encodeModel(copy), bytes);
  const s = await ort.InferenceSession.create(encodeModel(m.graph, m));
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, -1, 0, 1]), [2, 3]) });
  assert.deepEqual(out.out.dims, [1, 8]);
  assert.ok(Array.from(out.out.data as Float32Array).every((v) => v >= 0));
});
