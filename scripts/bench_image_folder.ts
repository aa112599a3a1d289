/**
 * `node dist/scripts/bench_image_folder.js [--images 10000] [--size 256] [--input 3,32,32]`
 *
 * An image folder of JPEGs (10 class folders of generated `size` x `size` pictures: smooth colour gradients with
 * noise, quality 85) loaded as `train --data` loads it: the first time decoded (and cached), the second time
 * from the cache. Prints both times and the cache's size.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { prepareImageFolder } from '../src/data/image_folder.js';

async function main() {
  const { values } = parseArgs({ args: process.argv.slice(2), options: {
    images: { type: 'string', default: '10000' }, size: { type: 'string', default: '256' }, input: { type: 'string', default: '3,32,32' } } });
  const [n, size] = [Number(values.images), Number(values.size)];
  const input = values.input!.split(',').map(Number) as [number, number, number];
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-bench-folder-'));
  try {
    const root = join(dir, 'photos');
    let seed = 7;
    const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const cls = join(root, `class-${i % 10}`);
      if (i < 10) mkdirSync(cls, { recursive: true });
      const px = Buffer.alloc(size * size * 3);
      const [a, b, c] = [rand() * 255, rand() * 255, rand() * 255];
      for (let p = 0; p < size * size; p++) {
        const x = (p % size) / size;
        const y = Math.floor(p / size) / size;
        px[p * 3] = a * x + 40 * rand();
        px[p * 3 + 1] = b * y + 40 * rand();
        px[p * 3 + 2] = c * (1 - x) + 40 * rand();
      }
      await sharp(px, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 85 }).toFile(join(cls, `${i}.jpg`));
    }
    console.log(`wrote ${n} JPEGs of ${size}x${size} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const cacheDir = join(dir, 'cache');
    for (const pass of ['first load (decode + cache)', 'second load (cache)']) {
      const t = performance.now();
      const data = await prepareImageFolder(root, { inputShape: input, cacheDir });
      console.log(`${pass}: ${((performance.now() - t) / 1000).toFixed(1)} s, ${data.all.n} images`);
    }
    const cache = readdirSync(cacheDir).map((f) => statSync(join(cacheDir, f)).size).reduce((a, s) => a + s, 0);
    console.log(`cache: ${(cache / 1e6).toFixed(1)} MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
