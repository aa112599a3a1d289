/** Checkpoints and --init sources that are of another model, non-finite, folders, FIFOs or truncated. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allFinite, firstNonFinite, loadCheckpoint, saveCheckpoint } from '../../src/artifacts/checkpoint.js';
import { tensor } from '../../src/graph/tensor.js';
import { loadInitWeights } from '../../src/train/transfer.js';
import { assertRefused, cli, copyOfRun, noData, oneLine, scratch } from './helpers.js';

const META = { model: 'simple-mlp', epoch: 1, step: 10 };
const weights = (w: number) => new Map([['layers.0.weight', tensor('float32', [2, 2], [1, 2, w, 4])], ['n', tensor('int64', [], [3])]]);

test('allFinite / firstNonFinite find NaN and ±Infinity in float weights only', () => {
  assert.equal(allFinite(weights(3)), true);
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.equal(allFinite(weights(bad)), false);
    assert.equal(firstNonFinite(weights(bad)), 'layers.0.weight');
  }
});

test('a NaN checkpoint loads by default and is refused, naming the tensor, when the caller asks for finite weights', async () => {
  const path = join(scratch(), 'last.safetensors');
  await saveCheckpoint(path, { weights: weights(NaN), optimizerState: new Map(), meta: META });
  assert.equal(allFinite((await loadCheckpoint(path)).weights), false);
  await assert.rejects(loadCheckpoint(path, { finite: true }),
    oneLine(/last\.safetensors holds NaN or infinite weights \('layers\.0\.weight'\): it is not a usable checkpoint; use the run's best\.safetensors, or train again with a lower --lr$/));
});

test('a checkpoint of another model names the model it is from', async () => {
  const path = join(scratch(), 'last.safetensors');
  await saveCheckpoint(path, { weights: weights(3), optimizerState: new Map(), meta: META });
  assert.equal((await loadCheckpoint(path, { model: 'simple-mlp' })).meta.model, 'simple-mlp');
  await assert.rejects(loadCheckpoint(path, { model: 'basic-cnn' }), oneLine(/last\.safetensors is a checkpoint of simple-mlp, not basic-cnn: use a checkpoint of basic-cnn, or pass it with --init/));
});

test('a folder or a FIFO where a checkpoint file is expected: one line, no EISDIR, no hang', async () => {
  const dir = scratch();
  mkdirSync(join(dir, 'last.safetensors'));
  await assert.rejects(loadCheckpoint(join(dir, 'last.safetensors')), oneLine(/^checkpoint .*last\.safetensors is a folder, not a file: check the path/));
  execFileSync('mkfifo', [join(dir, 'best.safetensors')]);
  await assert.rejects(loadCheckpoint(join(dir, 'best.safetensors')), oneLine(/^checkpoint .*best\.safetensors is a FIFO \(named pipe\), not a file: check the path/));
  await assert.rejects(loadInitWeights(join(dir, 'best.safetensors')), oneLine(/^--init .*best\.safetensors is a FIFO \(named pipe\), not a file: pass a run folder/));
  await assert.rejects(loadCheckpoint(join(dir, 'none.safetensors')), oneLine(/^checkpoint .*none\.safetensors not found: check the path/));
});

test('--resume of a run whose last.safetensors is a folder or a FIFO: one line, no hang', { skip: noData }, () => {
  const run = copyOfRun();
  const last = join(run, 'last.safetensors');
  rmSync(last);
  mkdirSync(last);
  assertRefused(cli(['train', '--resume', run, '--epochs', '2']), /^onnxtrain: checkpoint .*last\.safetensors is a folder, not a file: check the path/);
  rmSync(last, { recursive: true });
  execFileSync('mkfifo', [last]);
  assertRefused(cli(['train', '--resume', run, '--epochs', '2']), /^onnxtrain: checkpoint .*last\.safetensors is a FIFO \(named pipe\), not a file/);
});

test('--init of a truncated model.onnx says so instead of "index out of range"', { skip: noData }, () => {
  const run = copyOfRun();
  const model = readFileSync(join(run, 'model.onnx'));
  for (const keep of [0.5, 0.9, 0.999]) {
    const cut = join(run, `cut${keep}.onnx`);
    writeFileSync(cut, model.subarray(0, Math.floor(model.length * keep)));
    assertRefused(cli(['train', 'simple-mlp', '--init', cut, '--limit', '600', '--epochs', '1', '--out', join(scratch(), 'o')]),
      /^onnxtrain: --init .*\.onnx is not a readable ONNX model \(.*; truncated or damaged\?\): export it again, or pass the run folder or a \.safetensors checkpoint$/);
  }
});

test('--init from another model names the model the weights are from', { skip: noData }, () => {
  const run = copyOfRun();
  for (const source of [run, join(run, 'model.onnx')]) {
    assertRefused(cli(['train', 'basic-cnn', '--init', source, '--limit', '600', '--epochs', '1', '--out', join(scratch(), 'o')]),
      /^onnxtrain: the initial weights \(from a simple-mlp model\) share no parameter name with basic-cnn/);
  }
});
