import protobuf from 'protobufjs';
import { ONNX_PROTO } from '../../src/onnx/schema.js';

const ModelProto = protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');

/** Bytes of a ModelProto given as a plain object with any ONNX fields (what another exporter may write). */
export const encodeProto = (model: object): Uint8Array => ModelProto.encode(ModelProto.fromObject(model)).finish();

type Obj = Record<string, unknown>;

/**
 * Every field of a model as protobufjs decodes it, up to what encodeModel may change without changing the
 * model: the order of the model's metadata_props, and empty producer and doc strings.
 */
export function canonicalModel(bytes: Uint8Array): unknown {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { longs: String, bytes: String, defaults: false }) as Obj;
  for (const k of ['producer_name', 'producer_version', 'doc_string']) if (m[k] === '') delete m[k];
  (m.metadata_props as Obj[] | undefined)?.sort((a, b) => String(a.key).localeCompare(String(b.key)));
  return m;
}
