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

function putVarint(out: number[], v: number): void {
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** A length-delimited field: key, length, payload. */
function lengthField(field: number, payload: Uint8Array): Uint8Array {
  const head: number[] = [];
  putVarint(head, field * 8 + 2);
  putVarint(head, payload.length);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Every field of buf[start, end) as its raw bytes (key included), with its number and payload span. */
function rawFields(buf: Uint8Array, start: number, end: number): { field: number; wire: number; bytes: Uint8Array; start: number; end: number }[] {
  const out = [];
  const at = { i: start };
  while (at.i < end) {
    const from = at.i;
    const key = varint(buf, at);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let payload = at.i;
    if (wire === 0) varint(buf, at);
    else if (wire === 1) at.i += 8;
    else if (wire === 5) at.i += 4;
    else if (wire === 2) {
      const n = varint(buf, at);
      payload = at.i;
      at.i += n;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.push({ field, wire, bytes: buf.subarray(from, at.i), start: payload, end: at.i });
  }
  return out;
}

/**
 * The model with some float32 initializers replaced by tensors of another shape (the page's download of a
 * head with a different number of classes). Rewrites TensorProto.dims (1) and raw_data (9) of the named
 * initializers and the lengths of the messages around them; every other byte is copied as it was. The
 * graph must not state the changed sizes elsewhere (the trainable page's model leaves its class dimension
 * symbolic for this).
 */
export function resizeInitializers(model: Uint8Array, changes: Map<string, { dims: number[]; data: Float32Array }>): Uint8Array {
  const done = new Set<string>();
  const tensor = (f: { bytes: Uint8Array; start: number; end: number }): Uint8Array => {
    const inner = rawFields(model, f.start, f.end);
    const nameField = inner.find((x) => x.field === 8 && x.wire === 2);
    const name = nameField && new TextDecoder().decode(model.subarray(nameField.start, nameField.end));
    const change = name === undefined ? undefined : changes.get(name);
    if (!change) return f.bytes;
    done.add(name!);
    const dims: number[] = [];
    for (const d of change.dims) {
      putVarint(dims, 1 * 8 + 0);
      putVarint(dims, d);
    }
    const raw = new Uint8Array(change.data.buffer, change.data.byteOffset, change.data.byteLength);
    return lengthField(5, concat([Uint8Array.from(dims), ...inner.filter((x) => x.field !== 1 && x.field !== 9).map((x) => x.bytes), lengthField(9, raw)]));
  };
  const graph = (f: { bytes: Uint8Array; start: number; end: number }): Uint8Array =>
    lengthField(7, concat(rawFields(model, f.start, f.end).map((x) => (x.field === 5 && x.wire === 2 ? tensor(x) : x.bytes))));
  const out = concat(rawFields(model, 0, model.length).map((x) => (x.field === 7 && x.wire === 2 ? graph(x) : x.bytes)));
  const missing = [...changes.keys()].filter((n) => !done.has(n));
  if (missing.length) throw new Error(`model.onnx has no initializer ${missing.map((n) => `'${n}'`).join(', ')} to resize; re-run export-web --trainable`);
  return out;
}
