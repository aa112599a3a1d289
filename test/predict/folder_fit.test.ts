/**
 * An image-folder run records its fit (config.json "fit"); predict and export-web use it, so a training
 * image reaches the model from `predict` as it did in training. Through the real CLI.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { prepareImageFolder } from '../../src/data/image_folder.js';
import { predict } from '../../src/predict/predict.js';
import { preprocess } from '../../src/predict/preprocess.js';
import { parseRunConfig } from '../../src/predict/run_config.js';
import { resumeSettings } from '../../src/train/resolve_settings.js';
import { seeded } from '../helpers/seeded.js';

const CLI = path.join(process.cwd(), 'dist/src/cli/bin.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-folder-fit-'));
after(() => rm(tmp, { recursive: true, force: true }));

/**
 * `per` RGB photos per class, alternately 48 x 32 and 32 x 48: a bright centred disc (class 0) or ring
 * (class 1) on a dark noisy background, with grey bands along the long sides' ends that a centre crop
 * cuts off and a stretch keeps.
 */
async function photoFolder(root: string, per: number): Promise<string[]> {
  const rand = seeded(11);
  const files: string[] = [];
  for (const [k, name] of ['disc', 'ring'].entries()) {
    mkdirSync(path.join(root, name), { recursive: true });
    for (let i = 0; i < per; i++) {
      const [w, h] = i % 2 ? [32, 48] : [48, 32];
      const px = Buffer.alloc(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const long = w > h ? x : y;
          const band = long < 8 || long >= Math.max(w, h) - 8;
          const r = Math.hypot(x + 0.5 - w / 2, y + 0.5 - h / 2);
          const on = k === 0 ? r < 10 : r > 7 && r < 12;
          for (let c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = band ? 100 : on ? 200 + Math.floor(rand() * 55) : Math.floor(rand() * 40);
        }
      }
      const file = path.join(root, name, `${i}.png`);
      await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
      files.push(file);
    }
  }
  return files;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

test('train basic-cnn --data <non-square photos>: config.json records fit crop; predict and export-web use it; --resume keeps it', { timeout: 300_000 }, async () => {
  const data = path.join(tmp, 'photos');
  const files = await photoFolder(data, 8);
  const run = path.join(tmp, 'run');
  const r = cli('train', 'basic-cnn', '--data', data, '--epochs', '1', '--batch-size', '4', '--val-size', '4', '--out', run, '--threads', '2');
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const cfg = JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8'));
  assert.equal(cfg.fit, 'crop', 'the default fit of a folder run');
  assert.deepEqual(cfg.inputShape, [1, 28, 28]);

  // The training pipeline's tensors of these files: the run's own decoded images, read back from the cache
  // under the key of fit crop, normalised as the run did.
  const lines: string[] = [];
  const trained = await prepareImageFolder(data, { inputShape: [1, 28, 28], fit: 'crop', normalization: cfg.normalization, valSize: 4, seed: cfg.seed, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /16 images decoded before/.test(l)), lines.join('\n'));
  const per = 28 * 28;
  // The folder's images were rounded to whole levels (uint8) before normalising; predict's are not.
  const rounding = 0.5 / 255 / cfg.normalization.std[0] + 1e-6;
  const preds = await predict({ run, images: files, invert: false });
  let worstInput = 0;
  let worstProb = 0;
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(path.join(run, 'model.onnx'));
  try {
    for (const [i, file] of files.entries()) {
      const train = trained.all.images.subarray(i * per, (i + 1) * per);
      const input = await preprocess(file, { inputShape: cfg.inputShape, normalization: cfg.normalization, fit: cfg.fit });
      worstInput = Math.max(worstInput, maxDiff(input.data, train));
      const stretched = await preprocess(file, { inputShape: cfg.inputShape, normalization: cfg.normalization, fit: 'stretch' });
      assert.ok(maxDiff(stretched.data, train) > 50 * rounding, `${file}: stretch differs from training`);
      assert.equal(preds[i].fit, 'crop');
      assert.equal(preds[i].cropped, true);
      const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(train), [1, 1, 28, 28]) });
      worstProb = Math.max(worstProb, maxDiff(preds[i].probabilities, out.probabilities.data as Float32Array));
    }
  } finally {
    await session.release();
  }
  console.log(`# predict vs the training tensors of ${files.length} photos: input ${worstInput.toExponential(2)} (uint8 rounding bound ${rounding.toExponential(2)}), probabilities ${worstProb.toExponential(2)}`);
  assert.ok(worstInput <= rounding, `input ${worstInput}`);
  assert.ok(worstProb < 1e-2, `probabilities ${worstProb}`);

  // The CLI says so; --fit still overrides.
  const line = cli('predict', run, files[0], '--no-invert');
  assert.equal(line.status, 0, line.stderr);
  assert.match(line.stdout, /\(centre-cropped\)/);
  const [stretch] = await predict({ run, images: [files[0]], invert: false, fit: 'stretch' });
  assert.deepEqual([stretch.fit, stretch.cropped], ['stretch', false]);
  assert.notDeepEqual(stretch.probabilities, preds[0].probabilities);

  const w = cli('export-web', run);
  assert.equal(w.status, 0, w.stderr);
  assert.equal(JSON.parse(readFileSync(path.join(run, 'web', 'config.json'), 'utf8')).fit, 'crop', 'the page reads the fit from its config.json');

  // --resume keeps the recorded fit: the cache of the first session is read again, and --fit is refused.
  const again = cli('train', '--resume', run, '--epochs', '2');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /16 images decoded before/);
  assert.equal(JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')).fit, 'crop');
  const refit = cli('train', '--resume', run, '--fit', 'stretch');
  assert.equal(refit.status, 2);
  assert.match(refit.stderr, /drop --fit/);

  // Another fit is another run with its own decoded images, recorded as such.
  const other = path.join(tmp, 'run-object');
  const o = cli('train', 'basic-cnn', '--data', data, '--fit', 'object', '--epochs', '1', '--batch-size', '4', '--val-size', '4', '--out', other, '--threads', '2');
  assert.equal(o.status, 0, o.stderr + o.stdout);
  assert.doesNotMatch(o.stdout, /decoded before/);
  assert.equal(JSON.parse(readFileSync(path.join(other, 'config.json'), 'utf8')).fit, 'object');
});

