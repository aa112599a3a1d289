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
