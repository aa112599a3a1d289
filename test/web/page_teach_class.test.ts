import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { loadDataset } from '../../src/data/datasets.js';
import { Rng } from '../../src/data/rng.js';
import { predict } from '../../src/predict/predict.js';
import type { Server } from '../../src/web/serve.js';
import { cliOk as cli } from '../helpers/cli.js';
import { servePage, type ServedPage } from '../helpers/served_page.js';
import { buildModelDef } from '../../src/models/registry.js';
import { fixtureBatch, MAKE_FIXTURES } from '../helpers/fixture_values.js';
import { dropFiles } from './page_helpers.js';

// Issue 15's target: a basic-cnn trained on real Fashion-MNIST learns a new class in the page from 10
// drawings (an "X", which no clothing class looks like), wins on >= 8 of 10 new drawings of it, and loses
// < 2 points of test accuracy on the original classes (1000 fixed test images, through the downloaded
// model.onnx in onnxruntime-node, the new class counted among the answers).
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/t10k-images-idx3-ubyte.gz');
const skip = HAVE_DATA ? false : 'apt-get install dataset-fashion-mnist';
const root = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-teach-class-'));
const run = path.join(root, 'run');
const PYTHON = '/usr/bin/python3';
const noTorch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0;
let browser: Browser;
let server: Server;
let site: ServedPage | undefined;

/** A hand-drawn-looking "X": two strokes with jittered ends and width, light on dark as Fashion-MNIST is. */
async function drawX(rng: Rng, file: string): Promise<void> {
  const px = new Uint8Array(28 * 28);
  const j = () => rng.uniform(-2.5, 2.5);
  const strokes = [
    [6 + j(), 6 + j(), 21 + j(), 21 + j()],
    [21 + j(), 6 + j(), 6 + j(), 21 + j()],
  ];
  const width = rng.uniform(1.2, 2.2);
  const ink = rng.uniform(200, 255);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      let d = Infinity;
      for (const [x0, y0, x1, y1] of strokes) {
        const t = Math.max(0, Math.min(1, ((x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2)));
        d = Math.min(d, Math.hypot(x - (x0 + t * (x1 - x0)), y - (y0 + t * (y1 - y0))));
      }
      px[y * 28 + x] = Math.round(ink * Math.max(0, Math.min(1, width + 0.5 - d)));
    }
  }
  await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(file);
}

before(async () => {
  if (!HAVE_DATA) return;
  cli('train', 'basic-cnn', '--epochs', '2', '--limit', '6000', '--out', run);
  site = await servePage({ run, out: path.join(root, 'web'), trainable: true, compress: false });
  ({ server, browser } = site);
});

after(async () => {
  await site?.close();
  await rm(root, { recursive: true, force: true });
});

async function show(p: Page, file: string): Promise<{ top: number; label: string; probabilities: number[] }> {
  await p.evaluate(() => (window.__lastPrediction = undefined));
  await dropFiles(p, '#drop', [file]);
  await p.waitForFunction((s) => window.__lastPrediction?.source === s, path.basename(file), { timeout: 20_000 });
  return p.evaluate(() => ({ top: window.__lastPrediction!.top[0].index, label: window.__lastPrediction!.top[0].label, probabilities: window.__lastPrediction!.probabilities }));
}

/** Accuracy of a model.onnx on the first `n` Fashion-MNIST test images, argmax over all its outputs. */
async function testAccuracy(model: string, n: number): Promise<number> {
  const { test: t } = await loadDataset('fashion-mnist', { download: false });
  const x = Float32Array.from(t.images.subarray(0, n * 784), (v) => (v / 255 - 0.5) / 0.5);
  const s = await ort.InferenceSession.create(model);
  const logits = (await s.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) })).logits;
  await s.release();
  const k = logits.dims[1];
  const data = logits.data as Float32Array;
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (data[i * k + c] > data[i * k + best]) best = c;
    if (best === t.labels[i]) right++;
  }
  return right / n;
}

