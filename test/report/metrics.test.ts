import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatEpochLine, metricsCsv, parseMetricsCsv, readMetrics, readMetricsCsv, writeMetrics,
} from '../../src/report/metrics.js';
import type { EpochMetrics } from '../../src/report/metrics.js';

test('formatEpochLine gives the reference notebook line exactly', () => {
  const m: EpochMetrics = { epoch: 3, trainLoss: 0.30123, trainAcc: 0.891, valLoss: 0.33, valAcc: 0.882, seconds: 12.5 };
  assert.equal(
    formatEpochLine(m, 20),
    'Epoch 3/20: Train Loss: 0.3012, Train Acc: 89.10% | Val Loss: 0.3300, Val Acc: 88.20%',
  );
  const last: EpochMetrics = { epoch: 20, trainLoss: 0.123456, trainAcc: 44562 / 50000, valLoss: 0.0000499, valAcc: 1, seconds: 1 };
  assert.equal(
    formatEpochLine(last, 20),
    'Epoch 20/20: Train Loss: 0.1235, Train Acc: 89.12% | Val Loss: 0.0000, Val Acc: 100.00%',
  );
  assert.equal(
    formatEpochLine({ ...m, trainLoss: NaN }, 20),
    'Epoch 3/20: Train Loss: nan, Train Acc: 89.10% | Val Loss: 0.3300, Val Acc: 88.20%',
  );
});

function sampleHistory(): EpochMetrics[] {
  return [
    { epoch: 1, trainLoss: 0.5123456789012345, trainAcc: 0.81234, valLoss: 0.41, valAcc: 0.85, seconds: 10.25, lr: 0.001 },
    { epoch: 2, trainLoss: 0.1 + 0.2, trainAcc: 1 / 3, valLoss: NaN, valAcc: 0.87, seconds: 9.75, lr: 1e-4 },
    { epoch: 3, trainLoss: 0.25, trainAcc: 0.9, valLoss: 0.3, valAcc: 0.88, seconds: 9.5 },
  ];
}

test('metrics.json and metrics.csv round-trip exactly, NaN and absent lr included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'onnxtrain-metrics-'));
  try {
    const history = sampleHistory();
    await writeMetrics(join(dir, 'run'), history);
    assert.deepEqual(await readMetrics(join(dir, 'run')), history);
    assert.deepEqual(await readMetricsCsv(join(dir, 'run')), history);

    const csv = await readFile(join(dir, 'run', 'metrics.csv'), 'utf8');
    const lines = csv.trimEnd().split('\n');
    assert.equal(lines[0], 'epoch,train_loss,train_acc,val_loss,val_acc,seconds,lr');
    assert.equal(lines[2], '2,0.30000000000000004,0.3333333333333333,NaN,0.87,9.75,0.0001');
    assert.equal(lines[3], '3,0.25,0.9,0.3,0.88,9.5,');

    const json = JSON.parse(await readFile(join(dir, 'run', 'metrics.json'), 'utf8'));
    assert.equal(json[1].valLoss, null, 'NaN is stored as null in JSON');
    assert.equal('lr' in json[2], false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseMetricsCsv follows the header order and rejects malformed rows', () => {
  const reordered = 'val_acc,epoch,train_loss,train_acc,val_loss,seconds\n0.5,1,2,0.25,1.5,3\n';
  assert.deepEqual(parseMetricsCsv(reordered), [{ epoch: 1, trainLoss: 2, trainAcc: 0.25, valLoss: 1.5, valAcc: 0.5, seconds: 3 }]);
  assert.throws(() => parseMetricsCsv('epoch,train_loss\n1,2\n'), /has no "train_acc" column/);
  assert.throws(() => parseMetricsCsv(metricsCsv(sampleHistory()) + '4,1,2\n'), /row 5 has 3 cells, the header has 7/);
  assert.throws(() => parseMetricsCsv('epoch,train_loss,train_acc,val_loss,val_acc,seconds\n1,abc,1,1,1,1\n'), /"train_loss" is not a number: "abc"/);
  assert.throws(() => parseMetricsCsv(''), /is empty/);
});

test('writeMetrics and readMetrics reject bad records with a message naming the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'onnxtrain-metrics-'));
  try {
    const bad = { ...sampleHistory()[0], epoch: 0 };
    await assert.rejects(writeMetrics(dir, [bad]), /history\[0\]: epoch must be an integer >= 1/);
    await writeFile(join(dir, 'metrics.json'), '{"epoch": 1}');
    await assert.rejects(readMetrics(dir), /metrics\.json must hold an array of epoch records/);
    await writeFile(join(dir, 'metrics.json'), '[{"epoch": 1, "trainLoss": "x"}]');
    await assert.rejects(readMetrics(dir), /metrics\.json\[0\]: trainLoss must be a number, got "x"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
