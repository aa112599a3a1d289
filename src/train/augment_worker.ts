/** The augmentation worker (see augment_feed.ts): serves WorkerJobs in order with one generator. */
import { parentPort, workerData } from 'node:worker_threads';
import { Augmenter } from '../data/augment.js';
import type { NormalizedSplit } from '../data/normalize.js';
import { Rng } from '../data/rng.js';
import { augmentRows, type WorkerInit, type WorkerJob } from './augment_feed.js';

const init = workerData as WorkerInit;
const split: NormalizedSplit = { ...init, images: new Float32Array(init.images) };
const augmenter = new Augmenter({ channels: init.channels, height: init.height, width: init.width }, init.settings);
let rng: Rng | null = null;

parentPort!.on('message', (job: WorkerJob) => {
  try {
    if (job.state) rng = Rng.fromState(job.state);
    if (!rng) throw new Error('augmentation worker: the first job must carry a generator state');
    const rows = augmentRows(split, job.indices, augmenter, rng);
    parentPort!.postMessage({ id: job.id, rows }, [rows.images.buffer as ArrayBuffer, rows.labels.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: (e as Error).message });
  }
});
