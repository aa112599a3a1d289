/** The run folder is never overwritten or mixed; every training input is checked; signals save the run. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeModel } from '../../src/onnx/model.js';
import { LOCK_FILE } from '../../src/util/lock.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-runfolder-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const oneLine = (stderr: string) => assert.equal(stderr.trim().split('\n').length, 1, stderr);

test('two trainings into the same --out: the second is refused at once and the run stays whole', { skip: noData }, async () => {
  const out = join(tmp(), 'x');
  const first = spawn(process.execPath, [CLI, 'train', 'basic-cnn', '--limit', '3000', '--epochs', '2', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve) => first.stdout.on('data', (d: Buffer) => /Training basic-cnn/.test(String(d)) && resolve()));
  const second = cli('train', 'simple-mlp', '--limit', '3000', '--epochs', '1', '--out', out);
  assert.equal(second.status, 1);
  assert.match(second.stderr, /is in use by another onnxtrain process \(PID \d+, train since .*\): wait for it to finish, or pass another folder/);
  oneLine(second.stderr);
  assert.equal(await new Promise((r) => first.once('exit', r)), 0);
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.model, 'basic-cnn');
  assert.equal(decodeModel(readFileSync(join(out, 'model.onnx'))).metadata.model, 'basic-cnn');
  assert.ok(!existsSync(join(out, LOCK_FILE)), 'the lock is released');
});

test('a stale lock (its process is gone) is taken over', { skip: noData }, () => {
  const out = join(tmp(), 'stale');
  mkdirSync(out);
  writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, what: 'train', since: 'yesterday' }));
  const r = cli('train', 'simple-mlp', '--limit', '600', '--epochs', '1', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(out, 'model.onnx')));
});

test('--out into a folder that holds something else is refused and nothing in it changes', () => {
  const out = join(tmp(), 'mine');
  mkdirSync(out);
  writeFileSync(join(out, 'config.json'), '{"mine": true}');
  writeFileSync(join(out, 'precious.txt'), 'keep me');
  const r = cli('train', 'simple-mlp', '--limit', '600', '--epochs', '1', '--out', out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /mine is not empty and holds no onnxtrain run \(config\.json, precious\.txt\): pass a new or empty folder with --out/);
  oneLine(r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'precious.txt']);
  assert.equal(readFileSync(join(out, 'config.json'), 'utf8'), '{"mine": true}');
});

test('validation is the reference share of the images used unless --val-size is given; too few to train is refused', { skip: noData }, () => {
  const classes = cli('train', 'simple-mlp', '--classes', '0,1', '--epochs', '1', '--out', join(tmp(), 'c'));
  assert.equal(classes.status, 0, classes.stderr);
  assert.match(classes.stdout, /Validation: 2000 of the 12000 images \(one in 6, as the reference 10k of 60k; --val-size sets it\)/);
  assert.match(classes.stdout, /10000 train \/ 2000 validation/);
  const big = cli('train', 'simple-mlp', '--limit', '100000', '--epochs', '1', '--val-size', '59990', '--out', join(tmp(), 'b'));
  assert.equal(big.status, 1);
  assert.match(big.stderr, /only 10 training images are left after 59990 for validation, fewer than one batch of 64/);
  const none = cli('train', 'simple-mlp', '--limit', '2000', '--val-size', '70000', '--out', join(tmp(), 'n'));
  assert.match(none.stderr, /--val-size 70000 leaves no training images of the 2000 used: give a smaller --val-size/);
  oneLine(none.stderr);
});

test('--val-size 0 trains without validation (best = last) and refuses early stopping', { skip: noData }, () => {
  const out = join(tmp(), 'noval');
  const r = cli('train', 'simple-mlp', '--limit', '1200', '--epochs', '2', '--val-size', '0', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /No validation images \(--val-size 0\): best = last, and no early stopping/);
  assert.deepEqual(readFileSync(join(out, 'best.safetensors')), readFileSync(join(out, 'last.safetensors')));
  const es = cli('train', 'simple-mlp', '--limit', '1200', '--val-size', '0', '--early-stopping', '2', '--out', join(tmp(), 'es'));
  assert.match(es.stderr, /--early-stopping needs validation images/);
});

test('SIGTERM saves the run like Ctrl-C and exits 143; a run stopped before its first checkpoint says how to start again', { skip: noData }, async () => {
  const out = join(tmp(), 'term');
  const child = spawn(process.execPath, [CLI, 'train', 'simple-mlp', '--epochs', '3', '--chunk-steps', '20', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => /Training simple-mlp/.test(String(d)) && resolve()));
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGTERM');
  assert.equal(await new Promise((r) => child.once('exit', r)), 143, stderr);
  assert.match(stderr, /interrupted: saved .*last\.safetensors; continue with --resume/);

  const early = join(tmp(), 'early');
  mkdirSync(early);
  writeFileSync(join(early, 'config.json'), JSON.stringify({ format: 'onnxtrain-run/1', model: 'simple-mlp', dataset: 'fashion-mnist', classNames: ['a', 'b'] }));
  const resume = cli('train', '--resume', early);
  assert.match(resume.stderr, /has no checkpoint yet \(it stopped before its first epoch ended\): start it again with the same train command and --out/);
  const evaluate = cli('evaluate', early);
  assert.match(evaluate.stderr, /it stopped before its first epoch ended: start it again with the same train command and --out/);
  const again = cli('train', 'simple-mlp', '--limit', '600', '--epochs', '1', '--out', early);
  assert.equal(again.status, 0, again.stderr);
});

test('--resume refuses options that only a new run can change', () => {
  const r = cli('train', '--resume', join(tmp(), 'any'), '--lr', '0.1');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--resume continues .* with its own settings: drop --lr \(only --epochs, --early-stopping, --device, --threads, --spinning and --data-dir may change\)/);
});

test('the library applies the same architecture rule as the CLI, and checks optimizer-state shapes', async () => {
  const { buildModelDef } = await import('../../src/models/registry.js');
  assert.throws(() => buildModelDef('simple-mlp', { kernel: 5 }), /simple-mlp: the kernel option applies to CNNs only/);
  assert.throws(() => buildModelDef('medium-mlp', { pooling: 'avg' }), /the pooling option applies to CNNs only/);
  assert.doesNotThrow(() => buildModelDef('simple-mlp', { activation: 'tanh', dropout: 0.2 }));
  const { compile } = await import('../../src/train/program.js');
  const p = await compile(buildModelDef('simple-mlp'));
  const state = p.optimizerState();
  state.set('layers.0.weight.exp_avg', { dtype: 'float32', dims: [10, 10], data: new Float32Array(100) });
  assert.throws(() => p.load(p.weights(), state), /optimizer state 'layers\.0\.weight\.exp_avg' has shape \[10,10\], the model needs \[256,784\]/);
  await p.release();
});
