import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float } from '../../src/graph/ir.js';
import { gradcheck, runGradients } from '../helpers/gradcheck.js';

// Every op here has a double kernel in onnxruntime's CPU provider: float64 throughout.
const unary = (op: string, attrs = {}) => (b: import('../../src/graph/builder.js').GraphBuilder, x: Record<string, string>) => b.op1(op, [x.x], attrs);
const positive = (n: number) => Array.from({ length: n }, (_, i) => 0.3 + 0.11 * ((i * 7) % n));

for (const op of ['Neg', 'Identity', 'Sigmoid', 'Tanh', 'Exp', 'Relu']) {
  test(`${op}: gradient matches central differences`, async () => {
    await gradcheck({ inputs: { x: { dims: [3, 4] } }, build: unary(op) });
  });
}
for (const op of ['Log', 'Sqrt', 'Reciprocal']) {
  test(`${op}: gradient matches central differences on positive inputs`, async () => {
    await gradcheck({ inputs: { x: { dims: [3, 4], values: positive(12) } }, build: unary(op) });
  });
}

test('LeakyRelu (alpha 0.2): gradient matches central differences', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 5] } }, build: unary('LeakyRelu', { alpha: float(0.2) }) });
});

test('Relu and LeakyRelu at exactly 0 follow PyTorch: dX = 0 (Relu) and alpha dY (LeakyRelu)', async () => {
  const x = [0, -1, 2, 0, 0.5, -0.5];
  const relu = await runGradients({ inputs: { x: { dims: [6], values: x } }, build: unary('Relu') });
  // g + 0: the masked product gives -0 where dY < 0, which is 0.
  assert.deepEqual(relu.grads.x.map((g) => g + 0), x.map((v, i) => (v > 0 ? relu.weights[i] : 0)));
  const leaky = await runGradients({ inputs: { x: { dims: [6], values: x } }, build: unary('LeakyRelu', { alpha: float(0.1) }) });
  leaky.grads.x.forEach((g, i) => assert.ok(Math.abs(g - (x[i] > 0 ? 1 : 0.1) * leaky.weights[i]) < 1e-15, `element ${i}`));
});

const broadcastCases: [string, number[], number[]][] = [
  ['same shape', [2, 3], [2, 3]],
  ['row vector', [2, 3], [3]],
  ['column', [2, 3], [2, 1]],
  ['scalar', [2, 3], []],
  ['both stretched', [2, 1, 4], [3, 1]],
];
for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
  for (const [label, da, db] of broadcastCases) {
    test(`${op} with broadcasting (${label}: [${da}] and [${db}])`, async () => {
      const n = db.reduce((p, q) => p * q, 1);
      await gradcheck({
        inputs: { a: { dims: da }, b: { dims: db, values: op === 'Div' ? positive(n) : undefined } },
        build: (b, x) => b.op1(op, [x.a, x.b]),
      });
    });
  }
}

test('Sum of three inputs with broadcasting', async () => {
  await gradcheck({ inputs: { a: { dims: [2, 3] }, b: { dims: [3] }, c: { dims: [2, 1] } }, build: (b, x) => b.op1('Sum', [x.a, x.b, x.c]) });
});

test('Where: gradient flows to the chosen branch only, both broadcast', async () => {
  const cond = [1, 0, 1, 1, 0, 0];
  const run = await gradcheck({
    inputs: { c: { dims: [2, 3], values: cond, dtype: 'bool' }, a: { dims: [2, 3] }, b: { dims: [3] } },
    build: (b, x) => b.op1('Where', [x.c, x.a, x.b]),
  });
  run.grads.a.forEach((g, i) => assert.equal(g, cond[i] ? run.weights[i] : 0));
});

test('Cast float32 -> float64 -> loss: gradient comes back as float32', async () => {
  const run = await gradcheck({
    dtype: 'float64',
    inputs: { x: { dims: [4], dtype: 'float32', wrt: true, values: [0.5, -1, 2, 0.25] } },
    build: (b, x) => b.op1('Cast', [x.x], { to: 11 }),
    eps: 1e-2, atol: 1e-5,
  });
  assert.equal(run.grads.x.length, 4);
  run.grads.x.forEach((g, i) => assert.ok(Math.abs(g - run.weights[i]) < 1e-6));
});
