/** Benchmark inputs: the training split as the trainer sees it, and the files PyTorch reads to do the same work. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { epochOrder, planBatches } from '../src/data/batches.js';
import type { RawSplit } from '../src/data/dataset.js';
import { normalizeSplit, type NormalizedSplit } from '../src/data/normalize.js';
import { Rng } from '../src/data/rng.js';
import { trainValSplit } from '../src/data/split.js';
import { encodeSafetensors } from '../src/artifacts/safetensors.js';
import type { Tensor } from '../src/graph/tensor.js';
import type { ModelDef } from '../src/models/registry.js';
import { loadDataset } from '../src/data/datasets.js';

export interface BenchData {
  raw: RawSplit;
  train: NormalizedSplit;
  /** Where the images came from, for the report. */
  source: string;
}

/** Images in the synthetic CIFAR-10 stand-in (the real archive cannot be downloaded here); 60k like the real training set. */
const SYNTHETIC_N = 60000;

function syntheticSplit(shape: [number, number, number], seed: number): RawSplit {
  const [c, h, w] = shape;
  const rng = Rng.fromSeed(seed, 'bench-synthetic');
  const images = new Uint8Array(SYNTHETIC_N * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(rng.nextFloat() * 256);
  const labels = Uint8Array.from({ length: SYNTHETIC_N }, () => Math.floor(rng.nextFloat() * 10));
  return { images, labels, n: SYNTHETIC_N, channels: c, height: h, width: w };
}

const cache = new Map<string, BenchData>();

/** Real Fashion-MNIST (as training loads it); synthetic uint8 noise of CIFAR-10's shape for cifar10. */
export async function benchData(def: ModelDef): Promise<BenchData> {
  const key = def.dataset.name;
  const hit = cache.get(key);
  if (hit) return hit;
  let raw: RawSplit;
  let source: string;
  if (key === 'cifar10') {
    raw = syntheticSplit(def.dataset.inputShape, 0);
    source = `synthetic ${SYNTHETIC_N} x ${def.dataset.inputShape.join('x')} uint8`;
  } else {
    raw = (await loadDataset(def.dataset.name)).train;
    source = `Fashion-MNIST train (${raw.n} images)`;
  }
  const data = { raw, train: normalizeSplit(raw, def.dataset.normalization), source };
  cache.set(key, data);
  return data;
}

/** The first `steps` full batches of epoch 1 of the reference 50k/10k split (seed 0), row-major [steps, batch]. */
export function epochBatches(n: number, batch: number, steps: number, seed = 0): { indices: BigInt64Array; stepsPerEpoch: number } {
  const split = trainValSplit(n, { seed, valSize: Math.round((10000 * n) / 60000) });
  const plan = planBatches(epochOrder(split.train, Rng.fromSeed(seed, 'shuffle')), batch);
  if (steps > plan.steps) throw new Error(`asked for ${steps} steps, an epoch has ${plan.steps}: lower --epochs-frac to at most 1`);
  return { indices: plan.full.slice(0, steps * batch), stepsPerEpoch: plan.steps };
}

/** Files bench_torch.py reads: raw uint8 images and labels, the batch indices, the initial weights. */
export async function writeTorchInputs(dir: string, data: BenchData, indices: BigInt64Array, batch: number, weights: Map<string, Tensor>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { raw } = data;
  await writeFile(join(dir, 'images.u8'), raw.images);
  await writeFile(join(dir, 'labels.u8'), raw.labels);
  await writeFile(join(dir, 'indices.i64'), new Uint8Array(indices.buffer, indices.byteOffset, indices.byteLength));
  await writeFile(join(dir, 'weights.safetensors'), encodeSafetensors(weights));
  await writeFile(join(dir, 'meta.json'), JSON.stringify({ n: raw.n, shape: [raw.channels, raw.height, raw.width], batch }));
}
