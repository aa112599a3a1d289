import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { IMPORT_FIXTURES } from './helpers.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const cliIn = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd });
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

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

const IMPORT_FILES = ['checkpoint.safetensors', 'eval.onnx', 'import.json', 'manifest.json', 'model.onnx', 'optimizer.onnx',
  'train_loop.onnx', 'train_step.onnx', 'training.onnx', 'validation.onnx'];

test('import lenet5.onnx writes models/lenet5/; train <folder> --classes auto trains it like --model <folder>/model.onnx', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-import-cmd-'));
  try {
    const source = join(IMPORT_FIXTURES, 'lenet5.onnx');
    const bytes = readFileSync(source);
    const r = cliIn(dir, 'import', source);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /lenet5\.onnx: ops: Conv x2, .*Gemm x3/);
    assert.match(r.stdout, /10 parameter tensors \(61,706 values\), 0 buffers; 10 classes/);
    assert.match(r.stdout, /parameters by first name part \(for --freeze\): conv1 2, conv2 2, fc1 2, fc2 2, fc3 2\n/);
    assert.match(r.stdout, /wrote models\/lenet5\/ \(checkpoint\.safetensors, .*validation\.onnx\)/);
    const folder = join(dir, 'models', 'lenet5');
    assert.deepEqual(readdirSync(folder).sort(), IMPORT_FILES, 'no temporary folder or file left behind');
    assert.deepEqual(readdirSync(join(dir, 'models')), ['lenet5']);
    assert.ok(readFileSync(join(folder, 'model.onnx')).equals(bytes), 'model.onnx is the source, unchanged');

    const rec = readJson(join(folder, 'import.json'));
    const manifest = readJson(join(folder, 'manifest.json'));
    assert.equal(rec.format, 'onnxtrain-import/1');
    assert.equal(rec.name, 'lenet5');
    assert.deepEqual(rec.source, { file: 'lenet5.onnx', sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
    assert.deepEqual(rec.inputShape, [1, 28, 28]);
    assert.equal(rec.normalize, 'auto');
    assert.equal(rec.numClasses, 10);
    assert.equal(manifest.model, rec.name);
    assert.deepEqual(manifest.dataset.inputShape, rec.inputShape);
    assert.equal(manifest.dataset.classNames.length, rec.numClasses);
    assert.deepEqual(manifest.parameters.filter((p: { buffer: boolean }) => !p.buffer).map((p: { name: string; shape: number[] }) => [p.name, p.shape]),
      rec.report.parameters.map((p: { name: string; shape: number[] }) => [p.name, p.shape]));
    assert.deepEqual(manifest.graphs['training.onnx'].inputs.map((v: { name: string }) => v.name).slice(0, 2), ['input', 'labels']);

    // The checkpoint holds the file's own weights, bit for bit.
    const { weights } = await loadCheckpoint(join(folder, 'checkpoint.safetensors'));
    const inits = decodeModel(new Uint8Array(bytes)).graph.initializers;
    assert.equal(weights.size, rec.report.parameters.length);
    for (const [name, t] of weights) {
      const src = inits.get(name);
      assert.ok(src, `${name} is an initializer of the file`);
      assert.deepEqual(t.dims, src.dims, name);
      assert.deepEqual(Array.from(t.data as Float32Array), Array.from(src.data as Float32Array), name);
    }

    // Importing again into its own folder replaces it whole.
    const again = cliIn(dir, 'import', source, '--out', 'models/lenet5', '--normalize', 'auto', '--name', 'lenet');
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readJson(join(folder, 'import.json')).name, 'lenet');
    assert.deepEqual(readdirSync(join(dir, 'models')), ['lenet5']);

    const data = join(dir, 'photos');
    await imageFolder(data, ['circle', 'square', 'star'], 8, 40);
    const common = ['--data', data, '--epochs', '1', '--batch-size', '4', '--val-size', '6', '--threads', '2', '--seed', '3'];
    const viaFolder = cli('train', folder, '--classes', 'auto', ...common, '--out', join(dir, 'run-folder'));
    assert.equal(viaFolder.status, 0, viaFolder.stderr + viaFolder.stdout);
    assert.match(viaFolder.stdout, /new head: fc3\.weight, fc3\.bias/);
    assert.match(viaFolder.stdout, /Training lenet on /);
    const viaFile = cli('train', '--model', join(folder, 'model.onnx'), ...common, '--out', join(dir, 'run-file'));
    assert.equal(viaFile.status, 0, viaFile.stderr + viaFile.stdout);
    const [a] = readJson(join(dir, 'run-folder', 'metrics.json'));
    const [b] = readJson(join(dir, 'run-file', 'metrics.json'));
    assert.ok(Number.isFinite(a.trainLoss));
    assert.equal(a.trainLoss, b.trainLoss, 'the same model, data and seed: the same first epoch');
    assert.equal(a.valLoss, b.valLoss);

    const cfg = readJson(join(dir, 'run-folder', 'config.json'));
    assert.equal(cfg.model, 'lenet');
    assert.equal(cfg.importFolder, folder);
    assert.equal(cfg.modelFile, join(folder, 'model.onnx'));
    assert.deepEqual(cfg.input, [1, 28, 28]);
    assert.equal(cfg.normalize, 'auto');
    assert.deepEqual(cfg.classNames, ['circle', 'square', 'star']);

    const resumed = cli('train', '--resume', join(dir, 'run-folder'), '--epochs', '2');
    assert.equal(resumed.status, 0, resumed.stderr + resumed.stdout);
    assert.match(resumed.stdout, /Epoch 2\/2/);

    // A changed model.onnx: the folder's runs are refused until it is imported again.
    appendFileSync(join(folder, 'model.onnx'), Buffer.from([0]));
    for (const args of [['train', folder, ...common], ['train', '--resume', join(dir, 'run-folder'), '--epochs', '3']]) {
      const bad = cli(...args);
      assert.equal(bad.status, 1, bad.stderr);
      assert.match(bad.stderr, /model\.onnx changed since it was imported \(sha256 [0-9a-f]{12}\.\.\., import\.json records [0-9a-f]{12}\.\.\.\): import it again/);
      assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** input [N,1,4,4] * scale -> SpaceToDepth (no gradient rule) -> Flatten -> Linear(16, 3). */
function untrainable(): Uint8Array {
  const b = new GraphBuilder('m');
  const x = b.input('input', 'float32', ['N', 1, 4, 4]);
  const scaled = b.op1('Mul', [x, b.initializer('scale', { dtype: 'float32', dims: [1], data: new Float32Array([1]) })]);
  const s2d = b.op1('SpaceToDepth', [scaled], { blocksize: 2 }, { name: 'features.s2d' });
  const w = b.initializer('fc.weight', { dtype: 'float32', dims: [3, 16], data: new Float32Array(48) });
  const bias = b.initializer('fc.bias', { dtype: 'float32', dims: [3], data: new Float32Array(3) });
  b.output(b.op1('Gemm', [b.op1('Flatten', [s2d], { axis: 1 }), w, bias], { transB: 1 }));
  return encodeModel(b.graph);
}

test('import and train <folder> refuse bad input with one line naming the fix, writing nothing', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-import-refuse-'));
  try {
    const lenet = join(IMPORT_FIXTURES, 'lenet5.onnx');
    writeFileSync(join(dir, 's2d.onnx'), untrainable());
    mkdirSync(join(dir, 'foreign'));
    writeFileSync(join(dir, 'foreign', 'notes.txt'), 'mine');
    mkdirSync(join(dir, 'plain'));
    mkdirSync(join(dir, 'damaged'));
    writeFileSync(join(dir, 'damaged', 'import.json'), '{"format": "onnxtrain-import/1"');
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'import.json'), '{"format": "something-else/2"}');
    mkdirSync(join(dir, 'photos', 'a'), { recursive: true });
    const cases: [string[], number, RegExp][] = [
      [['import', 's2d.onnx'], 1, /^onnxtrain: s2d\.onnx: the model cannot be trained: no gradient rule for SpaceToDepth \(node 'features\.s2d'\): replace that layer/],
      [['import', lenet, '--out', 'foreign'], 1, /--out foreign is not empty and holds no onnxtrain import \(notes\.txt\): pass a new or empty folder with --out/],
      [['import', lenet, '--out', 'damaged'], 1, /--out damaged is not empty and holds no onnxtrain import/],
      [['import', lenet, '--normalize', 'imagenet'], 1, /--normalize imagenet gives 3 channels of statistics, but .*lenet5\.onnx takes 1-channel images: drop --normalize/],
      [['import', lenet, '--input', '1,28'], 2, /--input must be C,H,W with positive integers/],
      [['import', 'none.onnx'], 1, /none\.onnx not found: give the path of an ONNX model file/],
      [['train', 'plain', '--data', 'photos'], 1, /plain is a folder without import\.json, not an import folder: make one with onnxtrain import <model\.onnx> --out plain/],
      [['train', 'damaged', '--data', 'photos'], 1, /damaged\/import\.json is damaged \(.*\): delete damaged and import the model again/],
      [['train', 'other', '--data', 'photos'], 1, /other\/import\.json is damaged or not an onnxtrain import \(format 'onnxtrain-import\/1'\)/],
    ];
    for (const [args, code, re] of cases) {
      const r = cliIn(dir, ...args);
      assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.ok(!existsSync(join(dir, 'models')), 'a refused import writes nothing');
    assert.deepEqual(readdirSync(join(dir, 'foreign')), ['notes.txt']);
    assert.equal(readFileSync(join(dir, 'foreign', 'notes.txt'), 'utf8'), 'mine');
    assert.deepEqual(readdirSync(dir).sort(), ['damaged', 'foreign', 'other', 'photos', 'plain', 's2d.onnx']);

    // --classes with --data: auto is accepted, anything else keeps its error.
    const imported = cliIn(dir, 'import', lenet, '--out', 'lenet');
    assert.equal(imported.status, 0, imported.stderr);
    for (const model of ['lenet', lenet]) {
      const r = cliIn(dir, 'train', model, '--data', 'photos', '--classes', '0,1');
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--classes selects classes of a built-in dataset: with --data, keep only the class folders you want/);
    }
    const noData = cliIn(dir, 'train', 'lenet');
    assert.equal(noData.status, 2, noData.stderr);
    assert.match(noData.stderr, /give its images with --data <folder>/);
    const auto = cliIn(dir, 'train', 'lenet', '--data', 'photos', '--classes', 'auto');
    assert.equal(auto.status, 1, auto.stderr);
    assert.match(auto.stderr, /has 1 class subfolder/, '--classes auto passes; the one-class folder is what stops it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
