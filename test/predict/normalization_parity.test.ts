import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeImages } from '../../src/data/normalize.js';
import { DATASETS } from '../../src/data/datasets.js';
import { imageToInput } from '../../src/predict/pixels.js';

// Training normalises with src/data/normalize.ts, prediction and the page with src/predict/pixels.ts:
// an image already at the model's size must give the training tensor bit for bit, for every pixel level.
for (const name of ['fashion-mnist', 'cifar10'] as const) {
  test(`${name}: predict's preprocessing equals training's normalisation for all 256 levels`, () => {
    const { inputShape, normalization } = DATASETS[name];
    const [C] = inputShape;
    const H = 16;
    const W = 16;
    const rgba = new Uint8Array(H * W * 4);
    const planar = new Uint8Array(C * H * W);
    for (let i = 0; i < H * W; i++) {
      const v = [i % 256, (i * 7 + 3) % 256, (i * 13 + 5) % 256];
      for (let c = 0; c < 3; c++) rgba[i * 4 + c] = C === 1 ? v[0] : v[c];
      rgba[i * 4 + 3] = 255;
      for (let c = 0; c < C; c++) planar[c * H * W + i] = v[c];
    }
    const fromPredict = imageToInput({ width: W, height: H, data: rgba }, { inputShape: [C, H, W], mean: normalization.mean, std: normalization.std });
    const fromTraining = normalizeImages(planar, 1, C, H * W, normalization);
    assert.deepEqual(Buffer.from(fromPredict.buffer), Buffer.from(fromTraining.buffer.slice(0, fromTraining.byteLength)));
  });
}
