import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { Augmenter, augmentationFromNames } from '../../src/data/augment.js';
import type { NormalizedSplit } from '../../src/data/normalize.js';
import { Rng } from '../../src/data/rng.js';
import { readMetrics } from '../../src/report/metrics.js';
import { AugmentFeed, augmentRows } from '../../src/train/augment_feed.js';
import { resolveSettings, resumeSettings } from '../../src/train/resolve_settings.js';
import { Interrupted, train } from '../../src/train/run.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-aug-'));
const quiet = { log: () => {}, progress: null };
const ALL = augmentationFromNames(['crop', 'flip', 'jitter', 'rotation']);

test('the worker feed yields exactly the in-thread augmentation, continuing one generator across requests', async () => {
  const rng = Rng.fromSeed(5, 'data');
  const split: NormalizedSplit = {
    images: Float32Array.from({ length: 40 * 3 * 8 * 8 }, () => rng.uniform(-1, 1)),
    labels: Uint8Array.from({ length: 40 }, (_, i) => i % 10), n: 40, channels: 3, height: 8, width: 8,
  };
  const original = split.images.slice();
  const first = BigInt64Array.from([3, 1, 4, 1, 5, 9, 2, 6], BigInt);
  const second = BigInt64Array.from([39, 0, 17], BigInt);
  const start = Rng.fromSeed(11, 'augment').getState();

  const feed = AugmentFeed.create(split, ALL);
  try {
    const [a, b] = await Promise.all([feed.request(first, start), feed.request(second)]);
    const augmenter = new Augmenter({ channels: 3, height: 8, width: 8 }, ALL);
    const local = Rng.fromState(start);
    const ea = augmentRows({ ...split, images: original }, first, augmenter, local);
    const eb = augmentRows({ ...split, images: original }, second, augmenter, local);
    assert.deepEqual(a.images, ea.images);
    assert.deepEqual(a.labels, BigInt64Array.from([3, 1, 4, 1, 5, 9, 2, 6], BigInt));
    assert.deepEqual(b.images, eb.images);
    assert.deepEqual(b.state, local.getState());
    // Augmentation changed the pixels, and the shared copy of the data set is untouched.
    const plain = new Float32Array(a.images.length);
    first.forEach((i, k) => plain.set(original.subarray(Number(i) * 192, (Number(i) + 1) * 192), k * 192));
    assert.notDeepEqual(a.images, plain);
    assert.deepEqual(split.images, original);
    // Restarting at the same state repeats the first batch.
    assert.deepEqual((await feed.request(first, start)).images, ea.images);
  } finally {
    await feed.close();
  }
});

test('training with augmentation: the seed fixes the run, augmentation changes it, and a stopped run resumes bit-identical', { skip: noData }, async () => {
  const base = await resolveSettings({ model: 'simple-mlp', epochs: 2, limit: 1200, chunkSteps: 7, augment: ALL, ...quiet });
  const dirA = join(tmp(), 'a');
  await train({ ...base, out: dirA });
  const cfg = JSON.parse(readFileSync(join(dirA, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.augment, ALL);

  // Stopped twice (mid-chunk, then inside epoch 2) and resumed from config.json.
  const dirB = join(tmp(), 'b');
  await assert.rejects(train({ ...base, out: dirB, stopAfterSteps: 10 }), Interrupted);
  const mid = await loadCheckpoint<{ rng: { augment: unknown } }>(join(dirB, 'last.safetensors'));
  assert.notDeepEqual(mid.meta.rng.augment, Rng.fromSeed(0, 'augment').getState(), 'the augmentation stream was not saved');
  const resumed = await resumeSettings(dirB, {});
  assert.deepEqual(resumed.augment, ALL);
  await assert.rejects(train({ ...resumed, ...quiet, stopAfterSteps: 12 }, { dir: dirB }), Interrupted);
  await train({ ...resumed, ...quiet }, { dir: dirB });

  const dirC = join(tmp(), 'c');
  await train({ ...base, augment: undefined, out: dirC });

  const [a, b, c] = await Promise.all([dirA, dirB, dirC].map((d) => loadCheckpoint(join(d, 'last.safetensors'))));
  for (const [k, t] of a.weights) {
    assert.deepEqual(Buffer.from(b.weights.get(k)!.data.buffer), Buffer.from(t.data.buffer), `${k} differs after resume`);
  }
  for (const [k, t] of a.optimizerState) assert.deepEqual(Buffer.from(b.optimizerState.get(k)!.data.buffer), Buffer.from(t.data.buffer), `${k} differs after resume`);
  assert.notDeepEqual(Buffer.from(c.weights.get('layers.0.weight')!.data.buffer), Buffer.from(a.weights.get('layers.0.weight')!.data.buffer));
  const strip = (h: { seconds: number }[]) => h.map(({ seconds: _s, ...m }) => m);
  assert.deepEqual(strip(await readMetrics(dirB)), strip(await readMetrics(dirA)));
  assert.notDeepEqual(strip(await readMetrics(dirC)), strip(await readMetrics(dirA)));
});
