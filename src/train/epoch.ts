/** One epoch's steps, in chunks: Loop runs of many steps (or single steps), with augmentation prefetched. */
import ort from 'onnxruntime-node';
import { gatherBatch, type BatchPlan } from '../data/batches.js';
import type { NormalizedSplit } from '../data/normalize.js';
import type { Rng, RngState } from '../data/rng.js';
import type { AugmentedRows, AugmentFeed } from './augment_feed.js';
import type { EpochPosition } from './fit_state.js';
import type { GraphKind, StepResult, TrainSessions } from './sessions.js';

/** The training set as onnxruntime tensors, made once per fit (the Loop graph gathers its batches itself). */
export interface TrainTensors {
  images: ort.Tensor;
  labels: ort.Tensor;
  split: NormalizedSplit;
  /** [C, H, W]. */
  dims: number[];
}

export function trainTensors(split: NormalizedSplit): TrainTensors {
  return {
    images: new ort.Tensor('float32', split.images, [split.n, split.channels, split.height, split.width]),
    labels: new ort.Tensor('int64', BigInt64Array.from(split.labels, (v) => BigInt(v)), [split.n]),
    split,
    dims: [split.channels, split.height, split.width],
  };
}

/** An epoch in progress: its batch plan, and the position reached, updated in place. */
export interface EpochCursor {
  plan: BatchPlan;
  /** Batches in the epoch, the last partial one included. */
  total: number;
  position: EpochPosition;
  /** The dropout stream, advanced as steps draw their masks. */
  noise: Rng;
  /** The augmentation stream's state after the last chunk trained. */
  augment: RngState;
}

export interface EpochRunner {
  sessions: TrainSessions;
  data: TrainTensors;
  feed: AugmentFeed | null;
  graphKind: GraphKind;
  batchSize: number;
  chunkSteps: number;
  lr: number;
  /** Steps this fit may still take (tests stop runs with it); decremented. */
  budget: { steps: number };
  stopRequested: () => boolean;
}

/** Where a chunk starts and what it trains: `rows` Loop steps from batch k, or one single step. */
function chunkAt(r: EpochRunner, plan: BatchPlan, k: number, left: number) {
  const loop = k < plan.steps && r.graphKind === 'loop';
  const rows = loop ? Math.min(r.chunkSteps, plan.steps - k, left) : 1;
  const indices = loop ? plan.full.subarray(k * r.batchSize, (k + rows) * r.batchSize)
    : k < plan.steps ? plan.full.subarray(k * r.batchSize, (k + 1) * r.batchSize) : plan.remainder;
  return { rows, loop, indices };
}

const identities = new Map<number, BigInt64Array>();
/** 0..n-1: the batch_indices of a chunk whose rows are already gathered in order. */
function identityIndices(n: number): BigInt64Array {
  let v = identities.get(n);
  if (!v) identities.set(n, (v = BigInt64Array.from({ length: n }, (_, i) => BigInt(i))));
  return v;
}

/**
 * Train the rest of the epoch from cursor.position, chunk by chunk, until it ends, a stop is requested or
 * the budget runs out; `onChunk` runs after each. With augmentation the worker prepares the next chunk
 * while this one trains; the augmentation state kept is the one after the last chunk trained, so a stop
 * discards any prefetched chunk.
 */
export async function trainEpoch(r: EpochRunner, c: EpochCursor, onChunk: (res: StepResult) => Promise<void>): Promise<void> {
  const { plan, position: pos } = c;
  const prefetch = (k: number, left: number, restart: boolean) => {
    if (!r.feed || k >= c.total || left <= 0) return null;
    const chunk = chunkAt(r, plan, k, left);
    const ready = r.feed.request(chunk.indices, restart ? c.augment : undefined);
    ready.catch(() => {});
    return { ...chunk, ready };
  };
  let next = prefetch(pos.batchesDone, r.budget.steps, true);
  while (pos.batchesDone < c.total && !r.stopRequested() && r.budget.steps > 0) {
    const k = pos.batchesDone;
    let res: StepResult;
    if (next) {
      const chunk = next;
      const rows: AugmentedRows = await chunk.ready;
      next = prefetch(k + chunk.rows, r.budget.steps - chunk.rows, false);
      const data = { images: new ort.Tensor('float32', rows.images, [rows.n, ...r.data.dims]), labels: new ort.Tensor('int64', rows.labels, [rows.n]) };
      res = chunk.loop
        ? await r.sessions.trainLoop({ data, indices: identityIndices(rows.n), rows: chunk.rows, batch: r.batchSize, lr: r.lr, rng: c.noise })
        : await r.sessions.trainStep(rows, r.data.dims, r.lr, c.noise);
      c.augment = rows.state;
    } else {
      const chunk = chunkAt(r, plan, k, r.budget.steps);
      res = chunk.loop
        ? await r.sessions.trainLoop({ data: r.data, indices: chunk.indices, rows: chunk.rows, batch: r.batchSize, lr: r.lr, rng: c.noise })
        : await r.sessions.trainStep(gatherBatch(r.data.split, chunk.indices), r.data.dims, r.lr, c.noise);
    }
    for (let i = 0; i < res.losses.length; i++) {
      pos.lossSum += res.losses[i] * res.sizes[i];
      pos.correct += res.corrects[i];
      pos.seen += res.sizes[i];
    }
    pos.batchesDone += res.losses.length;
    r.budget.steps -= res.losses.length;
    await onChunk(res);
  }
}
