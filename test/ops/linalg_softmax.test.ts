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

// Targets 1 and 2 of a row are ignored (-100 lies outside [0, C), as torch's default).
const ceCases: { name: string; attrs: { ignore_index?: number }; weighted: boolean; labels: number[] }[] = [
  { name: 'ignore_index -100', attrs: { ignore_index: -100 }, weighted: false, labels: [2, -100, 1, 0] },
  { name: 'ignore_index 1 (a real class)', attrs: { ignore_index: 1 }, weighted: false, labels: [2, 1, 1, 0] },
  { name: 'class weights', attrs: {}, weighted: true, labels: [2, 0, 1, 2] },
  { name: 'class weights and ignore_index -1', attrs: { ignore_index: -1 }, weighted: true, labels: [2, -1, 1, 2] },
];
for (const reduction of ['mean', 'sum', 'none']) {
  for (const c of ceCases) {
    test(`SoftmaxCrossEntropyLoss (${reduction}) with ${c.name}`, async () => {
      const run = await gradcheck({
        inputs: {
          x: { dims: [4, 3] },
          labels: { dims: [4], values: c.labels, dtype: 'int64' },
          ...(c.weighted ? { w: { dims: [3], values: [0.5, 2, 1.25], constant: true } } : {}),
        },
        build: (b, x) => b.op1('SoftmaxCrossEntropyLoss', [x.x, x.labels, ...(c.weighted ? [x.w] : [])], { reduction, ...(c.attrs.ignore_index === undefined ? {} : { ignore_index: c.attrs.ignore_index }) }),
      });
      // An ignored target's row gets no gradient at all.
      c.labels.forEach((y, i) => {
        if (c.attrs.ignore_index === y) assert.ok(run.grads.x.slice(3 * i, 3 * i + 3).every((g) => g === 0), `row ${i}: ${run.grads.x.slice(3 * i, 3 * i + 3)}`);
      });
    });
  }
}

test('SoftmaxCrossEntropyLoss on N-D scores [N, C, d1, d2] with weights and ignore_index, each reduction', async () => {
  for (const reduction of ['mean', 'sum', 'none']) {
    await gradcheck({
      inputs: {
        x: { dims: [2, 3, 2, 2] },
        labels: { dims: [2, 2, 2], values: [0, 2, 1, 5, 5, 1, 2, 0], dtype: 'int64' },
        w: { dims: [3], values: [0.5, 2, 1.25], constant: true },
      },
      build: (b, x) => b.op1('SoftmaxCrossEntropyLoss', [x.x, x.labels, x.w], { reduction, ignore_index: 5 }),
    });
  }
});

test('SoftmaxCrossEntropyLoss: a gradient through the log-prob output adds to the loss gradient', async () => {
  await gradcheck({
    inputs: { x: { dims: [4, 3] }, labels: { dims: [4], values: [2, 0, 1, 2], dtype: 'int64' } },
    build: (b, x) => {
      const [loss, logProb] = b.op('SoftmaxCrossEntropyLoss', [x.x, x.labels], { reduction: 'mean' }, { outputs: 2 });
      return b.op1('Add', [logProb, loss]);
    },
  });
});
