import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { prepareImageFolder } from '../../src/data/image_folder.js';
import { tempDir } from './fixtures.js';

const scratch = tempDir('onnxtrain-folder-');
after(() => scratch.remove());

async function writeImage(path: string, value: number) {
  await sharp(Buffer.alloc(12 * 12 * 3, value), { raw: { width: 12, height: 12, channels: 3 } }).png().toFile(path);
}

test('an image folder is decoded once: the next load reads the cache, a changed image is decoded again', async () => {
  const root = join(scratch.path, 'photos');
  for (const [k, name] of ['a', 'b'].entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < 6; i++) await writeImage(join(root, name, `${i}.png`), 40 * k + 10 * i);
  }
  const cacheDir = join(scratch.path, 'cache');
  const load = async () => {
    const lines: string[] = [];
    const data = await prepareImageFolder(root, { inputShape: [1, 4, 4], valSize: 2, cacheDir, log: (l) => lines.push(l) });
    return { data, cached: lines.some((l) => /12 images decoded before: read from .*\.u8/.test(l)) };
  };
  const first = await load();
  assert.equal(first.cached, false);
  assert.equal(readdirSync(cacheDir).length, 1);
  const second = await load();
  assert.equal(second.cached, true);
  assert.deepEqual(second.data.all.images, first.data.all.images);
  assert.deepEqual(second.data.all.labels, first.data.all.labels);

  // b/5.png now holds another grey: a new decode, and the new value reaches the data.
  await writeImage(join(root, 'b', '5.png'), 250);
  utimesSync(join(root, 'b', '5.png'), new Date(), new Date(Date.now() + 5000));
  const third = await load();
  assert.equal(third.cached, false);
  assert.notDeepEqual(third.data.all.images, first.data.all.images);
  // No cache at all when asked.
  const lines: string[] = [];
  await prepareImageFolder(root, { inputShape: [1, 4, 4], valSize: 2, cacheDir: null, log: (l) => lines.push(l) });
  assert.ok(!lines.some((l) => /decoded before/.test(l)));
  assert.equal(readdirSync(cacheDir).length, 2);
});

test('the fit is part of the cache key: another fit decodes again and gives other pixels; crop is the default', async () => {
  const root = join(scratch.path, 'wide');
  for (const [k, name] of ['a', 'b'].entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < 3; i++) {
      // 24 x 8: a bright middle third on a dark ground, brighter in class b.
      const px = Buffer.alloc(24 * 8 * 3);
      for (let p = 0; p < 24 * 8; p++) px.fill((p % 24) >= 8 && (p % 24) < 16 ? 150 + 40 * k + i : 10, p * 3, p * 3 + 3);
      await sharp(px, { raw: { width: 24, height: 8, channels: 3 } }).png().toFile(join(root, name, `${i}.png`));
    }
  }
  const cacheDir = join(scratch.path, 'fit-cache');
  const load = async (fit?: 'crop' | 'stretch') => {
    const lines: string[] = [];
    const data = await prepareImageFolder(root, { inputShape: [1, 4, 4], valSize: 2, cacheDir, fit, normalization: { mean: [0], std: [1] }, log: (l) => lines.push(l) });
    return { data, cached: lines.some((l) => /decoded before/.test(l)) };
  };
  const crop = await load();
  const stretch = await load('stretch');
  assert.equal(stretch.cached, false, 'stretch is not read from the crop cache');
  assert.equal(readdirSync(cacheDir).length, 2);
  assert.equal((await load('crop')).cached, true, 'crop (the default) is read back');
  // Crop keeps the middle 8 x 8 (scaled to 4 x 4): all bright; stretch keeps the dark thirds too.
  const first = (d: typeof crop) => Array.from(d.data.all.images.subarray(0, 4), (v) => Math.round(v * 255));
  assert.deepEqual(first(crop), [150, 150, 150, 150]);
  // Stretch: 6 source columns per pixel: 10; (2 * 10 + 4 * 150) / 6 = 103.3; 103.3; 10.
  assert.deepEqual(first(stretch), [10, 103, 103, 10]);
});
