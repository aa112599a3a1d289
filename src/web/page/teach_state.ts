/**
 * The fine-tuning state (weights, optimizer state, step) as plain arrays, the feeds of one train_step run
 * in the contract's input order, and the two downloads: model.onnx with the new weights written over the
 * old ones in place, and a safetensors checkpoint. Pure: the worker, the page and Node tests share it.
 */
import { Rng } from '../../data/rng.js';
import { checkpointStateKey, INPUT, LABELS, LEARNING_RATE, STEP, updated } from '../../graph/names.js';
import { resizeInitializers } from '../model_offsets.js';
import type { TeachConfig } from './teach_config.js';

export interface TeachState {
  /** Every parameter, buffer and optimizer state tensor, by name. */
  values: Map<string, Float32Array>;
  /** Optimizer updates applied since the exported weights. */
  step: number;
}

/** The exported weights, read out of model.onnx, with zeroed optimizer state. */
export function initialState(teach: TeachConfig, model: Uint8Array): TeachState {
  const values = new Map<string, Float32Array>();
  for (const p of teach.parameters) {
    if (p.offset + p.bytes > model.length) throw new Error(`model.onnx is shorter than teach.json says ('${p.name}' at byte ${p.offset}); re-run export-web --trainable`);
    values.set(p.name, new Float32Array(model.slice(p.offset, p.offset + p.bytes).buffer));
  }
  for (const s of teach.optimizerState) values.set(s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
  return { values, step: 0 };
}

/** Rows of each head tensor, active and spare. */
const headRows = (teach: TeachConfig) => teach.classes.count + teach.classes.spare;

/**
 * Head row `row` becomes a class: PyTorch's nn.Linear init, U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for its
 * weights and bias, drawn from a generator seeded by (teach.seed, row) so Reset redraws the same values;
 * its optimizer state is zeroed. Rows must be activated in order (the active rows stay a prefix).
 */
export function activateClass(teach: TeachConfig, state: TeachState, row: number): void {
  const { count, spare, head, fanIn } = teach.classes;
  if (!(Number.isInteger(row) && row >= count && row < count + spare)) throw new Error(`no spare head row ${row}: this page has room for ${spare} new classes (rows ${count} to ${count + spare - 1}); export it with a larger --new-classes`);
  const bound = 1 / Math.sqrt(fanIn);
  const rng = Rng.fromSeed(teach.seed, `new-class-${row}`);
  const rowOf = (v: Float32Array) => {
    const per = v.length / headRows(teach);
    return { v, from: row * per, to: (row + 1) * per };
  };
  for (const name of head) {
    const { v, from, to } = rowOf(state.values.get(name)!);
    for (let i = from; i < to; i++) v[i] = rng.uniform(-bound, bound);
  }
  for (const st of teach.optimizerState) {
    if (!head.includes(st.param)) continue;
    const { v, from, to } = rowOf(state.values.get(st.name)!);
    v.fill(0, from, to);
  }
}

/** The first `active` rows of a head tensor of `shape` (class dimension first). */
function sliceRows(teach: TeachConfig, data: Float32Array, shape: number[], active: number): { shape: number[]; data: Float32Array } {
  const per = data.length / headRows(teach);
  return { shape: [active, ...shape.slice(1)], data: data.slice(0, active * per) };
}

export type MakeTensor<T> = (dtype: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => T;

/** train_step's feeds, named as its contract names them. */
export function stepFeeds<T>(teach: TeachConfig, state: TeachState, batch: { input: Float32Array; labels: BigInt64Array; size: number }, lr: number, make: MakeTensor<T>): Record<string, T> {
  const shapes = new Map<string, number[]>([...teach.parameters.map((p) => [p.name, p.shape] as const), ...teach.optimizerState.map((s) => [s.name, s.shape] as const)]);
  const [c, h, w] = teach.replay.shape;
  const feeds: Record<string, T> = {};
  for (const { name } of teach.contract.inputs) {
    if (name === INPUT) feeds[name] = make('float32', batch.input, [batch.size, c, h, w]);
    else if (name === LABELS) feeds[name] = make('int64', batch.labels, [batch.size]);
    else if (name === LEARNING_RATE) feeds[name] = make('float32', Float32Array.of(lr), []);
    else if (name === STEP) feeds[name] = make('int64', BigInt64Array.of(BigInt(state.step)), []);
    else {
      const v = state.values.get(name);
      if (!v) throw new Error(`train_step needs '${name}', which teach.json does not describe; re-run export-web --trainable`);
      feeds[name] = make('float32', v, shapes.get(name)!);
    }
  }
  return feeds;
}

/** Take a step's outputs into the state: every `<name>.new` replaces `<name>`. Returns the loss and correct count. */
export function applyStep(state: TeachState, outputs: Record<string, { data: unknown }>): { loss: number; correct: number } {
  for (const name of [...state.values.keys()]) {
    const out = outputs[updated(name)];
    if (out) state.values.set(name, Float32Array.from(out.data as Float32Array));
  }
  state.step += 1;
  return { loss: (outputs.loss.data as Float32Array)[0], correct: Number((outputs.correct.data as BigInt64Array)[0]) };
}

/** model.onnx with the state's weights written over the exported ones (same layout, same length). */
export function patchedModel(teach: TeachConfig, model: Uint8Array, state: TeachState): Uint8Array {
  const out = model.slice();
  for (const p of teach.parameters) out.set(new Uint8Array(state.values.get(p.name)!.buffer.slice(0)), p.offset);
  return out;
}

/**
 * The downloadable model.onnx: patchedModel with the head cut to its `active` rows (the classes the page
 * knows now), so that it classifies into exactly those classes, in Node as in the page.
 */
export function downloadModel(teach: TeachConfig, model: Uint8Array, state: TeachState, active: number): Uint8Array {
  const patched = patchedModel(teach, model, state);
  if (active === headRows(teach)) return patched;
  const shapes = new Map(teach.parameters.map((p) => [p.name, p.shape]));
  const changes = new Map(teach.classes.head.map((name) => {
    const cut = sliceRows(teach, state.values.get(name)!, shapes.get(name)!, active);
    return [name, { dims: cut.shape, data: cut.data }] as const;
  }));
  return resizeInitializers(patched, changes);
}

/**
 * checkpoint.safetensors as onnxtrain writes it: the state_dict (PyTorch names and shapes), the optimizer
 * state under `optimizer.<param>.<slot>`, and onnxtrain metadata (model, epoch 0, step), so that
 * `train --init` and safetensors.torch load it. Head tensors and their optimizer state keep their first
 * `active` rows (default all).
 */
export function checkpointBytes(teach: TeachConfig, state: TeachState, active = headRows(teach)): Uint8Array {
  const head = new Set(teach.classes.head);
  const entry = (key: string, param: string, shape: number[], data: Float32Array) => ({ key, ...(head.has(param) ? sliceRows(teach, data, shape, active) : { shape, data }) });
  const entries = [
    ...teach.parameters.map((p) => entry(p.name, p.name, p.shape, state.values.get(p.name)!)),
    ...teach.optimizerState.map((s) => entry(checkpointStateKey(s.name), s.param, s.shape, state.values.get(s.name)!)),
  ];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', onnxtrain: JSON.stringify({ model: teach.model, epoch: 0, step: state.step }) } };
  let offset = 0;
  for (const e of entries) {
    header[e.key] = { dtype: 'F32', shape: e.shape, data_offsets: [offset, offset + e.data.byteLength] };
    offset += e.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const e of entries) {
    out.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength), at);
    at += e.data.byteLength;
  }
  return out;
}
