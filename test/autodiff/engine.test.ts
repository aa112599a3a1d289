import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { buildGradients, MissingGradientError } from '../../src/autodiff/gradients.js';
import { RULES } from '../../src/ops/index.js';
import { gradcheck, runGradients } from '../helpers/gradcheck.js';

test('a value with several consumers gets the sum of their gradients', async () => {
  // y = x * x + exp(x) + x  =>  dy/dx = 2x + e^x + 1
  const run = await gradcheck({
    inputs: { x: { dims: [5] } },
    build: (b, v) => b.op1('Sum', [b.op1('Mul', [v.x, v.x]), b.op1('Exp', [v.x]), v.x]),
  });
  run.grads.x.forEach((g, i) => {
    const x = run.inputs.x[i];
    assert.ok(Math.abs(g - run.weights[i] * (2 * x + Math.exp(x) + 1)) < 1e-12);
  });
  assert.ok(run.gradOps.includes('Sum'));
});

test('a missing rule fails with an error naming the op', () => {
  const b = new GraphBuilder('t');
  const x = b.input('x', 'float32', [3]);
  const y = b.op1('Softsign', [x]);
  const loss = b.op1('ReduceSum', [y], { keepdims: 0 });
  assert.throws(() => buildGradients(b, loss, [x]), (e: Error) => e instanceof MissingGradientError && e.opType === 'Softsign' && /no gradient rule for op 'Softsign'/.test(e.message));
});

test('a parameter the loss does not depend on is a clear error', () => {
  const b = new GraphBuilder('t');
  const x = b.input('x', 'float32', [3]);
  const w = b.input('w', 'float32', [3]);
  const loss = b.op1('ReduceSum', [b.op1('Exp', [x])], { keepdims: 0 });
  assert.throws(() => buildGradients(b, loss, [w]), /does not depend on 'w'/);
});

test('the gradient checker catches a wrong rule', async () => {
  const saved = RULES.Softsign;
  // Softsign's true derivative is 1 / (1 + |x|)^2; claim 1 instead.
  RULES.Softsign = { infer: (ins) => [{ dtype: ins[0]!.dtype, shape: ins[0]!.shape }], grad: (_c, _n, [dY]) => [dY] };
  try {
    await assert.rejects(gradcheck({ dtype: 'float32', inputs: { x: { dims: [4] } }, build: (b, v) => b.op1('Softsign', [v.x]) }), /outside atol/);
  } finally {
    if (saved) RULES.Softsign = saved;
    else delete RULES.Softsign;
  }
});

/** A small basic-cnn: Conv k3 p1, Relu, MaxPool 2, Conv, Relu, MaxPool, Flatten, Gemm, Relu, Gemm, cross-entropy. */
function smallCnn(b: GraphBuilder, v: Record<string, string>): string {
  const pool = { kernel_shape: [2, 2], strides: [2, 2] };
  let h = b.op1('MaxPool', [b.op1('Relu', [b.op1('Conv', [v.input, v.w0, v.b0], { pads: [1, 1, 1, 1] })])], pool);
  h = b.op1('MaxPool', [b.op1('Relu', [b.op1('Conv', [h, v.w1, v.b1], { pads: [1, 1, 1, 1] })])], pool);
  h = b.op1('Relu', [b.op1('Gemm', [b.op1('Flatten', [h]), v.w2, v.b2], { transB: 1 })]);
  const logits = b.op1('Gemm', [h, v.w3, v.b3], { transB: 1 });
  return b.op1('SoftmaxCrossEntropyLoss', [logits, v.labels]);
}
const cnnInputs = () => ({
  input: { dims: [2, 1, 8, 8], wrt: false }, labels: { dims: [2], values: [1, 2], dtype: 'int64' as const },
  w0: { dims: [3, 1, 3, 3] }, b0: { dims: [3] }, w1: { dims: [4, 3, 3, 3] }, b1: { dims: [4] },
  w2: { dims: [5, 16] }, b2: { dims: [5] }, w3: { dims: [3, 5] }, b3: { dims: [3] },
});

test('only parameters in wrt: the input image gets no gradient nodes, and parameter gradients are right', async () => {
  const run = await gradcheck({ dtype: 'float32', inputs: cnnInputs(), build: smallCnn, eps: 1e-3, atol: 2e-3, rtol: 2e-2 });
  // One ConvTranspose: the second Conv's input gradient; the first Conv's (the image's) is never built.
  assert.equal(run.gradOps.filter((o) => o === 'ConvTranspose').length, 1);
  assert.deepEqual(Object.keys(run.grads), ['w0', 'b0', 'w1', 'b1', 'w2', 'b2', 'w3', 'b3']);
});

test('the image does get a gradient (through both Convs) when asked for', async () => {
  const inputs = { ...cnnInputs(), input: { dims: [2, 1, 8, 8], wrt: true } };
  const run = await runGradients({ dtype: 'float32', inputs, build: smallCnn });
  assert.equal(run.gradOps.filter((o) => o === 'ConvTranspose').length, 2);
  assert.equal(run.grads.input.length, 128);
});
