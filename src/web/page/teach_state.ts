/**
 * The fine-tuning state (weights, optimizer state, step) as plain arrays, the feeds of one train_step run
 * in the contract's input order, and the two downloads: model.onnx with the new weights written over the
 * old ones in place, and a safetensors checkpoint. Pure: the worker, the page and Node tests share it.
 */
import { checkpointStateKey, INPUT, LABELS, LEARNING_RATE, STEP, updated } from '../../graph/names.js';
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
 * checkpoint.safetensors as onnxtrain writes it: the state_dict (PyTorch names and shapes), the optimizer
 * state under `optimizer.<param>.<slot>`, and onnxtrain metadata (model, epoch 0, step), so that
 * `train --init` and safetensors.torch load it.
 */
export function checkpointBytes(teach: TeachConfig, state: TeachState): Uint8Array {
  const entries = [
    ...teach.parameters.map((p) => ({ key: p.name, shape: p.shape, data: state.values.get(p.name)! })),
    ...teach.optimizerState.map((s) => ({ key: checkpointStateKey(s.name), shape: s.shape, data: state.values.get(s.name)! })),
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
