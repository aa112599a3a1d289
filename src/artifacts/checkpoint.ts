import { checkpointStateKey, OPTIMIZER_PREFIX } from '../graph/names.js';
import type { Tensor } from '../graph/tensor.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

/**
 * A checkpoint: the model's state_dict (PyTorch names, so `load_state_dict` takes it once the
 * `optimizer.` keys are dropped), the optimizer state under `optimizer.<param>.<slot>`, and JSON metadata
 * (epoch, step, RNG state, settings) under the safetensors `__metadata__` key `onnxtrain`.
 */
export interface Checkpoint<M = Record<string, unknown>> {
  weights: Map<string, Tensor>;
  optimizerState: Map<string, Tensor>;
  meta: M;
}

export async function saveCheckpoint(path: string, c: Checkpoint<unknown>): Promise<void> {
  const all = new Map(c.weights);
  for (const [name, t] of c.optimizerState) all.set(checkpointStateKey(name), t);
  await saveSafetensors(path, all, { format: 'pt', onnxtrain: JSON.stringify(c.meta) });
}

export async function loadCheckpoint<M = Record<string, unknown>>(path: string): Promise<Checkpoint<M>> {
  const { tensors, metadata } = await loadSafetensors(path);
  const weights = new Map<string, Tensor>();
  const optimizerState = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith(OPTIMIZER_PREFIX)) optimizerState.set(k.slice(OPTIMIZER_PREFIX.length), t);
    else weights.set(k, t);
  }
  let meta = {} as M;
  if (metadata.onnxtrain) {
    try {
      meta = JSON.parse(metadata.onnxtrain) as M;
    } catch {
      throw new Error(`${path}: checkpoint metadata is not JSON: the file is damaged; use the other checkpoint (last/best) of the run`);
    }
  }
  return { weights, optimizerState, meta };
}
