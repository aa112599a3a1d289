import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { fromArrays } from '../../src/datasets.js';
import type { Tensor } from '../../src/graph/tensor.js';
import * as nn from '../../src/nn/index.js';
import { checkpoints, earlyStopping, type Callback } from '../../src/train/callbacks/index.js';
import { fit } from '../../src/train/fit.js';
import { compile } from '../../src/train/program.js';

/** 64 8x8 images of two classes (bright top or bottom half); `flip` swaps the labels. */
function data(flip = false) {
  const n = 64;
  const images = new Uint8Array(n * 64);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    labels[i] = flip ? 1 - c : c;
    for (let p = 0; p < 64; p++) images[i * 64 + p] = (p < 32) === (c === 0) ? 180 + ((i * 7 + p) % 60) : (i * 3 + p) % 40;
  }
  return fromArrays({ images, labels, shape: [1, 8, 8] });
}

const model = () => nn.sequential([nn.conv2d(1, 4, 3), nn.relu(), nn.maxPool2d(2), nn.flatten(), nn.dropout(0.2), nn.linear(64, 2)]);
const make = () => compile(model(), { input: [1, 8, 8], optimizer: { kind: 'adam', lr: 1e-2 } });
const quiet = { log: () => {} };
const same = (a: Map<string, Tensor>, b: Map<string, Tensor>) => {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, `${k} differs`);
};

test('fit calls each callback hook in order, once per event, with the chunk and epoch figures', async () => {
  const p = await make();
  const events: string[] = [];
  const rec: Callback = {
    onTrainBegin: () => void events.push('begin'),
    onEpochBegin: (_c, e) => void events.push(`epoch ${e.epoch} of ${e.total} batches`),
    onBatchEnd: (_c, b) => void events.push(`chunk ${b.done}/${b.total} (${b.losses.length} steps)`),
    onEpochEnd: (c, m) => void events.push(`end ${m.epoch} step ${c.program.step} val ${Number.isFinite(m.valLoss)}`),
    onTrainEnd: (_c, h) => void events.push(`done ${h.stopped} ${h.epochs.length}`),
  };
  const h = await fit(p, data(), { epochs: 2, batchSize: 16, chunkSteps: 3, validation: data(), callbacks: [rec], ...quiet });
  assert.deepEqual(events, [
    'begin',
    'epoch 1 of 4 batches', 'chunk 3/4 (3 steps)', 'chunk 4/4 (1 steps)', 'end 1 step 4 val true',
    'epoch 2 of 4 batches', 'chunk 3/4 (3 steps)', 'chunk 4/4 (1 steps)', 'end 2 step 8 val true',
    'done done 2',
  ]);
  assert.equal(h.state.epoch, 2);
  await p.release();
});

test('an aborted fit keeps its position; continuing from its state is bit-identical to one fit (dropout included)', async () => {
  const straight = await make();
  await fit(straight, data(), { epochs: 2, batchSize: 8, chunkSteps: 3, seed: 4, ...quiet });

  const p = await make();
  const ctl = new AbortController();
  const stopper: Callback = { onBatchEnd: (_c, b) => void (b.done >= 6 && ctl.abort()) };
  const first = await fit(p, data(), { epochs: 2, batchSize: 8, chunkSteps: 3, seed: 4, signal: ctl.signal, callbacks: [stopper], ...quiet });
  assert.equal(first.stopped, 'interrupted');
  assert.equal(first.state.position?.batchesDone, 6);
  assert.equal(first.state.epoch, 0);
  const rest = await fit(p, data(), { epochs: 2, batchSize: 8, chunkSteps: 3, initialState: first.state, ...quiet });
  assert.equal(rest.stopped, 'done');
  same(straight.weights(), p.weights());
  same(straight.optimizerState(), p.optimizerState());
  assert.equal(p.step, straight.step);
  await Promise.all([straight.release(), p.release()]);
});

test('earlyStopping stops after `patience` epochs without improvement and restores the best weights; checkpoints writes last and best', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-fit-'));
  const p = await make();
  let atEpoch1: Map<string, Tensor> | null = null;
  const snap: Callback = { onEpochEnd: (c, m) => void (m.epoch === 1 && (atEpoch1 = c.program.weights())) };
  const lines: string[] = [];
  // Validating against flipped labels: the better the model learns, the worse the validation loss.
  const h = await fit(p, data(), { epochs: 10, batchSize: 16, validation: data(true), log: (l) => lines.push(l),
    callbacks: [snap, checkpoints(dir, { meta: { model: 'test' } }), earlyStopping({ patience: 2 })] });
  assert.equal(h.stopped, 'early-stopping');
  assert.equal(h.epochs.length, 3);
  assert.match(lines.join('\n'), /Early stopping: validation loss has not improved for 2 epochs; restoring the weights of epoch 1/);
  same(atEpoch1!, p.weights());
  const best = await loadCheckpoint<{ epoch: number; model: string }>(join(dir, 'best.safetensors'));
  assert.equal(best.meta.epoch, 1);
  assert.equal(best.meta.model, 'test');
  same(best.weights, p.weights());
  assert.ok(existsSync(join(dir, 'last.safetensors')));
  assert.throws(() => earlyStopping({ patience: 0 }), /patience must be an integer >= 1/);
  await p.release();
});
