import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import yargs from 'yargs';
import { importModelFolder } from '../../src/artifacts/import_folder.js';
import { trainArgsToSettings, trainOptions, type TrainArgs } from '../../src/cli/commands/train.js';
import { UsageError } from '../../src/cli/parse.js';
import { TRAINING_DEFAULTS } from '../../src/program/defaults.js';
import { resolveSettings } from '../../src/train/resolve_settings.js';
import { IMPORT_FIXTURES } from '../import/helpers.js';

/** Parse a train command line into its typed arguments without running anything. */
async function parse(...argv: string[]): Promise<TrainArgs> {
  const a = await yargs(['train', ...argv]).command('train [model]', 'train', trainOptions).strict()
    .parserConfiguration({ 'camel-case-expansion': true }).exitProcess(false).fail((msg, err) => { throw err ?? new Error(msg); }).parseAsync();
  return a as unknown as TrainArgs;
}

const fromArgs = (...argv: string[]) => parse(...argv).then(trainArgsToSettings);

test('train arguments become settings; unset options fall to the one set of defaults', async () => {
  const { settings, resume } = await fromArgs('basic-cnn', '--lr', '0.01', '--batch-size', '32', '--kernel', '5', '--freeze', 'features');
  assert.equal(resume, undefined);
  assert.equal(settings.model, 'basic-cnn');
  assert.equal(settings.optimizer?.lr, 0.01);
  assert.equal(settings.batchSize, 32);
  assert.deepEqual(settings.options, { kernel: 5 });
  assert.deepEqual(settings.frozen, ['features']);
  const s = resolveSettings({ ...settings, model: 'basic-cnn' });
  assert.equal(s.valSize, undefined, 'the reference share of the images used (data/prepare.ts validationRule)');
  assert.equal(s.chunkSteps, TRAINING_DEFAULTS.chunkSteps);
  assert.equal(s.epochs, 20);
  assert.equal(resolveSettings({ model: 'cifar10-cnn' }).epochs, 10);
  assert.equal(resolveSettings({ model: 'simple-mlp' }).batchSize, 64);
});

test('bad values are usage errors that quote what was typed', async () => {
  const cases: [string[], RegExp][] = [
    [['simple-mlp', '--lr', 'abc'], /--lr must be a positive number, got abc$/],
    [['simple-mlp', '--classes', '0,1,,2'], /--classes .* got 0,1,,2$/],
    [['simple-mlp', '--classes', ''], /--classes .* got ''$/],
    [['simple-mlp', '--classes', '0,0'], /at least two distinct/],
    [['simple-mlp', '--classes', '3,10'], /in 0\.\.9/],
    [['simple-mlp', '--classes', 'auto'], /--classes auto goes with --data <image folder>/],
    [['simple-mlp', '--limit', '1'], /--limit must be an integer >= 2, got 1/],
    [['simple-mlp', '--seed', '-1'], /--seed must be a non-negative integer, got -1/],
    [['simple-mlp', '--val-size', '1.5'], /--val-size must be a non-negative integer, got 1\.5/],
    [['simple-mlp', '--epochs', '0'], /--epochs must be a positive integer, got 0/],
    [['simple-mlp', '--kernel', '5'], /--kernel applies to CNNs only: simple-mlp has no convolutions/],
    [['simple-mlp', '--pooling', 'avg'], /--pooling applies to CNNs only/],
    [['basic-cnn', '--kernel', '4'], /--kernel must be 3, 5 or 7, got 4/],
    [['tiny-net'], /unknown model 'tiny-net'/],
    [[], /name a model to train/],
    [['--resume', 'runs/x', '--lr', '0.1'], /--resume continues runs\/x with its own settings: drop --lr/],
    [['simple-mlp', '--resume', 'runs/x'], /drop the model 'simple-mlp'/],
    [['basic-cnn', '--fit', 'crop'], /--fit frames the images of a --data folder; basic-cnn trains on its own dataset's images as they are: drop --fit, or give --data <folder>$/],
    [['--resume', 'runs/x', '--fit', 'stretch'], /drop --fit/],
  ];
  for (const [argv, re] of cases) {
    await assert.rejects(fromArgs(...argv), (e: Error) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  }
});

test('--fit goes with --data; unset, the folder loader chooses (crop)', async () => {
  assert.equal((await fromArgs('basic-cnn', '--data', 'photos', '--fit', 'object')).settings.fit, 'object');
  assert.equal((await fromArgs('basic-cnn', '--data', 'photos')).settings.fit, undefined);
  await assert.rejects(fromArgs('basic-cnn', '--data', 'photos', '--fit', 'squash'), /fit/);
});

test('--resume takes only what may change', async () => {
  const { settings, resume } = await fromArgs('--resume', 'runs/x', '--epochs', '30', '--early-stopping', '3', '--threads', '1');
  assert.equal(resume, 'runs/x');
  assert.deepEqual(Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)), { epochs: 30, earlyStopping: 3, threads: 1 });
});

test('--classes auto goes with --data: the head follows the folder; other --classes values are refused there', async () => {
  const { settings } = await fromArgs('basic-cnn', '--data', 'photos', '--classes', 'auto');
  assert.equal(settings.dataFolder, 'photos');
  assert.equal(settings.classes, undefined);
  await assert.rejects(fromArgs('basic-cnn', '--data', 'photos', '--classes', '0,1'), (e: Error) => e instanceof UsageError && /--classes selects classes of a built-in dataset/.test(e.message));
});

test('train <import folder>: its model.onnx with the recorded input shape and normalisation as defaults; flags override', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-train-args-'));
  try {
    const folder = join(dir, 'lenet');
    await importModelFolder({ source: join(IMPORT_FIXTURES, 'lenet5.onnx'), outDir: folder, name: 'lenet' });
    const { settings } = await fromArgs(folder, '--data', 'photos');
    assert.deepEqual([settings.model, settings.modelFile, settings.importFolder, settings.input, settings.normalize], ['lenet', join(folder, 'model.onnx'), folder, [1, 28, 28], 'auto']);
    const given = (await fromArgs(folder, '--data', 'photos', '--input', '1,32,32', '--normalize', 'imagenet')).settings;
    assert.deepEqual([given.input, given.normalize], [[1, 32, 32], 'imagenet']);
    await assert.rejects(fromArgs(folder, '--data', 'photos', '--kernel', '5'), (e: Error) => e instanceof UsageError && /drop --kernel/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