test('a new class taught from 10 drawings in the page wins on >= 8 of 10 new ones; the old classes lose < 2 points', { skip, timeout: 300_000 }, async () => {
  const drawings = path.join(root, 'drawings');
  await mkdir(drawings);
  const rng = Rng.fromSeed(15, 'x-drawings');
  const files = Array.from({ length: 20 }, (_, i) => path.join(drawings, `x-${String(i).padStart(2, '0')}.png`));
  for (const f of files) await drawX(rng, f);

  const p = await (await browser.newContext({ acceptDownloads: true })).newPage();
  const errors: string[] = [];
  p.on('pageerror', (e) => errors.push(e.message));
  try {
    await p.goto(server.url);
    await p.waitForFunction(() => window.__teach?.status === 'ready', null, { timeout: 60_000 });
    const before = await show(p, files[10]);
    assert.equal(before.probabilities.length, 14);
    assert.ok(before.probabilities.slice(10).every((v) => v === 0), 'a spare class has a probability before it is named');

    // Bad names are refused with a reason; a good one becomes class 10.
    await p.click('#teach-new-class');
    assert.match((await p.textContent('#teach-status'))!, /Type the new class's name first/);
    await p.fill('#teach-new-name', 'Sneaker');
    await p.click('#teach-new-class');
    assert.match((await p.textContent('#teach-status'))!, /already a class "Sneaker"/);
    await p.fill('#teach-new-name', 'Cross');
    await p.click('#teach-new-class');
    await p.waitForFunction(() => window.__lastPrediction?.probabilities[10] !== 0, null, { timeout: 20_000 });
    const named = await p.evaluate(() => window.__lastPrediction!.probabilities);
    assert.equal(await p.inputValue('#teach-class'), '10');

    for (const f of files.slice(0, 10)) {
      await show(p, f);
      await p.click('#teach-add');
    }
    assert.equal(await p.evaluate(() => window.__teach!.examples.filter((e) => e.label === 10).length), 10);
    await p.fill('#teach-steps', '60');
    await p.click('#teach-train');
    await p.waitForFunction(() => window.__teach?.ended === 'finished', null, { timeout: 180_000 });

    const wins: number[] = [];
    for (const f of files.slice(10)) {
      const r = await show(p, f);
      wins.push(r.top);
      if (r.top === 10) assert.equal(r.label, 'Cross', 'the page names the new class in its answer');
    }
    const won = wins.filter((k) => k === 10).length;
    console.log(`# new class "Cross": wins on ${won} of 10 new drawings (top classes ${wins.join(' ')})`);
    assert.ok(won >= 8, `the new class won on only ${won} of 10 new drawings (top classes: ${wins.join(' ')})`);

    // Download: 11 classes, loadable by predict and by train --init.
    const dl = path.join(root, 'download');
    await mkdir(dl);
    const got = new Set<string>();
    const done = new Promise<void>((resolve) => {
      p.on('download', async (d) => {
        await d.saveAs(path.join(dl, d.suggestedFilename()));
        got.add(d.suggestedFilename());
        if (got.size === 3) resolve();
      });
    });
    await p.click('#teach-download');
    await done;
    const cfg = JSON.parse(await readFile(path.join(dl, 'config.json'), 'utf8')) as { classNames: string[] };
    assert.equal(cfg.classNames.length, 11);
    assert.equal(cfg.classNames[10], 'Cross');
    const [node] = await predict({ run: dl, images: [files[19]] });
    assert.equal(node.probabilities.length, 11);
    const page = await show(p, files[19]);
    node.probabilities.forEach((v, k) => assert.ok(Math.abs(v - page.probabilities[k]) <= 1e-5, `class ${k}: node ${v} vs page ${page.probabilities[k]}`));

    const was = await testAccuracy(path.join(run, 'model.onnx'), 1000);
    const now = await testAccuracy(path.join(dl, 'model.onnx'), 1000);
    console.log(`# test accuracy on 1000 images: ${(was * 100).toFixed(1)} % before, ${(now * 100).toFixed(1)} % after teaching the new class`);
    assert.ok(was - now < 0.02, `test accuracy fell ${((was - now) * 100).toFixed(1)} points: ${was} -> ${now}`);

    const out = cli('train', 'basic-cnn', '--init', path.join(dl, 'checkpoint.safetensors'), '--epochs', '1', '--limit', '300', '--out', path.join(root, 'resumed'));
    assert.match(out, /Initial weights from .*checkpoint\.safetensors/);
    if (!noTorch) {
      // PyTorch: the checkpoint loads (strict) into basic-cnn with an nn.Linear(128, 11) head and gives the download's logits.
      const jobs = path.join(root, 'jobs.json');
      await writeFile(jobs, JSON.stringify([{ model: 'basic-cnn', options: { numClasses: 11 }, checkpoint: path.join(dl, 'checkpoint.safetensors') }]));
      const py = spawnSync(PYTHON, [MAKE_FIXTURES, 'eval', jobs], { encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.equal(py.status, 0, py.stderr);
      const torch = (JSON.parse(py.stdout) as { results: { logits: number[] }[] }).results[0].logits;
      const { images } = fixtureBatch(buildModelDef('basic-cnn', { numClasses: 11 }));
      const s = await ort.InferenceSession.create(path.join(dl, 'model.onnx'));
      const ours = (await s.run({ input: new ort.Tensor('float32', images.data as Float32Array, images.dims) })).logits.data as Float32Array;
      await s.release();
      assert.equal(ours.length, torch.length);
      const scale = Math.max(...torch.map(Math.abs));
      torch.forEach((v, i) => assert.ok(Math.abs(ours[i] - v) <= 1e-5 * scale, `logit ${i}: ours ${ours[i]} vs torch ${v}`));
    }

    // Reset: the exported weights, and the named class's row drawn again as when it was named.
    await p.evaluate(() => (window.__lastPrediction = undefined));
    await p.click('#teach-reset');
    await p.waitForFunction(() => window.__lastPrediction !== undefined, null, { timeout: 20_000 });
    const again = await show(p, files[10]);
    again.probabilities.forEach((v, k) => assert.ok(Math.abs(v - named[k]) <= 1e-6, `after Reset, class ${k}: ${v} vs ${named[k]} when named`));
    assert.deepEqual(errors, []);
  } finally {
    await p.context().close();
  }
});
