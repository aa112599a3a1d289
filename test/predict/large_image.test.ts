import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { MAX_IMAGE_PIXELS } from '../../src/predict/pixels.js';
import { predict } from '../../src/predict/predict.js';
import { makeRunFixture } from '../helpers/run_fixture.js';
import { hugePngHeader } from './huge_png.js';

const CLI = path.join(process.cwd(), 'dist/src/cli/bin.js');
const fixture = await makeRunFixture({ samples: false });
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-large-'));
after(async () => {
  await rm(fixture.dir, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

test('predict refuses an image over the pixel limit with its size, the limit and the fix, before decoding it', async () => {
  const file = path.join(tmp, 'poster.png');
  await writeFile(file, hugePngHeader(20000, 20000));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'predict', fixture.dir, file], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /poster\.png' is 20000×20000 \(400 megapixels\); images up to 50 megapixels can be classified\. Shrink it first/);
  assert.doesNotMatch(r.stderr, /give a PNG/);
  assert.ok(Date.now() - t0 < 10_000);
});

test('an image just under the limit is classified', async () => {
  // 7100 x 7000 = 49.7 MP, flat grey: compresses to a small file, decodes to 199 MB of RGBA.
  const side = [7100, 7000];
  assert.ok(side[0] * side[1] <= MAX_IMAGE_PIXELS);
  const file = path.join(tmp, 'big.png');
  await sharp({ create: { width: side[0], height: side[1], channels: 3, background: '#777' } }).png({ compressionLevel: 1 }).toFile(file);
  const [p] = await predict({ run: fixture.dir, images: [file] });
  assert.equal(p.probabilities.length, fixture.config.classNames.length);
  // Flat grey averages to itself: the same as a 28 x 28 image of that grey.
  const small = path.join(tmp, 'small.png');
  await sharp({ create: { width: 28, height: 28, channels: 3, background: '#777' } }).png().toFile(small);
  const [q] = await predict({ run: fixture.dir, images: [small] });
  p.probabilities.forEach((v, k) => assert.ok(Math.abs(v - q.probabilities[k]) <= 1e-6, `class ${k}`));
});
