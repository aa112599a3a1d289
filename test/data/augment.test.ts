import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Augmenter, augmentationFromNames, hflipImage, rotateImage, shiftImage, type ImageShape,
} from '../../src/data/augment.js';
import { Rng } from '../../src/data/rng.js';

const rgb: ImageShape = { channels: 3, height: 8, width: 8 };
const SIZE = 3 * 8 * 8;

/** n images whose values are all distinct, inside the normalized range (-1, 1). */
function distinctBatch(n: number, shape: ImageShape = rgb): Float32Array {
  const size = shape.channels * shape.height * shape.width;
  return Float32Array.from({ length: n * size }, (_, i) => Math.fround(-0.99 + (1.98 * i) / (n * size)));
}

test('horizontal flip mirrors rows, and flipping twice is the identity', () => {
  const x = distinctBatch(2);
  const y = x.slice();
  hflipImage(y, SIZE, rgb);
  assert.deepEqual(y.subarray(0, SIZE), x.subarray(0, SIZE));
  assert.equal(y[SIZE], x[SIZE + 7]);
  assert.equal(y[SIZE + 8 + 2], x[SIZE + 8 + 5]);
  hflipImage(y, SIZE, rgb);
  assert.deepEqual(y, x);
  const aug = new Augmenter(rgb, { flipProbability: 1 });
  const z = x.slice();
  aug.apply(z, 2, Rng.fromSeed(1));
  assert.notDeepEqual(z, x);
  aug.apply(z, 2, Rng.fromSeed(2));
  assert.deepEqual(z, x);
});

test('random crop with 4-pixel padding keeps the shape and is a translation by at most 4 with black fill', () => {
  const n = 16;
  const x = distinctBatch(n);
  const y = x.slice();
  new Augmenter(rgb, { cropPadding: 4 }).apply(y, n, Rng.fromSeed(3));
  assert.equal(y.length, x.length);
  const fill = -1; // pixel 0 under mean 0.5, std 0.5
  const shifts = new Set<string>();
  for (let i = 0; i < n; i++) {
    const explains = (dx: number, dy: number): boolean => {
      for (let c = 0; c < 3; c++) for (let r = 0; r < 8; r++) for (let col = 0; col < 8; col++) {
        const sy = r + dy, sx = col + dx;
        const want = sy >= 0 && sy < 8 && sx >= 0 && sx < 8 ? x[i * SIZE + c * 64 + sy * 8 + sx] : fill;
        if (y[i * SIZE + c * 64 + r * 8 + col] !== want) return false;
      }
      return true;
    };
    const found: string[] = [];
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) if (explains(dx, dy)) found.push(`${dx},${dy}`);
    assert.equal(found.length, 1, `image ${i}: ${found}`);
    shifts.add(found[0]);
  }
  assert.ok(shifts.size > 4, `only ${shifts.size} distinct crops in 16 images`);
  const z = x.slice();
  shiftImage(z, 0, rgb, 8, 0, new Float32Array([-1, -1, -1]), new Float32Array(SIZE));
  assert.ok(z.subarray(0, SIZE).every((v) => v === -1));
});

test('augmentation is deterministic for a seed and differs across seeds', () => {
  const all = augmentationFromNames(['flip', 'crop', 'jitter', 'rotation']);
  const run = (seed: number): Float32Array => {
    const b = distinctBatch(8);
    new Augmenter(rgb, all).apply(b, 8, Rng.fromSeed(seed, 'augment'));
    return b;
  };
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5), run(6));
  const rng = Rng.fromSeed(1);
  const before = rng.getState();
  const idle = new Augmenter(rgb, {});
  assert.ok(idle.isIdentity);
  const b = distinctBatch(2);
  idle.apply(b, 2, rng);
  assert.deepEqual(b, distinctBatch(2));
  assert.deepEqual(rng.getState(), before);
});

