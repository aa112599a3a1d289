/** GRU/LSTM (and the loops they could lower to) are refused at import with one line naming the op and what to do. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../../src/graph/builder.js';
import { importOnnx } from '../../src/import/index.js';
import { encodeModel } from '../../src/onnx/model.js';
import { PYTHON, torchAvailable } from './helpers.js';

const REFUSAL = /has a (LSTM|GRU) node \('.*'\): onnxtrain has no gradient for recurrent layers or loops; fine-tune it in PyTorch, or replace/;

/** Rows of a 1x8x8 image as an 8-step sequence through `op` (hidden 4), then a Linear head on the last state. */
function rowRecurrent(op: 'LSTM' | 'GRU'): Uint8Array {
  const b = new GraphBuilder('rows');
  const x = b.input('input', 'float32', ['N', 1, 8, 8]);
  const gates = op === 'LSTM' ? 4 : 3;
  const w = b.initializer('rnn.weight_ih', { dtype: 'float32', dims: [1, gates * 4, 8], data: new Float32Array(gates * 32) });
  const r = b.initializer('rnn.weight_hh', { dtype: 'float32', dims: [1, gates * 4, 4], data: new Float32Array(gates * 16) });
  const seq = b.op1('Transpose', [b.op1('Squeeze', [x, b.constant([1], 'int64')])], { perm: [1, 0, 2] });
  const [, hN] = b.op(op, [seq, w, r], { hidden_size: 4 }, { outputs: 2 });
  const head = b.initializer('fc.weight', { dtype: 'float32', dims: [4, 3], data: new Float32Array(12) });
  b.output(b.op1('MatMul', [b.op1('Squeeze', [hN, b.constant([0], 'int64')]), head]));
  return encodeModel(b.graph);
}

for (const op of ['LSTM', 'GRU'] as const) {
  test(`importOnnx refuses a ${op} with one line naming it and what to do`, () => {
    assert.throws(() => importOnnx(rowRecurrent(op)), (e: Error) => REFUSAL.test(e.message) && !e.message.includes('\n'));
  });
}

test('a GRU and an LSTM classifier exported from PyTorch are refused at import, naming the op', { timeout: 120_000 }, async (t) => {
  if (!torchAvailable()) return t.skip('needs /usr/bin/python3 with torch');
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-rnn-'));
  try {
    const script = `
import torch, torch.nn as nn
class Rows(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(28, 16, batch_first=True)
        self.fc = nn.Linear(16, 10)
    def forward(self, x):
        y, _ = self.rnn(x.flatten(1, 2))
        return self.fc(y[:, -1])
for name, cell in [('lstm', nn.LSTM), ('gru', nn.GRU)]:
    torch.onnx.export(Rows(cell), torch.zeros(2, 1, 28, 28), '${dir}/' + name + '.onnx', training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, opset_version=17, input_names=['input'], output_names=['logits'])
`;
    const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['lstm', 'gru']) {
      assert.throws(() => importOnnx(new Uint8Array(readFileSync(join(dir, `${name}.onnx`)))), (e: Error) => REFUSAL.test(e.message) && e.message.includes(name.toUpperCase()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
