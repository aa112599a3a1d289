import { isDeepStrictEqual } from 'node:util';
import protobuf from 'protobufjs';
import { ONNX_PROTO } from './schema.js';
import { IR_VERSION, OPSET, PRODUCER } from './opset.js';
import { Graph, type Attr, type Node, type ValueInfo } from '../graph/ir.js';
import { allocate, DTYPE_FROM_ONNX, ONNX_DTYPE, tensorBytes, tensorFromBytes, type Tensor } from '../graph/tensor.js';

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');
const TensorProto = root.lookupType('onnx.TensorProto');

type Obj = Record<string, unknown>;

/**
 * A decoded model keeps what the IR cannot say. `kept` maps each Graph, Node, Attr, ValueInfo, Tensor and
 * OpsetImport made by decodeModel to the proto it came from: while the IR object still decodes the same,
 * that proto is written back as it was (doc strings, metadata_props, float_data rather than raw_data, an
 * absent zero, an explicit empty domain); once it changes, it is written from the IR. `opaque` holds, per
 * Graph or Node, the initializers and attributes the IR has no type for (float16 and other dtypes, external
 * data, strings, sparse tensors, lists of tensors or graphs, ...): they are written back unless the IR now
 * has one of the same name.
 */
const kept = new WeakMap<object, Obj>();
const opaque = new WeakMap<Graph | Node, Obj[]>();

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

/** protobufjs writes every field that is set in proto2: leave '' and 0 unset where proto3 left them out. */
const set = <T>(v: T): T | undefined => (v === '' || v === 0 ? undefined : v);

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v as number | bigint | { toString(): string }));
const same = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

function tensorProto(t: Tensor, name?: string): Obj {
  const k = kept.get(t);
  if (k && (name === undefined || name === (k.name ?? '')) && k.data_type === ONNX_DTYPE[t.dtype] && isDeepStrictEqual(((k.dims as unknown[]) ?? []).map(num), t.dims)) {
    const raw = k.raw_data as Uint8Array | undefined;
    if (same(raw?.length ? raw : tensorBytes(decodeTensor(k)!), tensorBytes(t))) return k;
  }
  return { dims: t.dims, data_type: ONNX_DTYPE[t.dtype], name: set(name), raw_data: t.data.byteLength ? tensorBytes(t) : undefined };
}

