/** SoftmaxCrossEntropyLoss with class weights and ignore_index against torch's F.cross_entropy, in float64. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runGradients } from '../helpers/gradcheck.js';

const PYTHON = '/usr/bin/python3';
const TORCH = `
import json, sys, torch, torch.nn.functional as F
c = json.loads(sys.stdin.read())
x = torch.tensor(c['x'], dtype=torch.float64).reshape(c['dims']).requires_grad_()
y = torch.tensor(c['labels']).reshape([c['dims'][0]] + c['dims'][2:])
w = torch.tensor(c['w'], dtype=torch.float64) if c['w'] else None
loss = F.cross_entropy(x, y, weight=w, ignore_index=c['ignore'], reduction=c['reduction'])
(loss * torch.tensor(c['r'], dtype=torch.float64).reshape(loss.shape)).sum().backward()
print(json.dumps({'loss': loss.detach().reshape(-1).tolist(), 'grad': x.grad.reshape(-1).tolist()}))
`;

const torchHere = () => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

const cases = [
  { dims: [5, 4], labels: [3, -100, 0, 3, 1], w: [0.5, 2, 1.25, 0.75], ignore: -100 },
  { dims: [5, 4], labels: [3, 2, 0, 2, 1], w: null, ignore: 2 },
  { dims: [2, 3, 2, 3], labels: [0, 2, 1, 7, 7, 1, 2, 0, 1, 1, 2, 0], w: [0.5, 2, 1.25], ignore: 7 },
];

for (const reduction of ['mean', 'sum', 'none']) {
  test(`SoftmaxCrossEntropyLoss (${reduction}, weights, ignore_index) matches F.cross_entropy`, async (t) => {
    if (!torchHere()) return t.skip('needs /usr/bin/python3 with torch');
    for (const c of cases) {
      const run = await runGradients({
        inputs: {
          x: { dims: c.dims },
          labels: { dims: [c.dims[0], ...c.dims.slice(2)], values: c.labels, dtype: 'int64' },
          ...(c.w ? { w: { dims: [c.w.length], values: c.w, constant: true } } : {}),
        },
        build: (b, x) => b.op1('SoftmaxCrossEntropyLoss', [x.x, x.labels, ...(c.w ? [x.w] : [])], { reduction, ignore_index: c.ignore }),
      });
      const py = spawnSync(PYTHON, ['-c', TORCH], { input: JSON.stringify({ ...c, x: run.inputs.x, reduction, r: run.weights }), encoding: 'utf8' });
      assert.equal(py.status, 0, py.stderr);
      const want = JSON.parse(py.stdout) as { loss: number[]; grad: number[] };
      want.loss.forEach((l, i) => assert.ok(Math.abs(run.output[i] - l) < 1e-12, `loss[${i}] ${run.output[i]} vs torch ${l}`));
      want.grad.forEach((g, i) => assert.ok(Math.abs(run.grads.x[i] - g) < 1e-12, `dX[${i}] ${run.grads.x[i]} vs torch ${g} (${JSON.stringify(c.dims)})`));
    }
  });
}
