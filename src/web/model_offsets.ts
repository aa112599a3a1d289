/**
 * Where each initializer's bytes lie inside an encoded ONNX model: the page reads its starting weights
 * straight out of model.onnx and writes fine-tuned ones back in place (same length, so no protobuf
 * encoder is needed in the browser). Walks only ModelProto.graph (7) -> GraphProto.initializer (5) ->
 * TensorProto.name (8) / raw_data (9); everything else is skipped by wire type.
 */
export interface InitializerSpan {
  name: string;
  /** Byte offset of raw_data in the model file. */
  offset: number;
  /** Length of raw_data in bytes. */
  bytes: number;
}

interface Field {
  field: number;
  wire: number;
  /** For length-delimited fields: where the payload starts and ends. */
  start: number;
  end: number;
}

function varint(buf: Uint8Array, at: { i: number }): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (at.i >= buf.length) throw new Error('truncated varint');
    const b = buf[at.i++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  const at = { i: start };
  while (at.i < end) {
    const key = varint(buf, at);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) varint(buf, at);
    else if (wire === 1) at.i += 8;
    else if (wire === 5) at.i += 4;
    else if (wire === 2) {
      const n = varint(buf, at);
      yield { field, wire, start: at.i, end: at.i + n };
      at.i += n;
      continue;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (at.i > end) throw new Error('truncated field');
  }
}

/** The raw_data span of every initializer that stores its values as raw_data, by name. */
export function initializerSpans(model: Uint8Array): Map<string, InitializerSpan> {
  const spans = new Map<string, InitializerSpan>();
  for (const g of fields(model, 0, model.length)) {
    if (g.field !== 7 || g.wire !== 2) continue;
    for (const init of fields(model, g.start, g.end)) {
      if (init.field !== 5 || init.wire !== 2) continue;
      let name: string | undefined;
      let raw: Field | undefined;
      for (const f of fields(model, init.start, init.end)) {
        if (f.field === 8 && f.wire === 2) name = new TextDecoder().decode(model.subarray(f.start, f.end));
        if (f.field === 9 && f.wire === 2) raw = f;
      }
      if (name !== undefined && raw) spans.set(name, { name, offset: raw.start, bytes: raw.end - raw.start });
    }
  }
  return spans;
}