function valueInfoProto(v: ValueInfo): Obj {
  const k = kept.get(v);
  if (k && isDeepStrictEqual(decodeValueInfo(k), v)) return k;
  const tensorType: Obj = { elem_type: ONNX_DTYPE[v.dtype] };
  if (v.shape) {
    tensorType.shape = { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  }
  return { name: v.name, type: { tensor_type: tensorType } };
}

function attrProto(name: string, a: Attr): Obj {
  const k = kept.get(a);
  if (k && k.name === name && num(k.type) === ATTR_TYPE[a.kind]) {
    if (a.kind === 'tensor') return { ...k, t: tensorProto(a.value, ((k.t as Obj).name as string) ?? '') };
    if (a.kind === 'graph') return { ...k, g: graphProto(a.value) };
    if (isDeepStrictEqual(decodeAttr(k), a)) return k;
  }
  const o: Obj = { name, type: ATTR_TYPE[a.kind] };
  switch (a.kind) {
    // A zero f or i is left out, as onnxtrain always wrote it: ONNX reads an absent value as 0.
    case 'float': o.f = set(a.value); break;
    case 'int': o.i = set(a.value); break;
    case 'string': o.s = a.value ? new TextEncoder().encode(a.value) : undefined; break;
    case 'floats': o.floats = a.value; break;
    case 'ints': o.ints = a.value; break;
    case 'tensor': o.t = tensorProto(a.value, ''); break;
    case 'graph': o.g = graphProto(a.value); break;
  }
  return o;
}

/** `names`, those the decoded protos had first and in their order (a decoded model keeps its order). */
const decodedFirst = (protos: unknown, names: string[]): string[] =>
  [...new Set([...((protos as Obj[]) ?? []).map((p) => p.name as string).filter((name) => names.includes(name)), ...names])];

const byName = (rest: Obj[]) => new Map(rest.map((p) => [p.name as string, p]));

function nodeProto(n: Node): Obj {
  const k = kept.get(n) ?? {};
  const rest = byName(opaque.get(n) ?? []);
  // New attributes sorted by name so the same graph always gives the same bytes.
  const names = decodedFirst(k.attribute, [...Object.keys(n.attrs).sort(), ...rest.keys()]);
  const attribute = names.map((name) => (Object.hasOwn(n.attrs, name) ? attrProto(name, n.attrs[name]) : rest.get(name)!));
  return {
    ...k,
    input: n.inputs,
    output: n.outputs,
    name: n.name === (k.name ?? '') ? k.name : set(n.name),
    op_type: n.opType,
    domain: n.domain === (k.domain ?? '') ? k.domain : set(n.domain),
    attribute,
  };
}

export function graphProto(g: Graph): Obj {
  const k = kept.get(g) ?? {};
  const rest = byName(opaque.get(g) ?? []);
  const names = decodedFirst(k.initializer, [...g.initializers.keys(), ...rest.keys()]);
  const initializer = names.map((name) => (g.initializers.has(name) ? tensorProto(g.initializers.get(name)!, name) : rest.get(name)!));
  // A new node may make a value of another type or shape than the decoded value_info says: drop those.
  const made = new Set(g.nodes.filter((n) => !kept.has(n)).flatMap((n) => n.outputs));
  return {
    ...k,
    node: g.nodes.map(nodeProto),
    name: g.name === (k.name ?? '') ? k.name : set(g.name),
    initializer,
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
    value_info: ((k.value_info as Obj[]) ?? []).filter((v) => !made.has(v.name as string)),
  };
}

export interface OpsetImport {
  /** '' is ai.onnx. */
  domain: string;
  version: number;
}

export interface EncodeOptions {
  docString?: string;
  metadata?: Record<string, string>;
  /** Default IR_VERSION. */
  irVersion?: number;
  /** Every operator set the graph uses. Default ai.onnx at OPSET and the graph's own `opsets`. */
  opsetImports?: OpsetImport[];
  /** Default PRODUCER. */
  producerName?: string;
  /** Default onnxtrain's version. */
  producerVersion?: string;
  /** ModelProto fields onnxtrain does not model (domain, model_version, functions, training_info, ...), written as given. */
  extra?: Obj;
}

const defaultOpsets = (g: Graph): OpsetImport[] =>
  [{ domain: '', version: OPSET }, ...[...g.opsets].sort(([a], [b]) => (a < b ? -1 : 1)).map(([domain, version]) => ({ domain, version }))];

/**
 * Serialise a graph as an ONNX ModelProto: ai.onnx opset OPSET and IR_VERSION unless opts say otherwise.
 * Deterministic bytes. encodeModel(m.graph, m) writes a decoded model back with its own versions, opsets,
 * producer, doc string, metadata and the fields onnxtrain does not model.
 */
export function encodeModel(g: Graph, opts: EncodeOptions = {}): Uint8Array {
  const model = {
    ...opts.extra,
    ir_version: opts.irVersion ?? IR_VERSION,
    producer_name: set(opts.producerName ?? PRODUCER),
    producer_version: set(opts.producerVersion ?? '0.1.0'),
    doc_string: set(opts.docString ?? ''),
    graph: graphProto(g),
    opset_import: (opts.opsetImports ?? defaultOpsets(g)).map((o) => {
      const k = kept.get(o);
      return k && isDeepStrictEqual(decodeOpset(k), o) ? k : { domain: set(o.domain), version: o.version };
    }),
    metadata_props: Object.keys(opts.metadata ?? {}).sort().map((key) => ({ key, value: opts.metadata![key] })),
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`encodeModel: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** The tensor, or undefined when its dtype or storage (external data) has no onnxtrain Tensor. */
function decodeTensor(t: Obj): Tensor | undefined {
  const dtype = DTYPE_FROM_ONNX[num(t.data_type)];
  if (!dtype || num(t.data_location ?? 0) !== 0) return undefined;
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

/** A serialized TensorProto (ONNX's test data .pb files); undefined where its dtype has no onnxtrain Tensor. */
export function decodeTensorProto(bytes: Uint8Array): Tensor | undefined {
  return decodeTensor(TensorProto.toObject(TensorProto.decode(bytes), { bytes: Uint8Array as unknown as typeof String, defaults: false }) as Obj);
}

/** dtype is undefined at run time for a type onnxtrain has no DType for (float16, a sequence, ...). */
function decodeValueInfo(v: Obj): ValueInfo {
  const tt = ((v.type as Obj | undefined)?.tensor_type ?? {}) as Obj;
  const shape = tt.shape as Obj | undefined;
  return {
    name: v.name as string,
    dtype: DTYPE_FROM_ONNX[num(tt.elem_type)],
    shape: shape ? ((shape.dim as Obj[]) ?? []).map((d) => (d.dim_param ? (d.dim_param as string) : num(d.dim_value))) : undefined,
  };
}

/** The attribute, or undefined when the IR has no Attr for it. An absent f or i is 0, as in ONNX. */
function decodeAttr(a: Obj): Attr | undefined {
  if (a.ref_attr_name) return undefined;
  switch (num(a.type)) {
    case 1: return { kind: 'float', value: num(a.f ?? 0) };
    case 2: return { kind: 'int', value: num(a.i ?? 0) };
    case 3: return { kind: 'string', value: new TextDecoder().decode(a.s as Uint8Array | undefined) };
    case 4: {
      const t = decodeTensor((a.t ?? {}) as Obj);
      return t && { kind: 'tensor', value: keep(t, a.t as Obj) };
    }
    case 5: return { kind: 'graph', value: decodeGraph((a.g ?? {}) as Obj) };
    case 6: return { kind: 'floats', value: ((a.floats as unknown[]) ?? []).map(num) };
    case 7: return { kind: 'ints', value: ((a.ints as unknown[]) ?? []).map(num) };
    default: return undefined;
  }
}

const decodeOpset = (o: Obj): OpsetImport => ({ domain: (o.domain as string) ?? '', version: num(o.version) });

/** Record `ir` as decoded from `proto` and return it. */
function keep<T extends object>(ir: T, proto: Obj): T {
  kept.set(ir, proto);
  return ir;
}

function decodeNode(n: Obj): Node {
  const attrs: Record<string, Attr> = {};
  const rest: Obj[] = [];
  for (const a of (n.attribute as Obj[]) ?? []) {
    const attr = decodeAttr(a);
    if (attr) attrs[a.name as string] = keep(attr, a);
    else rest.push(a);
  }
  const node: Node = {
    opType: n.op_type as string,
    inputs: (n.input as string[]) ?? [],
    outputs: (n.output as string[]) ?? [],
    name: (n.name as string) ?? '',
    domain: (n.domain as string) ?? '',
    attrs,
  };
  opaque.set(node, rest);
  return keep(node, n);
}

function decodeGraph(gp: Obj): Graph {
  const g = keep(new Graph((gp.name as string) ?? ''), gp);
  const rest: Obj[] = [];
  for (const tp of (gp.initializer as Obj[]) ?? []) {
    const t = decodeTensor(tp);
    if (t) g.initializers.set(tp.name as string, keep(t, tp));
    else rest.push(tp);
  }
  opaque.set(g, rest);
  g.inputs = ((gp.input as Obj[]) ?? []).map((v) => keep(decodeValueInfo(v), v));
  g.outputs = ((gp.output as Obj[]) ?? []).map((v) => keep(decodeValueInfo(v), v));
  for (const v of [...g.inputs, ...g.outputs]) g.values.set(v.name, v);
  for (const [name, t] of g.initializers) g.values.set(name, { name, dtype: t.dtype, shape: t.dims });
  g.nodes = ((gp.node as Obj[]) ?? []).map(decodeNode);
  return g;
}

export interface DecodedModel extends Required<EncodeOptions> {
  graph: Graph;
  /** The ai.onnx opset version (0 when the model imports none). */
  opset: number;
}

/**
 * Decode an ONNX model. Initializers and attributes of a type the IR has no place for stay out of the
 * graph but are written back by encodeModel(m.graph, m), as is everything else the IR does not model.
 * An input or output whose type has no DType (float16, a sequence, ...) has dtype undefined.
 */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  // Longs stay Long objects: exact when written back, and verify() accepts them (not strings).
  const m = ModelProto.toObject(ModelProto.decode(bytes), { bytes: Uint8Array as unknown as typeof String, defaults: false }) as Obj;
  const { ir_version, producer_name, producer_version, doc_string, graph, opset_import, metadata_props, ...extra } = m;
  const opsetImports = ((opset_import as Obj[]) ?? []).map((o) => keep(decodeOpset(o), o));
  return {
    graph: decodeGraph((graph ?? {}) as Obj),
    opset: opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0,
    irVersion: num(ir_version ?? 0),
    opsetImports,
    producerName: (producer_name as string) ?? '',
    producerVersion: (producer_version as string) ?? '',
    docString: (doc_string as string) ?? '',
    metadata: Object.fromEntries(((metadata_props as Obj[]) ?? []).map((e) => [e.key as string, e.value as string])),
    extra,
  };
}
