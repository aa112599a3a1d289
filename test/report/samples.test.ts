import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { preprocess } from '../../src/predict/preprocess.js';
import { writeSampleImages } from '../../src/report/samples.js';
import { seeded } from '../helpers/run_fixture.js';

test('sample PNGs hold the dataset pixels exactly, one per class in class order', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-samples-'));
  const rand = seeded(3);
  for (const shape of [[1, 28, 28], [3, 32, 32]] as const) {
    const per = shape[0] * shape[1] * shape[2];
    const labels = [2, 0, 2, 1, 0];
    const images = Uint8Array.from({ length: labels.length * per }, () => Math.floor(rand() * 256));
    const dir = path.join(tmp, `c${shape[0]}`);
    const files = await writeSampleImages({ dir, images, labels, shape, classNames: ['T-shirt/top', 'Trouser', 'Ankle boot'] });
    assert.deepEqual(files.map((f) => path.basename(f)), ['00-t-shirt-top.png', '01-trouser.png', '02-ankle-boot.png']);
    const firstOfClass = [1, 3, 0];
    for (const [k, file] of files.entries()) {
      const { data } = await preprocess(file, { inputShape: shape, normalization: { mean: [0], std: [1] } });
      const i = firstOfClass[k];
      for (let p = 0; p < per; p++) assert.equal(data[p], Math.fround(images[i * per + p] / 255), `${file} value ${p}`);
    }
  }
  await rm(tmp, { recursive: true, force: true });
});