test('--fit is for image folders: a seed model on its dataset refuses it in one line', () => {
  const r = cli('train', 'simple-mlp', '--fit', 'crop');
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--fit frames the images of a --data folder; simple-mlp trains on its own dataset's images as they are: drop --fit, or give --data <folder>/);
});

test('config.json "fit": absent or null means the default; another value is refused; older folder runs resume stretched', async () => {
  const base = { model: 'm', inputShape: [3, 32, 32], classNames: ['a', 'b'], normalization: { mean: [0.5], std: [0.5] } };
  assert.equal(parseRunConfig(base, 'c.json').fit, undefined);
  assert.equal(parseRunConfig({ ...base, fit: null }, 'c.json').fit, undefined);
  assert.equal(parseRunConfig({ ...base, fit: 'crop' }, 'c.json').fit, 'crop');
  // predict and the page frame an older folder run's images as it trained: stretched.
  assert.equal(parseRunConfig({ ...base, dataFolder: '/photos' }, 'c.json').fit, 'stretch');
  assert.equal(parseRunConfig({ ...base, dataFolder: null }, 'c.json').fit, undefined);
  assert.throws(() => parseRunConfig({ ...base, fit: 'squash' }, 'c.json'), /c\.json: "fit" must be one of "object", "stretch", "crop" \(or null: the model's default\); got "squash"/);

  // A folder run written before "fit" existed was decoded with imageToInput's default, 'stretch'.
  const dir = path.join(tmp, 'old-run');
  mkdirSync(dir, { recursive: true });
  const old = { format: 'onnxtrain-run/1', model: 'basic-cnn', dataFolder: path.join(tmp, 'photos'), epochs: 1, seed: 0 };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(old));
  assert.equal((await resumeSettings(dir)).fit, 'stretch');
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...old, fit: 'object' }));
  assert.equal((await resumeSettings(dir)).fit, 'object');
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...old, dataFolder: null, model: 'simple-mlp' }));
  assert.equal((await resumeSettings(dir)).fit, undefined, 'seed runs have no fit');
});
