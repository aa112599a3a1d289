import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { signature } from '../../src/program/signature.js';
import { buildModelDef } from '../../src/models/registry.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { resolveSettings, resumeSettings } from '../../src/train/resolve_settings.js';
import { evaluateRun } from '../../src/train/evaluate.js';
import { train } from '../../src/train/run.js';
import { applyInitWeights, expandFrozen, headNames, loadInitWeights } from '../../src/train/transfer.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-transfer-'));
const quiet = { log: () => {}, progress: null };
const bytes = (t: { data: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number } }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const params = (model: 'basic-cnn' | 'simple-mlp', numClasses = 10) => signature({ def: buildModelDef(model, { numClasses }), optimizer: defaultOptimizerSettings('adam') }).all;

test('basic-cnn on Fashion-MNIST -> 5-class subset with features frozen: frozen weights unchanged, 5-output head, above chance', { skip: noData }, async () => {
  const source = join(tmp(), 'source');
  await train({ ...(await resolveSettings({ model: 'basic-cnn', epochs: 1, limit: 3000, ...quiet })), out: source });

  const tuned = join(tmp(), 'tuned');
  const r = spawnSync(process.execPath, [CLI, 'train', 'basic-cnn', '--init', source, '--freeze', 'features', '--classes', '0,1,2,3,4',
    '--epochs', '2', '--limit', '3000', '--out', tuned], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Initial weights from .*source: \d+ tensors loaded, new head classifier\.3\.weight, classifier\.3\.bias \(5 classes\); frozen: features\.0\.weight, features\.0\.bias, features\.3\.weight, features\.3\.bias/);

  const [before, after] = await Promise.all([loadCheckpoint(join(source, 'best.safetensors')), loadCheckpoint(join(tuned, 'last.safetensors'))]);
  for (const name of ['features.0.weight', 'features.0.bias', 'features.3.weight', 'features.3.bias']) {
    assert.deepEqual(bytes(after.weights.get(name)!), bytes(before.weights.get(name)!), `${name} changed although frozen`);
    assert.ok(![...after.optimizerState.keys()].some((k) => k.startsWith(name)), `${name} has optimizer state`);
  }
  assert.notDeepEqual(bytes(after.weights.get('classifier.1.weight')!), bytes(before.weights.get('classifier.1.weight')!), 'the unfrozen layer did not train');
  assert.deepEqual(after.weights.get('classifier.3.weight')!.dims, [5, 128]);
  assert.deepEqual(after.weights.get('classifier.3.bias')!.dims, [5]);

  const cfg = JSON.parse(readFileSync(join(tuned, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.classNames, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat']);
  assert.deepEqual(cfg.classes, [0, 1, 2, 3, 4]);
  assert.equal(cfg.options.numClasses, 5);
  assert.deepEqual(cfg.frozen, ['features']);

  const session = await ort.InferenceSession.create(readFileSync(join(tuned, 'model.onnx')));
  const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(2 * 784), [2, 1, 28, 28]) });
  assert.deepEqual(out.logits.dims, [2, 5]);
  await session.release();

  // Chance on five balanced classes is 20%.
  const results = JSON.parse(readFileSync(join(tuned, 'results.json'), 'utf8'));
  assert.ok(results.test.acc > 0.5, `fine-tuned test accuracy ${results.test.acc} on the 5-class subset`);
  assert.equal(results.test.n, 500, 'the test set is the first 3000/6 images of the subset');

  // The evaluate command tests it on the subset's test images, relabelled as in training.
  const ev = await evaluateRun({ run: tuned });
  assert.deepEqual(ev.perClass.map((p) => p.className), cfg.classNames);
  assert.equal(ev.confusion.flat().reduce((x, y) => x + y, 0), 5000);
  assert.ok(ev.accuracy > 0.5, `evaluate: ${ev.accuracy}`);

  // model.onnx carries the same weights as the checkpoint: it works as --init too.
  const fromOnnx = await loadInitWeights(join(source, 'model.onnx'));
  const last = await loadCheckpoint(join(source, 'last.safetensors'));
  for (const [k, t] of last.weights) assert.deepEqual(bytes(fromOnnx.get(k)!), bytes(t), `${k} differs between model.onnx and last.safetensors`);
});

test('transfer settings: prefixes expand to parameter names; mismatches fail with a clear message', () => {
  const cnn = params('basic-cnn');
  assert.deepEqual(expandFrozen(cnn, ['features'], 'basic-cnn'), ['features.0.weight', 'features.0.bias', 'features.3.weight', 'features.3.bias']);
  assert.deepEqual(expandFrozen(cnn, ['classifier.1.weight'], 'basic-cnn'), ['classifier.1.weight']);
  assert.throws(() => expandFrozen(cnn, ['feature'], 'basic-cnn'), /--freeze feature matches no parameter of basic-cnn: use a state_dict name or prefix such as features or classifier/);
  assert.deepEqual(headNames(cnn), ['classifier.3.weight', 'classifier.3.bias']);

  const fresh = () => new Map(cnn.map((p) => [p.name, { dtype: 'float32' as const, dims: p.shape, data: new Float32Array(p.shape.reduce((a, b) => a * b, 1)) }]));
  const init = new Map(params('basic-cnn', 5).map((p) => [p.name, { dtype: 'float32' as const, dims: p.shape, data: new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(0.5) }]));
  const w = fresh();
  const rep = applyInitWeights(w, init, cnn, 'basic-cnn');
  assert.deepEqual(rep.replaced, ['classifier.3.weight', 'classifier.3.bias']);
  assert.equal(rep.loaded.length, cnn.length - 2);
  assert.equal(w.get('features.0.weight')!.data[0], 0.5);
  assert.equal(w.get('classifier.3.weight')!.data[0], 0);

  const badBody = new Map(init);
  badBody.set('classifier.1.weight', { dtype: 'float32', dims: [128, 10], data: new Float32Array(1280) });
  assert.throws(() => applyInitWeights(fresh(), badBody, cnn, 'basic-cnn'), /initial weight 'classifier\.1\.weight' has shape \[128,10\], basic-cnn needs \[128,1568\]/);
  const mlp = new Map(params('simple-mlp').map((p) => [p.name, { dtype: 'float32' as const, dims: p.shape, data: new Float32Array(p.shape.reduce((a, b) => a * b, 1)) }]));
  assert.throws(() => applyInitWeights(fresh(), mlp, cnn, 'basic-cnn'), /share no parameter name with basic-cnn/);
});

test('transfer CLI input errors: one line each', () => {
  for (const [args, re] of [
    [['train', 'basic-cnn', '--init', '/nonexistent/run'], /--init \/nonexistent\/run does not exist/],
    [['train', 'basic-cnn', '--classes', '0,x'], /--classes must list at least two distinct class indices in 0\.\.9, comma-separated \(e\.g\. 0,1,2,3,4\), got 0,x$/m],
    [['train', 'basic-cnn', '--classes', '3', '--limit', '600', '--out', join(tmp(), 'c')], /--classes must list at least two distinct class indices in 0\.\.9/],
  ] as [string[], RegExp][]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
