import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { axisTaps, imageToInput } from '../../src/predict/pixels.js';
import { decodeImage, preprocess } from '../../src/predict/preprocess.js';
import { writeTestImage } from '../helpers/run_fixture.js';

// 'stretch': these tests check resizing and normalisation; fit.test.ts checks the 'object' framing.
const GREY = { inputShape: [1, 28, 28], normalization: { mean: [0.5], std: [0.5] }, fit: 'stretch' as const };
const RGB = { inputShape: [3, 32, 32], normalization: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] } };

const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-pre-'));
after(() => rm(tmp, { recursive: true, force: true }));

async function rawPng(file: string, width: number, height: number, channels: 1 | 3 | 4, pixel: (x: number, y: number, c: number) => number) {
  const px = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) px[(y * width + x) * channels + c] = pixel(x, y, c);
  const img = sharp(px, { raw: { width, height, channels } });
  await (channels === 1 ? img.toColourspace('b-w') : img).png().toFile(file);
  return file;
}

test('a grey image of the model size maps each pixel to (v/255 - mean)/std exactly', async () => {
  const file = await writeTestImage(path.join(tmp, 'g28.png'), { width: 28, height: 28, channels: 1, seed: 3 });
  const meta = await sharp(file).metadata();
  assert.equal(meta.channels, 1, 'the test image is a 1-channel PNG');
  const raw = await sharp(file).toColourspace('b-w').raw().toBuffer();
  const { dims, data } = await preprocess(file, GREY);
  assert.deepEqual(dims, [1, 1, 28, 28]);
  assert.equal(raw.length, 28 * 28);
  // float32 at each step, as PyTorch's ToTensor + Normalize (and the trainer) compute it.
  for (let i = 0; i < raw.length; i++) assert.equal(data[i], Math.fround(Math.fround(Math.fround(raw[i] / 255) - 0.5) / 0.5));
});

test('colour and grey inputs of any size give the tensor shape the model expects', async () => {
  const colour = await writeTestImage(path.join(tmp, 'c.png'), { width: 64, height: 48, channels: 3, seed: 4 });
  const grey = await writeTestImage(path.join(tmp, 'g.png'), { width: 9, height: 50, channels: 1, seed: 5 });
  const rgba = await writeTestImage(path.join(tmp, 'a.png'), { width: 300, height: 17, channels: 4, seed: 6 });
  const jpeg = await writeTestImage(path.join(tmp, 'j.jpg'), { width: 40, height: 40, channels: 3, seed: 7, format: 'jpeg' });
  const webp = await writeTestImage(path.join(tmp, 'w.webp'), { width: 33, height: 21, channels: 3, seed: 8, format: 'webp' });
  for (const file of [colour, grey, rgba, jpeg, webp]) {
    for (const settings of [GREY, RGB]) {
      const { dims, data } = await preprocess(file, settings);
      assert.deepEqual(dims, [1, ...settings.inputShape], file);
      assert.equal(data.length, settings.inputShape.reduce((a, b) => a * b, 1));
      assert.ok(data.every(Number.isFinite), file);
    }
  }
});

test('resizing keeps a flat image flat, up or down, in every channel', async () => {
  for (const [w, h] of [[7, 5], [28, 28], [100, 13], [29, 27]]) {
    const file = await rawPng(path.join(tmp, `flat${w}x${h}.png`), w, h, 3, (_x, _y, c) => [10, 100, 200][c]);
    const { data } = await preprocess(file, RGB);
    const n = 32 * 32;
    [10, 100, 200].forEach((v, c) => {
      const want = (v / 255 - RGB.normalization.mean[c]) / RGB.normalization.std[c];
      for (let i = 0; i < n; i++) assert.ok(Math.abs(data[c * n + i] - want) < 1e-5, `${w}x${h} channel ${c}: ${data[c * n + i]} vs ${want}`);
    });
  }
});

