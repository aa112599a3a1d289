import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import { float } from '../../src/graph/ir.js';
import { tensor, type Tensor } from '../../src/graph/tensor.js';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { canonicalModel, encodeProto } from './proto.js';

const values = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>);

const le = (Ctor: { new (a: number[]): ArrayBufferView }, xs: number[]) => {
  const a = new Ctor(xs);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
};
const u16 = (bits: number[]) => le(Uint16Array, bits);
const F16 = [0x3c00, 0xc000, 0x3800, 0]; // 1, -2, 0.5, 0 in float16
const BF16 = [0x3f80, 0xc000, 0x3f00, 0x4040]; // 1, -2, 0.5, 3 in bfloat16
const vi = (name: string, elem_type: number, dims: (number | string)[]) =>
  ({ name, type: { tensor_type: { elem_type, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } } });
const node = (op_type: string, input: string[], output: string[], attribute: object[] = [], extra: object = {}) => ({ op_type, input, output, name: output[0], attribute, ...extra });
const cast = (x: string) => node('Cast', [x], [`${x}.f`], [{ name: 'to', type: 2, i: 1 }]);

/**
 * What another exporter writes: IR 7, ai.onnx 13 and com.microsoft 1, zero-valued attributes written out,
 * initializers of eleven dtypes in raw_data and in the typed fields, a float16 Constant, a strings attribute,
 * doc strings, value_info and model metadata.
 */
function foreignModel(): Uint8Array {
  const init = [
    { name: 'W', data_type: 1, dims: [4, 3], raw_data: le(Float32Array, [1, 0, -1, 0.5, 2, 0, -3, 1, 1, 0, 0, 1]), doc_string: 'weight' },
    { name: 'B', data_type: 1, dims: [4], float_data: [0.25, -0.5, 0, 1] },
    { name: 'f16', data_type: 10, dims: [4], int32_data: F16 },
    { name: 'bf16', data_type: 16, dims: [4], raw_data: u16(BF16) },
    { name: 'i8', data_type: 3, dims: [4], int32_data: [-128, 5, 0, 127] },
    { name: 'i16', data_type: 5, dims: [4], raw_data: le(Int16Array, [-300, 2, 0, 7]) },
    { name: 'u8', data_type: 2, dims: [4], raw_data: new Uint8Array([0, 1, 200, 255]) },
    { name: 'i32', data_type: 6, dims: [4], int32_data: [-7, 0, 3, 100000] },
    { name: 'i64', data_type: 7, dims: [4], int64_data: ['-9007199254740993', '0', '4', '12'] },
    { name: 'f64', data_type: 11, dims: [4], double_data: [0.125, -1e300, 0, 2] },
    { name: 'mask', data_type: 9, dims: [4], int32_data: [1, 0, 1, 1] },
    { name: 'words', data_type: 8, dims: [2], string_data: [Buffer.from('cat'), Buffer.from('dog')] },
  ];
  const constantF16 = { name: 'value', type: 4, t: { data_type: 10, dims: [4], raw_data: u16(F16) } };
  const nodes = [
    node('Gemm', ['x', 'W', 'B'], ['g'], [
      { name: 'transA', type: 2, i: 0 }, { name: 'transB', type: 2, i: 1 }, { name: 'alpha', type: 1, f: 1 }, { name: 'beta', type: 1, f: 1 },
    ], { doc_string: 'fully connected' }),
    node('LeakyRelu', ['g'], ['r'], [{ name: 'alpha', type: 1, f: 0 }]),
    node('Constant', [], ['k16'], [constantF16]),
    ...['f16', 'bf16', 'i8', 'i16', 'u8', 'i32', 'i64', 'f64', 'k16'].map(cast),
    node('Sum', ['r', 'f16.f', 'bf16.f', 'i8.f', 'i16.f', 'u8.f', 'i32.f', 'i64.f', 'f64.f', 'k16.f'], ['s']),
    node('Where', ['mask', 's', 'r'], ['w']),
    node('Flatten', ['w'], ['flat'], [{ name: 'axis', type: 2, i: 0 }]),
    node('Gelu', ['flat'], ['out'], [], { domain: 'com.microsoft' }),
    node('Identity', ['words'], ['names']),
    node('Constant', [], ['labels'], [{ name: 'value_strings', type: 8, strings: [Buffer.from('a'), Buffer.from('b')] }]),
  ];
  return encodeProto({
    ir_version: 7,
    producer_name: 'pytorch',
    producer_version: '2.1.0',
    domain: 'org.example',
    model_version: 3,
    doc_string: 'a model onnxtrain did not write',
    opset_import: [{ domain: '', version: 13 }, { domain: 'com.microsoft', version: 1 }],
    metadata_props: [{ key: 'classes', value: 'cat,dog' }, { key: 'author', value: 'someone' }],
    graph: {
      name: 'foreign',
      doc_string: 'graph doc',
      node: nodes,
      initializer: init,
      input: [vi('x', 1, ['N', 3])],
      output: [vi('out', 1, [1, 'M']), vi('names', 8, [2]), vi('labels', 8, [2])],
      value_info: [{ ...vi('r', 1, ['N', 4]), doc_string: 'after LeakyRelu' }],
    },
  });
}

