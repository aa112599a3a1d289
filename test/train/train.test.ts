import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { readMetrics } from '../../src/report/metrics.js';
import { resolveSettings, resumeSettings } from '../../src/train/resolve_settings.js';
import { Interrupted, train } from '../../src/train/run.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-train-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const quiet = { log: () => {}, progress: null };

test('train simple-mlp on real Fashion-MNIST through the CLI: epoch lines, outputs, accuracy floor', { skip: noData }, () => {
  const out = join(tmp(), 'run');
  const r = cli('train', 'simple-mlp', '--epochs', '2', '--limit', '12000', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /; cpu, \d+ threads, (spinning|no spinning: .+) -> /);
  assert.match(r.stdout, /Epoch 1\/2: Train Loss: \d+\.\d{4}, Train Acc: \d+\.\d{2}% \| Val Loss: \d+\.\d{4}, Val Acc: \d+\.\d{2}%/);
  const acc = Number(/Test Accuracy: ([\d.]+)%/.exec(r.stdout)?.[1]);
  assert.ok(acc >= 80, `test accuracy ${acc}% after 2 epochs on 10k images is below the 80% floor`);
  for (const f of ['config.json', 'metrics.json', 'metrics.csv', 'curves.png', 'summary.txt', 'model.onnx', 'last.safetensors', 'best.safetensors', 'results.json']) {
    assert.ok(existsSync(join(out, f)), `${f} missing`);
  }
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.inputShape, [1, 28, 28]);
  assert.equal(cfg.classNames.length, 10);
});

test('an interrupted run resumes bit-identical to an uninterrupted one (dropout, mid-epoch stops)', { skip: noData }, async () => {
  const base = await resolveSettings({ model: 'simple-mlp', epochs: 2, limit: 3000, options: { dropout: 0.3 }, chunkSteps: 7, ...quiet });
  const dirA = join(tmp(), 'a');
  await train({ ...base, out: dirA });

  const dirB = join(tmp(), 'b');
  await assert.rejects(train({ ...base, out: dirB, stopAfterSteps: 20 }), Interrupted);
  const mid = await loadCheckpoint<{ position: { batchesDone: number } }>(join(dirB, 'last.safetensors'));
  assert.equal(mid.meta.position.batchesDone, 20);
  const resumed = await resumeSettings(dirB, { ...quiet });
  await assert.rejects(train({ ...resumed, ...quiet, stopAfterSteps: 40 }, { dir: dirB }), Interrupted);
  await train({ ...resumed, ...quiet }, { dir: dirB });

  const [a, b] = await Promise.all([loadCheckpoint(join(dirA, 'last.safetensors')), loadCheckpoint(join(dirB, 'last.safetensors'))]);
  assert.deepEqual([...a.weights.keys()], [...b.weights.keys()]);
  for (const [k, t] of a.weights) assert.deepEqual(Buffer.from(b.weights.get(k)!.data.buffer), Buffer.from(t.data.buffer), `${k} differs`);
  for (const [k, t] of a.optimizerState) assert.deepEqual(Buffer.from(b.optimizerState.get(k)!.data.buffer), Buffer.from(t.data.buffer), `${k} differs`);
  const strip = (h: { seconds: number }[]) => h.map(({ seconds: _s, ...m }) => m);
  assert.deepEqual(strip(await readMetrics(dirB)), strip(await readMetrics(dirA)));
});

test('the single-step runner trains too and agrees with the Loop runner in loss to float tolerance', { skip: noData }, async () => {
  const base = await resolveSettings({ model: 'simple-mlp', epochs: 1, limit: 1200, ...quiet });
  const loop = await train({ ...base, out: join(tmp(), 'loop') });
  const step = await train({ ...base, out: join(tmp(), 'step'), graphKind: 'step' });
  assert.ok(Math.abs(loop.history[0].trainLoss - step.history[0].trainLoss) < 1e-4, `${loop.history[0].trainLoss} vs ${step.history[0].trainLoss}`);
  assert.ok(Math.abs(loop.history[0].valAcc - step.history[0].valAcc) < 0.01);
});

