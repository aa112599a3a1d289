import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float } from '../../src/graph/ir.js';
import { gradcheck } from '../helpers/gradcheck.js';

// Gemm, MatMul, Softmax, LogSoftmax and SoftmaxCrossEntropyLoss all have double kernels: float64.
for (const transA of [0, 1]) {
  for (const transB of [0, 1]) {
    test(`Gemm transA=${transA} transB=${transB} alpha 0.7 beta 1.3 with bias broadcast over rows`, async () => {
      const [M, K, N] = [3, 4, 2];
      await gradcheck({
        inputs: { a: { dims: transA ? [K, M] : [M, K] }, b: { dims: transB ? [N, K] : [K, N] }, c: { dims: [N] } },
        build: (b, x) => b.op1('Gemm', [x.a, x.b, x.c], { transA, transB, alpha: float(0.7), beta: float(1.3) }),
      });
    });
  }
}

test('Gemm without C, and with a full [M, N] C', async () => {
  await gradcheck({ inputs: { a: { dims: [3, 4] }, b: { dims: [4, 2] } }, build: (b, x) => b.op1('Gemm', [x.a, x.b]) });
  await gradcheck({ inputs: { a: { dims: [3, 4] }, b: { dims: [2, 4] }, c: { dims: [3, 2] } }, build: (b, x) => b.op1('Gemm', [x.a, x.b, x.c], { transB: 1 }) });
});

test('MatMul 2-D', async () => {
  await gradcheck({ inputs: { a: { dims: [3, 4] }, b: { dims: [4, 5] } }, build: (b, x) => b.op1('MatMul', [x.a, x.b]) });
});

test('MatMul batched [2,3,4] @ [2,4,2]', async () => {
  await gradcheck({ inputs: { a: { dims: [2, 3, 4] }, b: { dims: [2, 4, 2] } }, build: (b, x) => b.op1('MatMul', [x.a, x.b]) });
});

test('MatMul with broadcast batch: [2,3,4] @ [4,5] and [1,3,4] @ [2,4,2]', async () => {
  await gradcheck({ inputs: { a: { dims: [2, 3, 4] }, b: { dims: [4, 5] } }, build: (b, x) => b.op1('MatMul', [x.a, x.b]) });
  await gradcheck({ inputs: { a: { dims: [1, 3, 4] }, b: { dims: [2, 4, 2] } }, build: (b, x) => b.op1('MatMul', [x.a, x.b]) });
});

for (const op of ['Softmax', 'LogSoftmax']) {
  for (const axis of [-1, 0]) {
    test(`${op} axis ${axis}`, async () => {
      await gradcheck({ inputs: { x: { dims: [3, 4] } }, build: (b, x) => b.op1(op, [x.x], { axis }) });
    });
  }
}

for (const reduction of ['mean', 'sum']) {
  test(`SoftmaxCrossEntropyLoss (${reduction}) with and without the log-prob output`, async () => {
    const labels = { dims: [4], values: [2, 0, 1, 2], dtype: 'int64' as const };
    await gradcheck({
      inputs: { x: { dims: [4, 3] }, labels },
      build: (b, x) => b.op1('SoftmaxCrossEntropyLoss', [x.x, x.labels], { reduction }),
    });
    const run = await gradcheck({
      inputs: { x: { dims: [4, 3] }, labels },
      build: (b, x) => b.op('SoftmaxCrossEntropyLoss', [x.x, x.labels], { reduction }, { outputs: 2 })[0],
    });
    // dX = R (softmax(x) - onehot) / N: each row sums to 0.
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(run.grads.x.slice(3 * i, 3 * i + 3).reduce((p, q) => p + q, 0)) < 1e-12);
  });
}