async function run(bytes: Uint8Array) {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2, 3, 0.5, 0, -1]), [2, 3]) });
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: Array.from(t.data as ArrayLike<unknown>) }]));
}

test('a model from another exporter re-encodes with its IR version, opsets, dtypes and zero attributes, and runs the same', async () => {
  const bytes = foreignModel();
  const m = decodeModel(bytes);
  assert.equal(m.irVersion, 7);
  assert.equal(m.opset, 13);
  assert.deepEqual(m.opsetImports, [{ domain: '', version: 13 }, { domain: 'com.microsoft', version: 1 }]);
  assert.deepEqual([m.producerName, m.producerVersion, m.docString], ['pytorch', '2.1.0', 'a model onnxtrain did not write']);
  assert.deepEqual(m.metadata, { classes: 'cat,dog', author: 'someone' });
  const [gemm, leaky] = m.graph.nodes;
  assert.deepEqual(gemm.attrs.transA, { kind: 'int', value: 0 });
  assert.deepEqual(leaky.attrs.alpha, { kind: 'float', value: 0 });
  assert.deepEqual(m.graph.nodes.find((n) => n.opType === 'Flatten')!.attrs.axis, { kind: 'int', value: 0 });
  // The IR holds the dtypes it has; the others stay out of it and are written back as they were.
  assert.deepEqual([...m.graph.initializers.keys()], ['W', 'B', 'u8', 'i32', 'i64', 'f64', 'mask']);
  assert.deepEqual(values(m.graph.initializers.get('B')!), [0.25, -0.5, 0, 1]);
  assert.deepEqual(values(m.graph.initializers.get('i64')!), [-9007199254740993n, 0n, 4n, 12n]);

  const again = encodeModel(m.graph, m);
  assert.deepEqual(canonicalModel(again), canonicalModel(bytes));
  assert.deepEqual(decodeModel(again), m);
  assert.deepEqual(encodeModel(decodeModel(again).graph, decodeModel(again)), again);

  const [want, got] = [await run(bytes), await run(again)];
  assert.deepEqual(got, want);
  assert.deepEqual(want.out.dims, [1, 8]); // Flatten axis 0
  assert.deepEqual(want.names.data, ['cat', 'dog']);
  assert.deepEqual(want.labels.data, ['a', 'b']);
});

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

test('what changes in a decoded model is written from the IR, and what does not change stays as decoded', () => {
  const m = decodeModel(foreignModel());
  const g = m.graph;
  g.initializers.set('W', tensor('float32', [4, 3], Array.from({ length: 12 }, () => 2)));
  g.initializers.set('f16', tensor('float32', [4], [1, 2, 3, 4])); // replaces the float16 initializer of that name
  g.nodes[1] = { ...g.nodes[1], attrs: { alpha: float(0.5) } }; // a new LeakyRelu: value_info of 'r' no longer applies
  const back = decodeModel(encodeModel(g, m));
  assert.deepEqual(values(back.graph.initializers.get('W')!), Array(12).fill(2));
  assert.deepEqual(values(back.graph.initializers.get('f16')!), [1, 2, 3, 4]);
  assert.deepEqual(back.graph.nodes[1].attrs, { alpha: float(0.5) });
  const proto = canonicalModel(encodeModel(g, m)) as { graph: { value_info?: unknown[]; initializer: { name: string; doc_string?: string; data_type: number }[] } };
  assert.equal(proto.graph.value_info, undefined);
  assert.equal(proto.graph.initializer.find((t) => t.name === 'W')!.doc_string, undefined);
  assert.deepEqual(proto.graph.initializer.filter((t) => t.name === 'f16').map((t) => t.data_type), [1]);
  assert.equal(proto.graph.initializer.find((t) => t.name === 'bf16')!.data_type, 16);
});