test('rotation: 0 degrees is exact identity, 90 degrees turns the image counter-clockwise, 360 returns it', () => {
  const sq: ImageShape = { channels: 1, height: 5, width: 5 };
  const x = distinctBatch(1, sq);
  const scratch = new Float32Array(25);
  const fill = new Float32Array([-1]);
  const r0 = x.slice();
  rotateImage(r0, 0, sq, 0, fill, scratch);
  assert.deepEqual(r0, x);
  const r90 = x.slice();
  rotateImage(r90, 0, sq, Math.PI / 2, fill, scratch);
  // Counter-clockwise on screen: the top row becomes the left column, read bottom to top.
  for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) {
    assert.ok(Math.abs(r90[r * 5 + c] - x[c * 5 + (4 - r)]) < 1e-5, `(${r},${c})`);
  }
  const r360 = x.slice();
  rotateImage(r360, 0, sq, 2 * Math.PI, fill, scratch);
  for (let k = 0; k < 25; k++) assert.ok(Math.abs(r360[k] - x[k]) < 1e-5);
  const small = x.slice();
  rotateImage(small, 0, sq, 0.1, fill, scratch);
  assert.ok(Math.abs(small[12] - x[12]) < 1e-6, 'the centre pixel stays put');
  const white = new Float32Array(25).fill(1);
  rotateImage(white, 0, sq, 0.3, fill, scratch);
  assert.ok(white[0] < 1 && white[0] >= -1, 'corners blend in black fill');
  assert.equal(white[12], 1);
});

test('colour jitter stays in the pixel range and leaves grey images grey', () => {
  const strong = { brightness: 0.8, contrast: 0.8, saturation: 0.8 };
  const b = distinctBatch(10);
  new Augmenter(rgb, strong).apply(b, 10, Rng.fromSeed(8));
  assert.ok(b.every((v) => v >= -1 - 1e-6 && v <= 1 + 1e-6));
  assert.notDeepEqual(b, distinctBatch(10));
  // A constant grey image (R = G = B = 0.3): contrast and saturation blend it with itself.
  const grey = new Float32Array(SIZE).fill((0.3 - 0.5) / 0.5);
  new Augmenter(rgb, { contrast: 0.9, saturation: 0.9 }).apply(grey, 1, Rng.fromSeed(4));
  for (const v of grey) assert.ok(Math.abs(v - -0.4) < 1e-6, `${v}`);
  // Black stays black under brightness; white saturates at 1.
  const bw = new Float32Array(2 * SIZE);
  bw.fill(-1, 0, SIZE);
  bw.fill(1, SIZE);
  new Augmenter(rgb, { brightness: 0.5 }).apply(bw, 2, Rng.fromSeed(2));
  assert.ok(bw.subarray(0, SIZE).every((v) => v === -1));
  assert.ok(bw.subarray(SIZE).every((v) => v <= 1 && v === bw[SIZE]));
  // One channel (Fashion-MNIST): saturation has nothing to act on.
  const mono: ImageShape = { channels: 1, height: 8, width: 8 };
  const m = distinctBatch(3, mono);
  new Augmenter(mono, { saturation: 0.9 }).apply(m, 3, Rng.fromSeed(1));
  assert.deepEqual(m, distinctBatch(3, mono));
});

test('bad augmentation settings are rejected with the setting named', () => {
  assert.throws(() => new Augmenter(rgb, { cropPadding: 1.5 }), /crop padding 1\.5/);
  assert.throws(() => new Augmenter(rgb, { flipProbability: 2 }), /flip probability 2/);
  assert.throws(() => new Augmenter(rgb, { rotationDegrees: -3 }), /rotationDegrees -3/);
  assert.throws(() => augmentationFromNames(['flip', 'mixup']), /unknown augmentation "mixup": choose from flip, crop, jitter, rotation/);
  assert.throws(() => new Augmenter(rgb, {}).apply(new Float32Array(10), 1, Rng.fromSeed(1)), /10 values for 1 images/);
});