test('shrinking by 2 averages each 2x2 block; growing by 2 interpolates between pixel centres', async () => {
  const block = (x: number, y: number) => ((x >> 1) * 7 + (y >> 1) * 3) % 250;
  const big = await rawPng(path.join(tmp, 'big.png'), 56, 56, 1, (x, y) => block(x, y) + ((x + y) % 2));
  const { data } = await preprocess(big, GREY);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      // Each 2x2 block holds v, v+1, v+1, v: mean v + 0.5.
      const want = ((block(2 * x, 2 * y) + 0.5) / 255 - 0.5) / 0.5;
      assert.ok(Math.abs(data[y * 28 + x] - want) < 1e-6, `(${x},${y})`);
    }
  }
  // 1-D growth 2 -> 4: centres of targets at 0.25, 0.75 (clamped to 0), 1.25 ... in source pixel units.
  const taps = axisTaps(2, 4);
  assert.deepEqual(taps.map((t) => [t.start, t.weights]), [[0, [1]], [0, [0.75, 0.25]], [0, [0.25, 0.75]], [1, [1]]]);
});

test('resampling weights sum to 1 for every size pair', () => {
  for (let from = 1; from < 70; from += 3) {
    for (const to of [1, 7, 28, 32, 64]) {
      for (const t of axisTaps(from, to)) {
        assert.ok(Math.abs(t.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12, `${from}->${to}`);
        assert.ok(t.start >= 0 && t.start + t.weights.length <= from);
      }
    }
  }
});

test('grey conversion uses BT.601 weights; transparency composites over black; invert flips values', () => {
  const settings = { inputShape: [1, 1, 2], mean: [0], std: [1] };
  const img = { width: 2, height: 1, data: new Uint8Array([255, 0, 0, 255, 200, 200, 200, 0]) };
  const v = imageToInput(img, settings);
  assert.ok(Math.abs(v[0] - 0.299) < 1e-6);
  assert.equal(v[1], 0);
  const half = imageToInput({ width: 1, height: 1, data: new Uint8Array([200, 200, 200, 128]) }, { ...settings, inputShape: [1, 1, 1] });
  assert.equal(half[0], Math.fround(100 / 255), 'round(200 * 128 / 255) = 100, as a canvas stores it');
  const inv = imageToInput(img, { ...settings, invert: true });
  assert.ok(Math.abs(inv[0] - 0.701) < 1e-6);
  assert.equal(inv[1], 1);
});

test('inverting a normalised grey image with mean 0.5, std 0.5 negates it', async () => {
  const file = await writeTestImage(path.join(tmp, 'inv.png'), { width: 40, height: 30, channels: 1, seed: 9 });
  const plain = (await preprocess(file, GREY)).data;
  const inverted = (await preprocess(file, { ...GREY, invert: true })).data;
  for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(plain[i] + inverted[i]) < 1e-6);
});

test('a file that is not an image, or a missing one, fails with a clear message', async () => {
  const text = path.join(tmp, 'notes.txt');
  await writeFile(text, 'this is not an image\n');
  await assert.rejects(preprocess(text, GREY), /notes\.txt.*is not an image.*give a PNG, JPEG/);
  await assert.rejects(decodeImage(new Uint8Array([1, 2, 3, 4])), /image buffer is not an image/);
  await assert.rejects(preprocess(path.join(tmp, 'nope.png'), GREY), /nope\.png' does not exist/);
});

test('bad settings name the field and the fix', async () => {
  const file = await writeTestImage(path.join(tmp, 's.png'), { width: 8, height: 8, channels: 1, seed: 1 });
  await assert.rejects(preprocess(file, { ...GREY, inputShape: [2, 28, 28] }), /C must be 1 \(grey\) or 3 \(RGB\)/);
  await assert.rejects(preprocess(file, { ...GREY, fit: 'squash' as 'object' }), /fit 'squash' is not one of object, stretch/);
  await assert.rejects(preprocess(file, { ...RGB, normalization: { mean: [0.5, 0.5], std: [1] } }), /normalization.mean has 2 values; give 1 or 3/);
});
