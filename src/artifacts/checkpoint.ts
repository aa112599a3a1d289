import { checkpointStateKey, OPTIMIZER_PREFIX } from '../graph/names.js';
import type { Tensor } from '../graph/tensor.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

/**
 * A checkpoint: the model's state_dict (PyTorch names, so `load_state_dict` takes it once the
 * `optimizer.` keys are dropped), the optimizer state under `optimizer.<param>.<slot>`, and JSON metadata
 * (model, epoch, step, RNG state, history) under the safetensors `__metadata__` key `onnxtrain`.
 */
export interface Checkpoint<M = Record<string, unknown>> {
  weights: Map<string, Tensor>;
  optimizerState: Map<string, Tensor>;
  meta: M;
}

export interface CheckpointReadSettings {
  /** The model the checkpoint must belong to (its meta's `model`). Default: any model. */
  model?: string;
  /** Refuse a checkpoint whose weights hold NaN or ±Infinity. Default false. */
  finite?: boolean;
}

export async function saveCheckpoint(path: string, c: Checkpoint<unknown>): Promise<void> {
  const all = new Map(c.weights);
  for (const [name, t] of c.optimizerState) all.set(checkpointStateKey(name), t);
  await saveSafetensors(path, all, { format: 'pt', onnxtrain: JSON.stringify(c.meta) });
}

/**
 * A checkpoint that onnxtrain wrote: the file must be a valid safetensors file carrying onnxtrain
 * metadata with at least `model`, `epoch` and `step`; the other known fields must have their types.
 */
export async function loadCheckpoint<M = Record<string, unknown>>(path: string, settings: CheckpointReadSettings = {}): Promise<Checkpoint<M>> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.onnxtrain === undefined) {
    throw new Error(`${path} has no onnxtrain metadata (written by another tool, e.g. safetensors.torch): it can start a run with --init, but cannot be resumed`);
  }
  const meta = parseMeta(metadata.onnxtrain, path);
  if (settings.model !== undefined && meta.model !== settings.model) {
    throw new Error(`${path} is a checkpoint of ${String(meta.model)}, not ${settings.model}: use a checkpoint of ${settings.model}, or pass it with --init to reuse the weights that match`);
  }
  const { weights, optimizerState } = splitState(tensors);
  if (settings.finite) checkFinite(weights, path);
  return { weights, optimizerState, meta: meta as M };
}

/** Starting weights from any safetensors file: optimizer state dropped; the model named when the metadata says. */
export async function loadCheckpointWeights(path: string): Promise<{ weights: Map<string, Tensor>; model?: string }> {
  const { tensors, metadata } = await loadSafetensors(path);
  const meta = metadata.onnxtrain === undefined ? {} : parseMeta(metadata.onnxtrain, path);
  return { weights: splitState(tensors).weights, model: typeof meta.model === 'string' ? meta.model : undefined };
}

/** Whether every floating-point weight is finite (no NaN, no ±Infinity). */
export function allFinite(weights: Map<string, Tensor>): boolean {
  return firstNonFinite(weights) === undefined;
}

/** The name of the first floating-point weight holding NaN or ±Infinity, if any. */
export function firstNonFinite(weights: Map<string, Tensor>): string | undefined {
  for (const [name, t] of weights) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    if (!(t.data as Float32Array).every(Number.isFinite)) return name;
  }
  return undefined;
}

function checkFinite(weights: Map<string, Tensor>, path: string): void {
  const name = firstNonFinite(weights);
  if (name !== undefined) {
    throw new Error(`${path} holds NaN or infinite weights ('${name}'): it is not a usable checkpoint; use the run's best.safetensors, or train again with a lower --lr`);
  }
}

function splitState(tensors: Map<string, Tensor>): Pick<Checkpoint, 'weights' | 'optimizerState'> {
  const weights = new Map<string, Tensor>();
  const optimizerState = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith(OPTIMIZER_PREFIX)) optimizerState.set(k.slice(OPTIMIZER_PREFIX.length), t);
    else weights.set(k, t);
  }
  return { weights, optimizerState };
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The onnxtrain metadata fields, each with its check and what it should be; the first three are required. */
const META_FIELDS: [string, (v: unknown) => boolean, string][] = [
  ['model', (v) => typeof v === 'string' && v !== '', 'a model name'],
  ['epoch', isCount, 'a non-negative integer'],
  ['step', isCount, 'a non-negative integer'],
  ['position', (v) => v === null || isObject(v), 'null or an object'],
  ['rng', isObject, 'an object'],
  ['history', Array.isArray, 'a list'],
  ['best', (v) => v === null || isObject(v), 'null or an object'],
  ['stale', isCount, 'a non-negative integer'],
];
const REQUIRED_META = 3;

function parseMeta(text: string, path: string): Record<string, unknown> {
  const damaged = (why: string): never => {
    throw new Error(`${path}: checkpoint metadata ${why}: the file is damaged; use the other checkpoint (last/best) of the run`);
  };
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch {
    return damaged('is not JSON');
  }
  if (!isObject(meta)) return damaged('is not a JSON object');
  const m = meta as Record<string, unknown>;
  META_FIELDS.forEach(([key, ok, what], i) => {
    if (m[key] === undefined && i >= REQUIRED_META) return;
    if (!ok(m[key])) damaged(`field '${key}' is ${m[key] === undefined ? 'missing' : JSON.stringify(m[key]).slice(0, 40)}, expected ${what}`);
  });
  return m;
}
