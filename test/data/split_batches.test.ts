import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchIndices, epochOrder, fullBatchTensor, gatherBatch, planBatches } from '../../src/data/batches.js';
import { subsetRawSplit, type RawSplit } from '../../src/data/dataset.js';
import { normalizeImages, normalizeSplit, normalizationTable } from '../../src/data/normalize.js';
import { Rng } from '../../src/data/rng.js';
import { trainValSplit } from '../../src/data/split.js';

test('the 60k training set splits 50k/10k, disjoint, covering, deterministic for a seed', () => {
  const a = trainValSplit(60000, { seed: 42 });
  const b = trainValSplit(60000, { seed: 42 });
  const c = trainValSplit(60000, { seed: 43 });
  assert.equal(a.train.length, 50000);
  assert.equal(a.val.length, 10000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.val, c.val);
  const seen = new Uint8Array(60000);
  for (const i of a.train) seen[i]++;
  for (const i of a.val) seen[i]++;
  assert.ok(seen.every((v) => v === 1));
  for (let k = 1; k < a.val.length; k++) assert.ok(a.val[k - 1] < a.val[k]);
  // Validation members are spread over the whole range, not a block.
  assert.ok(a.val[0] < 100 && a.val[a.val.length - 1] > 59900);
  assert.equal(trainValSplit(1000, { seed: 1, valFraction: 0.25 }).val.length, 250);
  assert.throws(() => trainValSplit(100, { seed: 1 }), /validation size 10000 does not fit 100 examples/);
  assert.throws(() => trainValSplit(100, { seed: 1, valFraction: 1.5 }), /outside \[0, 1\)/);
});

test('epoch order is a seeded shuffle: reproducible, different across epochs', () => {
  const idx = Int32Array.from({ length: 500 }, (_, i) => i * 2);
  const r1 = Rng.fromSeed(9, 'shuffle');
  const r2 = Rng.fromSeed(9, 'shuffle');
  const e1 = epochOrder(idx, r1);
  assert.deepEqual(e1, epochOrder(idx, r2));
  const e2 = epochOrder(idx, r1);
  assert.notDeepEqual(e1, e2);
  assert.deepEqual(Array.from(e2).sort((x, y) => x - y), Array.from(idx));
  assert.equal(idx[1], 2, 'the input is not shuffled in place');
});

test('batch plans hold full batches [steps, batch] as int64 plus the remainder', () => {
  const order = Int32Array.from([5, 3, 9, 0, 1, 7, 2, 8, 4, 6]);
  const plan = planBatches(order, 3);
  assert.equal(plan.steps, 3);
  assert.deepEqual(Array.from(plan.full), [5n, 3n, 9n, 0n, 1n, 7n, 2n, 8n, 4n]);
  assert.deepEqual(Array.from(plan.remainder), [6n]);
  const t = fullBatchTensor(plan);
  assert.deepEqual([t.dtype, t.dims], ['int64', [3, 3]]);
  assert.deepEqual(Array.from(batchIndices(plan, 1)), [0n, 1n, 7n]);
  assert.deepEqual(Array.from(batchIndices(plan, 3)), [6n]);
  assert.equal(planBatches(order, 5).remainder.length, 0);
  assert.throws(() => planBatches(order, 0), /batch size 0 must be a positive integer/);
  assert.throws(() => batchIndices(plan, 4), /outside 0\.\.3/);
});

const raw: RawSplit = {
  n: 4, channels: 2, height: 2, width: 3,
  images: Uint8Array.from({ length: 4 * 12 }, (_, i) => (i * 21) % 256),
  labels: Uint8Array.from([3, 1, 4, 1]),
};

test('normalization equals PyTorch float32 ToTensor + Normalize, per channel', () => {
  const lut = normalizationTable({ mean: [0.5], std: [0.5] }, 1);
  assert.equal(lut[0], -1);
  assert.equal(lut[255], 1);
  // float32(float32(float32(128/255) - 0.5) / 0.5), as torch computes it.
  assert.equal(lut[128], Math.fround(Math.fround(Math.fround(128 / 255) - 0.5) / 0.5));
  const out = normalizeImages(raw.images, 4, 2, 6, { mean: [0.25, 0.5], std: [0.5, 0.25] });
  for (const k of [0, 5, 6, 11, 30, 47]) {
    const c = Math.floor(k / 6) % 2;
    const [m, s] = c === 0 ? [0.25, 0.5] : [0.5, 0.25];
    assert.equal(out[k], Math.fround(Math.fround(Math.fround(raw.images[k] / 255) - m) / s), `element ${k}`);
  }
  assert.throws(() => normalizeImages(raw.images, 4, 2, 6, { mean: [0.1, 0.2, 0.3], std: [1] }), /mean has 3 values for 2 channels/);
  assert.throws(() => normalizeImages(raw.images, 4, 2, 6, { mean: [0.5], std: [0] }), /must be positive/);
});

test('gatherBatch copies the chosen images and labels contiguously, reusing buffers', () => {
  const norm = normalizeSplit(raw);
  const batch = gatherBatch(norm, BigInt64Array.from([2n, 0n]));
  assert.equal(batch.n, 2);
  assert.deepEqual(Array.from(batch.labels), [4n, 3n]);
  assert.deepEqual(batch.images.subarray(0, 12), norm.images.subarray(24, 36));
  assert.deepEqual(batch.images.subarray(12, 24), norm.images.subarray(0, 12));
  const out = { images: new Float32Array(3 * 12), labels: new BigInt64Array(3), n: 3 };
  const reused = gatherBatch(norm, [3], out);
  assert.equal(reused.images.buffer, out.images.buffer);
  assert.deepEqual(reused.images, norm.images.subarray(36, 48));
  assert.deepEqual(Array.from(reused.labels), [1n]);
  assert.throws(() => gatherBatch(norm, [4]), /index 4 is outside 0\.\.3/);
  assert.throws(() => gatherBatch(norm, [0, 1, 2, 3], out), /hold 3 images, need 4/);
  const sub = subsetRawSplit(raw, [1, 3]);
  assert.deepEqual(Array.from(sub.labels), [1, 1]);
  assert.deepEqual(sub.images, Uint8Array.from([...raw.images.subarray(12, 24), ...raw.images.subarray(36, 48)]));
});
