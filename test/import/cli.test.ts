import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { IMPORT_FIXTURES } from './helpers.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

/** `per` RGB images per class at `size` px: class k is stripes of period 2 + k in its own colour, with noise. */
async function imageFolder(root: string, classes: string[], per: number, size: number) {
  let seed = 1;
  const noise = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 40;
  for (const [k, name] of classes.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < per; i++) {
      const px = Buffer.alloc(size * size * 3);
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) {
        px[(y * size + x) * 3 + c] = Math.round((Math.floor(x / (2 + k)) % 2) * 180 * (c === k % 3 ? 1 : 0.3) + noise());
      }
      const img = sharp(px, { raw: { width: size, height: size, channels: 3 } });
      await (i % 2 ? img.jpeg() : img.png()).toFile(join(root, name, `${i}.${i % 2 ? 'jpg' : 'png'}`));
    }
  }
}

test('train --model lenet5.onnx --data <folder>: a new 3-class head, 1 epoch, then export-web on that run', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-import-cli-'));
  try {
    const data = join(dir, 'photos');
    await imageFolder(data, ['circle', 'square', 'star'], 8, 40);
    writeFileSync(join(data, 'notes.txt'), 'not an image: ignored');
    const run = join(dir, 'run');
    const r = cli('train', '--model', join(IMPORT_FIXTURES, 'lenet5.onnx'), '--data', data, '--epochs', '1', '--batch-size', '4', '--val-size', '6', '--out', run, '--threads', '2');
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /new head: fc3\.weight, fc3\.bias/);
    assert.match(r.stdout, /Loaded 24 images of 3 classes/);
    assert.doesNotMatch(r.stdout, /decoded before/);
    assert.match(r.stdout, /Epoch 1\/1/);
    const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    assert.equal(cfg.model, 'lenet5');
    assert.deepEqual(cfg.classNames, ['circle', 'square', 'star']);
    assert.deepEqual(cfg.inputShape, [1, 28, 28]);
    assert.equal(cfg.normalization.mean.length, 1, 'grey model: one channel of statistics from the training images');
    for (const f of ['last.safetensors', 'model.onnx', 'summary.txt', 'metrics.csv']) assert.ok(existsSync(join(run, f)), f);
    assert.match(readFileSync(join(run, 'summary.txt'), 'utf8'), /fc3/);

    const w = cli('export-web', run);
    assert.equal(w.status, 0, w.stderr);
    assert.ok(existsSync(join(run, 'web', 'index.html')) && existsSync(join(run, 'web', 'model.onnx')));
    const p = cli('predict', run, join(data, 'star', '0.png'));
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /circle|square|star/);

    const again = cli('train', '--resume', run, '--epochs', '2');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /Epoch 2\/2/);
    assert.match(again.stdout, /24 images decoded before: read from data\/image-cache\/[0-9a-f]{32}\.u8/, 'the second run reads the cache');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad own-model arguments: one line each, naming the fix', async () => {
  const lenet = join(IMPORT_FIXTURES, 'lenet5.onnx');
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-import-bad-'));
  try {
    mkdirSync(join(dir, 'only'));
    const cases: [string[], number, RegExp][] = [
      [['train', '--model', lenet], 2, /give its images with --data <folder>/],
      [['train', '--model', lenet, '--data', dir, '--kernel', '5'], 2, /drop --kernel/],
      [['train', '--model', lenet, '--data', dir, '--input', '3,x,4'], 2, /--input must be C,H,W/],
      [['train', '--model', lenet, '--data', join(dir, 'missing')], 1, /--data .*missing does not exist/],
      [['train', '--model', lenet, '--data', dir], 1, /has 1 class subfolder; it needs one subfolder of images per class, at least two/],
      [['train', '--model', join(dir, 'none.onnx'), '--data', dir], 1, /none\.onnx/],
    ];
    for (const [args, code, re] of cases) {
      const r = cli(...args);
      assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
