/** Per-epoch shuffling, batch index plans and gathering of batches into contiguous buffers. */
import type { Tensor } from '../graph/tensor.js';
import type { NormalizedSplit } from './normalize.js';
import type { Rng } from './rng.js';

/** A shuffled copy of `indices` (Fisher–Yates from `rng`); the epoch's visiting order. */
export function epochOrder(indices: ArrayLike<number>, rng: Rng): Int32Array {
  return rng.shuffle(Int32Array.from(indices));
}

export interface BatchPlan {
  batchSize: number;
  /** Number of full batches. */
  steps: number;
  /** Indices of the full batches, row-major [steps, batchSize]. */
  full: BigInt64Array;
  /** The last partial batch (length order.length - steps * batchSize, possibly 0). */
  remainder: BigInt64Array;
}

export function planBatches(order: ArrayLike<number>, batchSize: number): BatchPlan {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size ${batchSize} must be a positive integer: pass e.g. --batch-size 64`);
  const steps = Math.floor(order.length / batchSize);
  const full = new BigInt64Array(steps * batchSize);
  for (let i = 0; i < full.length; i++) full[i] = BigInt(order[i]);
  const remainder = new BigInt64Array(order.length - full.length);
  for (let i = 0; i < remainder.length; i++) remainder[i] = BigInt(order[full.length + i]);
  return { batchSize, steps, full, remainder };
}

/** The full batches as an int64 tensor [steps, batchSize] (e.g. the index input of a multi-step graph). */
export function fullBatchTensor(plan: BatchPlan): Tensor {
  return { dtype: 'int64', dims: [plan.steps, plan.batchSize], data: plan.full };
}

/** Indices of batch `step`: a view into plan.full, or plan.remainder when step === plan.steps. */
export function batchIndices(plan: BatchPlan, step: number): BigInt64Array {
  if (step === plan.steps) return plan.remainder;
  if (!(step >= 0 && step < plan.steps)) throw new Error(`batch ${step} is outside 0..${plan.steps}`);
  return plan.full.subarray(step * plan.batchSize, (step + 1) * plan.batchSize);
}

export interface Batch {
  /** n x channels x height x width, contiguous. */
  images: Float32Array;
  labels: BigInt64Array;
  n: number;
}

/**
 * Copies the images and labels at `indices` into contiguous buffers; pass `out` (sized for at least
 * indices.length images) to reuse memory across steps, the result then views its front.
 */
export function gatherBatch(split: NormalizedSplit, indices: ArrayLike<number | bigint>, out?: Batch): Batch {
  const size = split.channels * split.height * split.width;
  const n = indices.length;
  if (out && (out.images.length < n * size || out.labels.length < n)) {
    throw new Error(`gatherBatch: output buffers hold ${out.labels.length} images, need ${n}`);
  }
  const images = out ? out.images.subarray(0, n * size) : new Float32Array(n * size);
  const labels = out ? out.labels.subarray(0, n) : new BigInt64Array(n);
  for (let k = 0; k < n; k++) {
    const i = Number(indices[k]);
    if (!(i >= 0 && i < split.n)) throw new Error(`gatherBatch: index ${i} is outside 0..${split.n - 1}`);
    images.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = BigInt(split.labels[i]);
  }
  return { images, labels, n };
}
