import { test } from 'node:test';
import { gradcheck } from '../helpers/gradcheck.js';

// float64 throughout (double kernels exist for all of these).
test('ReduceSum over axes [1] keepdims 1 and 0, and over all axes', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 3, 4] } }, build: (b, x) => b.op1('ReduceSum', [x.x, b.constant([1], 'int64')], { keepdims: 1 }) });
  await gradcheck({ inputs: { x: { dims: [2, 3, 4] } }, build: (b, x) => b.op1('ReduceSum', [x.x, b.constant([0, 2], 'int64')], { keepdims: 0 }) });
  await gradcheck({ inputs: { x: { dims: [2, 3] } }, build: (b, x) => b.op1('ReduceSum', [x.x], { keepdims: 0 }) });
});

test('ReduceMean over axes [-1] keepdims 0, [0, 2] keepdims 1, and all axes', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 3, 4] } }, build: (b, x) => b.op1('ReduceMean', [x.x], { axes: [-1], keepdims: 0 }) });
  await gradcheck({ inputs: { x: { dims: [2, 3, 4] } }, build: (b, x) => b.op1('ReduceMean', [x.x], { axes: [0, 2], keepdims: 1 }) });
  await gradcheck({ inputs: { x: { dims: [2, 3] } }, build: (b, x) => b.op1('ReduceMean', [x.x], { keepdims: 0 }) });
});

test('Flatten at axis 1 and 2', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 3, 2] } }, build: (b, x) => b.op1('Flatten', [x.x], { axis: 1 }) });
  await gradcheck({ inputs: { x: { dims: [2, 3, 2] } }, build: (b, x) => b.op1('Flatten', [x.x], { axis: 2 }) });
});

test('Reshape with -1 and 0', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 3, 2] } }, build: (b, x) => b.op1('Reshape', [x.x, b.constant([0, -1], 'int64')]) });
});

test('Transpose with a permutation and with the default reversal', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 3, 4] } }, build: (b, x) => b.op1('Transpose', [x.x], { perm: [1, 2, 0] }) });
  await gradcheck({ inputs: { x: { dims: [2, 3, 4] } }, build: (b, x) => b.op1('Transpose', [x.x]) });
});

test('Concat of three inputs along axis 1', async () => {
  await gradcheck({
    inputs: { a: { dims: [2, 1, 2] }, b: { dims: [2, 3, 2] }, c: { dims: [2, 2, 2] } },
    build: (b, x) => b.op1('Concat', [x.a, x.b, x.c], { axis: 1 }),
  });
});

test('Squeeze and Unsqueeze', async () => {
  await gradcheck({ inputs: { x: { dims: [2, 1, 3, 1] } }, build: (b, x) => b.op1('Squeeze', [x.x, b.constant([1, 3], 'int64')]) });
  await gradcheck({ inputs: { x: { dims: [2, 1, 3] } }, build: (b, x) => b.op1('Squeeze', [x.x]) });
  await gradcheck({ inputs: { x: { dims: [2, 3] } }, build: (b, x) => b.op1('Unsqueeze', [x.x, b.constant([0, -1], 'int64')]) });
});
