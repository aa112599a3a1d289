/**
 * scripts/parity.ts on a 1200-image subset for one epoch: onnxtrain's trainer and PyTorch start from the
 * same weights and batches, so their step losses agree to float32 rounding and the trainer's epoch-1
 * running loss equals PyTorch's (this checks the trainer's own batch order, not only the exported one).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultParitySettings, parity, parseParityArgs, PYTHON } from '../../scripts/parity.js';

const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const noTorch = probe.status === 0 ? false : `${PYTHON} cannot import torch`;

describe('parity with PyTorch', { skip: noTorch }, () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('simple-mlp: same step losses, epoch metrics and test accuracy', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-parity-'));
    const r = await parity({ ...defaultParitySettings('simple-mlp'), seed: 3, epochs: 1, limit: 1200, compareSteps: 12, torchThreads: 1, out: dir, log: () => {} });
    assert.deepEqual(r.split, { train: 1000, val: 200, test: 200 });
    assert.equal(r.ours.stepLosses.length, 12);
    assert.equal(r.torch.stepLosses.length, 12);
    assert.ok(r.maxStepLossDiff < 1e-5, `step losses differ by ${r.maxStepLossDiff}`);
    const [o, t] = [r.ours.history[0], r.torch.history[0]];
    assert.ok(Math.abs(o.trainLoss - t.trainLoss) < 1e-4, `epoch-1 train loss ${o.trainLoss} vs ${t.trainLoss}`);
    assert.ok(Math.abs(o.valLoss - t.valLoss) < 1e-4, `val loss ${o.valLoss} vs ${t.valLoss}`);
    assert.ok(Math.abs(r.ours.test.acc - r.torch.test.acc) <= 1 / 200, `test accuracy ${r.ours.test.acc} vs ${r.torch.test.acc}`);
  });

  it('rejects bad arguments with a one-line error', () => {
    assert.throws(() => parseParityArgs(['resnet']), /give one model: .*simple-mlp/);
    assert.throws(() => parseParityArgs(['simple-mlp', '--epochs', '0']), /--epochs must be an integer >= 1, got '0'/);
  });
});
