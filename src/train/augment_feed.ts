/**
 * Augmented training batches prepared on a worker thread. onnxruntime-node runs a session on the main
 * thread (session.run blocks it), so augmenting there would add its whole cost to every step; the worker
 * augments chunk k+1 while the main thread is inside the run of chunk k.
 */
import { Worker } from 'node:worker_threads';
import { Augmenter, type AugmentSettings } from '../data/augment.js';
import type { NormalizedSplit } from '../data/normalize.js';
import { Rng, type RngState } from '../data/rng.js';

export interface AugmentedRows {
  /** The rows' images, augmented, contiguous [n, C, H, W]. */
  images: Float32Array;
  labels: BigInt64Array;
  n: number;
  /** The augmentation generator's state after these rows: where the next request continues. */
  state: RngState;
}

/**
 * Gathers `indices` of `split` and augments them in order, drawing from `rng`: the one definition of an
 * augmented batch, used by the worker and by tests.
 */
export function augmentRows(split: NormalizedSplit, indices: ArrayLike<number | bigint>, augmenter: Augmenter, rng: Rng): AugmentedRows {
  const size = split.channels * split.height * split.width;
  const n = indices.length;
  const images = new Float32Array(n * size);
  const labels = new BigInt64Array(n);
  for (let k = 0; k < n; k++) {
    const i = Number(indices[k]);
    if (!(i >= 0 && i < split.n)) throw new Error(`augmentRows: index ${i} is outside 0..${split.n - 1}`);
    images.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = BigInt(split.labels[i]);
  }
  augmenter.apply(images, n, rng);
  return { images, labels, n, state: rng.getState() };
}

export interface WorkerInit {
  images: SharedArrayBuffer;
  labels: Uint8Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  settings: AugmentSettings;
}

export interface WorkerJob {
  id: number;
  indices: BigInt64Array;
  /** Restart the generator here; absent: continue from the previous job's end. */
  state?: RngState;
}

type Reply = { id: number; rows: AugmentedRows } | { id: number; error: string };

export class AugmentFeed {
  private readonly pending = new Map<number, { resolve: (r: AugmentedRows) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.rows);
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => {
      if (!this.closed) this.failAll(new Error(`the augmentation worker exited (code ${code})`));
    });
  }

  /**
   * Starts a worker for `split`. The split's images move into shared memory (split.images becomes a view
   * of it), so the worker reads them without a copy.
   */
  static create(split: NormalizedSplit, settings: AugmentSettings): AugmentFeed {
    new Augmenter({ channels: split.channels, height: split.height, width: split.width }, settings); // validates the settings here
    const shared = new SharedArrayBuffer(split.images.byteLength);
    const view = new Float32Array(shared);
    view.set(split.images);
    split.images = view;
    const init: WorkerInit = { images: shared, labels: split.labels, n: split.n, channels: split.channels, height: split.height, width: split.width, settings };
    return new AugmentFeed(new Worker(new URL('./augment_worker.js', import.meta.url), { workerData: init }));
  }

  /** Augmented rows at `indices`; requests are served in order, each continuing the last one's generator unless `state` restarts it. */
  request(indices: BigInt64Array, state?: RngState): Promise<AugmentedRows> {
    if (this.closed) return Promise.reject(new Error('AugmentFeed is closed'));
    const id = this.nextId++;
    const job: WorkerJob = { id, indices: indices.slice(), state };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.worker.terminate();
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
