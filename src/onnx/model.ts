import protobuf from 'protobufjs';
import { ONNX_PROTO } from './schema.js';
import { IR_VERSION, OPSET, PRODUCER } from './opset.js';
import { Graph, type Attr, type Node, type ValueInfo } from '../graph/ir.js';
import { allocate, DTYPE_FROM_ONNX, ONNX_DTYPE, tensorBytes, tensorFromBytes, type Tensor } from '../graph/tensor.js';

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

type Obj = Record<string, unknown>;

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

/** protobufjs writes every field that is set in proto2: leave '' and 0 unset where proto3 left them out. */
const set = <T>(v: T): T | undefined => (v === '' || v === 0 ? undefined : v);

function tensorProto(name: string, t: Tensor): Obj {
  return { dims: t.dims, data_type: ONNX_DTYPE[t.dtype], name: set(name), raw_data: t.data.byteLength ? tensorBytes(t) : undefined };
}

function valueInfoProto(v: ValueInfo): Obj {
  const tensorType: Obj = { elem_type: ONNX_DTYPE[v.dtype] };
  if (v.shape) {
    tensorType.shape = { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  }
  return { name: v.name, type: { tensor_type: tensorType } };
}

function attrProto(name: string, a: Attr): Obj {
  const o: Obj = { name, type: ATTR_TYPE[a.kind] };
  switch (a.kind) {
    // A zero f or i is left out, as onnxtrain always wrote it: ONNX reads an absent value as 0.
    case 'float': o.f = set(a.value); break;
    case 'int': o.i = set(a.value); break;
    case 'string': o.s = a.value ? new TextEncoder().encode(a.value) : undefined; break;
    case 'floats': o.floats = a.value; break;
    case 'ints': o.ints = a.value; break;
    case 'tensor': o.t = tensorProto('', a.value); break;
    case 'graph': o.g = graphProto(a.value); break;
  }
  return o;
}

function nodeProto(n: Node): Obj {
  return {
    input: n.inputs,
    output: n.outputs,
    name: set(n.name),
    op_type: n.opType,
    domain: set(n.domain),
    // Sorted by name so the same graph always gives the same bytes.
    attribute: Object.keys(n.attrs).sort().map((k) => attrProto(k, n.attrs[k])),
  };
}

export function graphProto(g: Graph): Obj {
  return {
    node: g.nodes.map(nodeProto),
    name: set(g.name),
    initializer: [...g.initializers].map(([name, t]) => tensorProto(name, t)),
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
  };
}

export interface ModelOptions {
  docString?: string;
  metadata?: Record<string, string>;
}

/** Serialise a graph as an ONNX ModelProto (ai.onnx opset OPSET). Deterministic bytes. */
export function encodeModel(g: Graph, opts: ModelOptions = {}): Uint8Array {
  const model = {
    ir_version: IR_VERSION,
    producer_name: PRODUCER,
    producer_version: '0.1.0',
    doc_string: set(opts.docString ?? ''),
    graph: graphProto(g),
    opset_import: [{ version: OPSET }],
    metadata_props: Object.keys(opts.metadata ?? {}).sort().map((key) => ({ key, value: opts.metadata![key] })),
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`encodeModel: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v as number | bigint | { toString(): string }));

function decodeTensor(t: Obj): Tensor {
  const dtype = DTYPE_FROM_ONNX[num(t.data_type)];
  if (!dtype) throw new Error(`decodeModel: unsupported tensor data_type ${String(t.data_type)}`);
  const dims = ((t.dims as unknown[]) ?? []).map(num);
  const raw = t.raw_data as Uint8Array | undefined;
  if (raw && raw.length) return tensorFromBytes(dtype, dims, raw);
  const n = dims.reduce((a, b) => a * b, 1);
  const out: Tensor = { dtype, dims, data: allocate(dtype, n) };
  const src = (t.float_data ?? t.double_data ?? t.int64_data ?? t.int32_data) as unknown[] | undefined;
  if (src) for (let i = 0; i < n; i++) {
    if (dtype === 'int64') (out.data as BigInt64Array)[i] = BigInt(String(src[i]));
    else (out.data as Float32Array)[i] = num(src[i]);
  }
  return out;
}

function decodeValueInfo(v: Obj): ValueInfo {
  const tt = ((v.type as Obj | undefined)?.tensor_type ?? {}) as Obj;
  const shape = tt.shape as Obj | undefined;
  return {
    name: v.name as string,
    dtype: DTYPE_FROM_ONNX[num(tt.elem_type)],
    shape: shape ? ((shape.dim as Obj[]) ?? []).map((d) => (d.dim_param ? (d.dim_param as string) : num(d.dim_value))) : undefined,
  };
}

/** An absent f or i is 0, as in ONNX. */
function decodeAttr(a: Obj): Attr {
  switch (num(a.type)) {
    case 1: return { kind: 'float', value: num(a.f ?? 0) };
    case 2: return { kind: 'int', value: num(a.i ?? 0) };
    case 3: return { kind: 'string', value: new TextDecoder().decode(a.s as Uint8Array) };
    case 4: return { kind: 'tensor', value: decodeTensor(a.t as Obj) };
    case 5: return { kind: 'graph', value: decodeGraph(a.g as Obj) };
    case 6: return { kind: 'floats', value: ((a.floats as unknown[]) ?? []).map(num) };
    case 7: return { kind: 'ints', value: ((a.ints as unknown[]) ?? []).map(num) };
    default: throw new Error(`decodeModel: unsupported attribute type ${String(a.type)} on '${String(a.name)}'`);
  }
}

function decodeGraph(gp: Obj): Graph {
  const g = new Graph((gp.name as string) ?? '');
  for (const t of (gp.initializer as Obj[]) ?? []) g.initializers.set(t.name as string, decodeTensor(t));
  g.inputs = ((gp.input as Obj[]) ?? []).map(decodeValueInfo);
  g.outputs = ((gp.output as Obj[]) ?? []).map(decodeValueInfo);
  for (const v of [...g.inputs, ...g.outputs]) g.values.set(v.name, v);
  for (const [name, t] of g.initializers) g.values.set(name, { name, dtype: t.dtype, shape: t.dims });
  g.nodes = ((gp.node as Obj[]) ?? []).map((n) => ({
    opType: n.op_type as string,
    inputs: (n.input as string[]) ?? [],
    outputs: (n.output as string[]) ?? [],
    name: (n.name as string) ?? '',
    domain: (n.domain as string) ?? '',
    attrs: Object.fromEntries(((n.attribute as Obj[]) ?? []).map((a) => [a.name as string, decodeAttr(a)])),
  }));
  return g;
}

export interface DecodedModel {
  graph: Graph;
  opset: number;
  irVersion: number;
  metadata: Record<string, string>;
}

export function decodeModel(bytes: Uint8Array): DecodedModel {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false }) as Obj;
  const opsets = (m.opset_import as Obj[]) ?? [];
  const main = opsets.find((o) => !o.domain);
  return {
    graph: decodeGraph(m.graph as Obj),
    opset: main ? num(main.version) : 0,
    irVersion: num(m.ir_version),
    metadata: Object.fromEntries(((m.metadata_props as Obj[]) ?? []).map((e) => [e.key as string, e.value as string])),
  };
}
