import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultFit, framedInput, imageToInput, OBJECT_THRESHOLD, type RgbaImage } from '../../src/predict/pixels.js';
import { FASHION_MNIST_SYSTEM_DIR, loadFashionMnist } from '../../src/data/fashion_mnist.js';
import { predict } from '../../src/predict/predict.js';
import { preprocess } from '../../src/predict/preprocess.js';
import { makeRunFixture } from '../helpers/run_fixture.js';
import { TROUSER_BOX, trouserPhoto } from './trouser_photo.js';

const CLI = path.join(process.cwd(), 'dist/src/cli/bin.js');
const GREY = { inputShape: [1, 28, 28], normalization: { mean: [0.5], std: [0.5] } };
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-fit-'));
const fixture = await makeRunFixture({ samples: false });
after(async () => {
  await rm(tmp, { recursive: true, force: true });
  await rm(fixture.dir, { recursive: true, force: true });
});

/** The bounding box of the values above `cut` in an H x W plane: [x0, y0, x1, y1], inclusive. */
function boxAbove(plane: Float32Array, w: number, h: number, cut: number): [number, number, number, number] {
  let [x0, y0, x1, y1] = [w, h, -1, -1];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (plane[y * w + x] > cut) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return [x0, y0, x1, y1];
}

/** A w x h RGBA image, grey level `at(x, y)`, opaque. */
function greyImage(w: number, h: number, at: (x: number, y: number) => number): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data.fill(at(x, y), (y * w + x) * 4, (y * w + x) * 4 + 3);
      data[(y * w + x) * 4 + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

test('the default fit has one home: object for grey models, stretch for colour ones', () => {
  assert.equal(defaultFit([1, 28, 28]), 'object');
  assert.equal(defaultFit([3, 32, 32]), 'stretch');
});

test('a photo of dark trousers off-centre on a light table is inverted, cropped and centred in a square', async () => {
  const file = await trouserPhoto(path.join(tmp, 'trousers.png'));
  const framed = await preprocess(file, { ...GREY, invert: 'auto' });
  assert.equal(framed.inverted, true);
  assert.equal(framed.fit, 'object');
  assert.equal(framed.frame.cropped, true);
  // The frame is the trousers' box (found through the noise), padded to a square, centred.
  const { x, y, width, height } = framed.frame;
  assert.deepEqual({ x, y, width, height }, TROUSER_BOX);
  assert.deepEqual([framed.frame.padW, framed.frame.padH], [220, 220]);
  // In the model input (inverted: trousers light, table dark) the object fills the height and is centred.
  const [x0, y0, x1, y1] = boxAbove(framed.data, 28, 28, 0);
  console.log(`# trousers in the model input, 'object': x ${x0}-${x1}, y ${y0}-${y1}`);
  assert.deepEqual([y0, y1], [0, 27], 'the longest side fills the frame');
  assert.ok(Math.abs((x0 + x1) / 2 - 13.5) <= 1, `centred across: x ${x0}-${x1}`);
  // Aspect ratio kept: 80 / 220 of 28 px is 10.2 px wide.
  assert.ok(Math.abs(x1 - x0 + 1 - (28 * 80) / 220) <= 1.5, `width ${x1 - x0 + 1}`);

  // 'stretch' sees the whole photo: the trousers stay small and off to the right.
  const stretched = await preprocess(file, { ...GREY, invert: 'auto', fit: 'stretch' });
  const [sx0, sy0, sx1, sy1] = boxAbove(stretched.data, 28, 28, 0);
  console.log(`# trousers in the model input, 'stretch': x ${sx0}-${sx1}, y ${sy0}-${sy1}`);
  assert.equal(stretched.frame.cropped, false);
  assert.ok((sx0 + sx1) / 2 > 17 && sy1 - sy0 < 20, `stretch: x ${sx0}-${sx1}, y ${sy0}-${sy1}`);
});

test('a drawing in a corner is centred by its bounding box', () => {
  // A white stroke on black, top left of a 280 x 280 pad.
  const pad = greyImage(280, 280, (x, y) => (x >= 20 && x < 100 && y >= 30 && y < 70 ? 255 : 0));
  const { input, frame } = framedInput(pad, { inputShape: [1, 28, 28], mean: [0.5], std: [0.5], fit: 'object' });
  assert.deepEqual([frame.x, frame.y, frame.width, frame.height, frame.padW, frame.padH, frame.offsetX, frame.offsetY], [20, 30, 80, 40, 80, 80, 0, 20]);
  assert.deepEqual(boxAbove(input, 28, 28, 0), [0, 7, 27, 20], 'full width, 14 rows in the middle');
});

test('an object already centred and filling the frame (as in Fashion-MNIST), give or take a pixel, goes through unchanged', () => {
  const settings = { inputShape: [1, 28, 28], mean: [0.5], std: [0.5] };
  // Full height, 12 px wide: starting at x = 8 a square window around it is the image; at x = 9 or 7 it
  // is one pixel off (the border band of a 28 px side is 1 px); at x = 10 two.
  for (const [from, whole] of [[8, true], [9, true], [7, true], [10, false]] as const) {
    const img = greyImage(28, 28, (x, y) => (x >= from && x < from + 12 ? 100 + ((x * 7 + y * 3) % 150) : (x + y) % 5));
    const object = framedInput(img, { ...settings, fit: 'object' });
    assert.equal(object.frame.cropped, !whole, `object from x = ${from}`);
    if (whole) assert.deepEqual(object.input, imageToInput(img, { ...settings, fit: 'stretch' }));
  }
});

const SKIP_REAL = existsSync(`${FASHION_MNIST_SYSTEM_DIR}/t10k-images-idx3-ubyte.gz`) ? false : `${FASHION_MNIST_SYSTEM_DIR} is absent (install dataset-fashion-mnist)`;

test('real Fashion-MNIST test images, already framed, reach the model unchanged with object (98.6 % of all 10k)', { skip: SKIP_REAL }, async () => {
  const { test: images } = await loadFashionMnist();
  const n = 2000;
  const settings = { inputShape: [1, 28, 28], mean: [0.5], std: [0.5] };
  let same = 0;
  for (let i = 0; i < n; i++) {
    const img = greyImage(28, 28, (x, y) => images.images[i * 784 + y * 28 + x]);
    const object = framedInput(img, { ...settings, fit: 'object' }).input;
    const stretch = imageToInput(img, { ...settings, fit: 'stretch' });
    if (object.every((v, k) => v === stretch[k])) same++;
  }
  console.log(`# ${same} of the first ${n} Fashion-MNIST test images unchanged by 'object'`);
  assert.ok(same >= 0.97 * n, `${same} of ${n}`);
});

test('a blank image is taken whole; pixels within the threshold of the background are background', () => {
  const flat = greyImage(40, 30, () => 90);
  assert.deepEqual(framedInput(flat, { inputShape: [1, 28, 28], mean: [0], std: [1], fit: 'object' }).frame.cropped, false);
  const faint = greyImage(40, 30, (x, y) => (x === 5 && y === 5 ? 90 + OBJECT_THRESHOLD : 90));
  assert.equal(framedInput(faint, { inputShape: [1, 28, 28], mean: [0], std: [1], fit: 'object' }).frame.cropped, false);
  const mark = greyImage(40, 30, (x, y) => (x === 5 && y === 5 ? 91 + OBJECT_THRESHOLD : 90));
  const { frame } = framedInput(mark, { inputShape: [1, 28, 28], mean: [0], std: [1], fit: 'object' });
  assert.deepEqual([frame.x, frame.y, frame.width, frame.height], [5, 5, 1, 1]);
});

test('a model input of another aspect ratio gets a frame of that ratio; colour models can use object too', () => {
  const img = greyImage(100, 100, (x, y) => (x >= 60 && x < 70 && y >= 10 && y < 20 ? 250 : 0));
  const wide = framedInput(img, { inputShape: [1, 20, 40], mean: [0], std: [1], fit: 'object' }).frame;
  assert.deepEqual([wide.padW, wide.padH, wide.offsetX, wide.offsetY], [20, 10, 5, 0]);
  const colour = framedInput(img, { inputShape: [3, 32, 32], mean: [0], std: [1 / 255], fit: 'object' });
  assert.equal(colour.frame.width, 10);
  // The object fills the whole 32 x 32 input in every channel.
  for (let c = 0; c < 3; c++) assert.ok(colour.input.subarray(c * 1024, (c + 1) * 1024).every((v) => Math.abs(v - 250) < 1e-3));
});

test('predict --fit chooses the framing; the default for a grey model is object; a bad value is refused', async () => {
  const file = await trouserPhoto(path.join(tmp, 'cli-trousers.png'));
  const [auto] = await predict({ run: fixture.dir, images: [file] });
  const [object] = await predict({ run: fixture.dir, images: [file], fit: 'object' });
  const [stretch] = await predict({ run: fixture.dir, images: [file], fit: 'stretch' });
  assert.deepEqual([auto.fit, auto.cropped, stretch.fit, stretch.cropped], ['object', true, 'stretch', false]);
  assert.deepEqual(auto.probabilities, object.probabilities);
  assert.notDeepEqual(auto.probabilities, stretch.probabilities);
  const ok = spawnSync(process.execPath, [CLI, 'predict', fixture.dir, file, '--fit', 'stretch', '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout)[0].probabilities, stretch.probabilities);
  const line = spawnSync(process.execPath, [CLI, 'predict', fixture.dir, file], { encoding: 'utf8' });
  assert.match(line.stdout, /\(inverted: light background; cropped to the object\)/);
  const bad = spawnSync(process.execPath, [CLI, 'predict', fixture.dir, file, '--fit', 'squash'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /fit/);
});