test('early stopping restores the best weights and says so', { skip: noData }, async () => {
  const lines: string[] = [];
  // lr 0.05 with Adam overshoots: validation loss stops improving almost at once.
  const s = await resolveSettings({ model: 'simple-mlp', epochs: 8, limit: 1200, earlyStopping: 1, log: (l) => lines.push(l), progress: null });
  s.optimizer = { ...s.optimizer, lr: 0.05 };
  const r = await train({ ...s, out: join(tmp(), 'es') });
  assert.equal(r.stopped, 'early-stopping');
  assert.ok(r.history.length < 8);
  assert.ok(lines.some((l) => /Early stopping: .* restoring the weights of epoch \d+/.test(l)));
});

test('a diverging run stops with a clear message and a non-zero exit', { skip: noData }, () => {
  const r = cli('train', 'simple-mlp', '--epochs', '1', '--limit', '1200', '--optimizer', 'sgd', '--lr', '1e4', '--out', join(tmp(), 'nan'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /loss became (NaN|Infinity|-Infinity) at epoch 1, step \d+: lower --lr/);
});

test('bad input: one line naming the problem, non-zero exit', () => {
  const cases: [string[], RegExp][] = [
    [['train', 'tiny-net'], /unknown model 'tiny-net': use one of simple-mlp/],
    [['train', 'basic-cnn', '--kernel', '4'], /--kernel must be 3, 5 or 7, got 4/],
    [['train', 'simple-mlp', '--lr', '-1'], /--lr must be a positive number/],
    [['train', 'simple-mlp', '--batch-size', '0'], /--batch-size must be a positive integer/],
    [['train', 'simple-mlp', '--optimizer', 'adagrad'], /optimizer/],
    [['train', '--resume', '/nonexistent/run'], /\/nonexistent\/run\/config\.json/],
    [['train'], /name a model to train/],
    [['train', 'simple-mlp', '--spinning', 'always'], /spinning.*always/],
    [['train', 'simple-mlp', '--device', 'cuda', '--out', join(tmp(), 'cuda')], /the cuda execution provider could not start .*install the CUDA binaries/],
  ];
  for (const [args, re] of cases) {
    const r = cli(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `more than one line for ${args.join(' ')}:\n${r.stderr}`);
  }
});

test('training into a folder that holds a run refuses and keeps it', { skip: noData }, async () => {
  const out = join(tmp(), 'keep');
  const s = await resolveSettings({ model: 'simple-mlp', epochs: 1, limit: 600, ...quiet });
  await train({ ...s, out });
  const before = readFileSync(join(out, 'last.safetensors'));
  await assert.rejects(train({ ...s, out }), /already holds a run: continue it with --resume/);
  assert.deepEqual(readFileSync(join(out, 'last.safetensors')), before);
});

test('Ctrl-C saves the run and exits 130; --resume finishes it', { skip: noData }, async () => {
  const { spawn } = await import('node:child_process');
  const out = join(tmp(), 'sigint');
  const child = spawn(process.execPath, [CLI, 'train', 'simple-mlp', '--epochs', '3', '--chunk-steps', '20', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => /Training simple-mlp/.test(String(d)) && resolve()));
  // The SIGINT handler is installed in the same tick as the first line; 3 full epochs take over a second.
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: saved .*last\.safetensors; continue with --resume/);
  const ck = await loadCheckpoint<{ position: unknown; epoch: number }>(join(out, 'last.safetensors'));
  assert.ok(ck.meta.position, 'the checkpoint records the position inside the epoch');
  const r = cli('train', '--resume', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Resuming .* after epoch \d+ and \d+ batches/);
  assert.equal((await readMetrics(out)).length, 3);
});
