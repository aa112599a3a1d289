/**
 * Test accuracy of a trained Fashion-MNIST run through the real `predict` path (each test image written as
 * a 28 x 28 PNG, decoded, preprocessed, classified) with each fit, and how many inputs 'object' changes.
 * Usage: npm run -s build && node dist/scripts/fit_accuracy.js <run> [--limit N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadDataset } from '../src/data/datasets.js';
import { FITS } from '../src/predict/pixels.js';
import { predict } from '../src/predict/predict.js';
import { preprocess } from '../src/predict/preprocess.js';

const [run, ...rest] = process.argv.slice(2);
if (!run) throw new Error('usage: node dist/scripts/fit_accuracy.js <fashion-mnist run folder> [--limit N]');
const limitAt = rest.indexOf('--limit');
const { test } = await loadDataset('fashion-mnist');
const n = limitAt >= 0 ? Math.min(test.n, Number(rest[limitAt + 1])) : test.n;
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-fit-acc-'));
try {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(tmp, `${String(i).padStart(5, '0')}.png`);
    await sharp(Buffer.from(test.images.subarray(i * 784, (i + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(file);
    files.push(file);
  }
  const GREY = { inputShape: [1, 28, 28], normalization: { mean: [0.5], std: [0.5] }, invert: false };
  let same = 0;
  let cropped = 0;
  let maxDiff = 0;
  for (const f of files) {
    const [o, s] = [await preprocess(f, { ...GREY, fit: 'object' }), await preprocess(f, { ...GREY, fit: 'stretch' })];
    const d = o.data.reduce((m, v, k) => Math.max(m, Math.abs(v - s.data[k])), 0);
    if (d === 0) same++;
    if (o.frame.cropped) cropped++;
    maxDiff = Math.max(maxDiff, d);
  }
  console.log(`${n} Fashion-MNIST test images: 'object' leaves ${same} inputs bit-identical (${((100 * same) / n).toFixed(1)} %), crops ${cropped}; largest change ${maxDiff.toFixed(3)} (normalised units)`);
  // invert 'auto' is predict's default; false is the training path's (with 'stretch': the run's own test accuracy).
  for (const fit of FITS) {
    for (const invert of ['auto', false] as const) {
      const t0 = Date.now();
      const preds = await predict({ run, images: files, fit, invert });
      const right = preds.filter((p, i) => p.top[0].index === test.labels[i]).length;
      const inverted = preds.filter((p) => p.inverted).length;
      console.log(`fit '${fit}', invert ${invert}: ${right} / ${n} right = ${((100 * right) / n).toFixed(2)} % (${inverted} inverted); ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
