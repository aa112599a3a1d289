import { attrInt, attrString } from '../graph/ir.js';
import { castTo, same } from './shapes.js';
import type { RuleTable } from './types.js';

export const softmax: RuleTable = {
  // Y = softmax(X) along axis  =>  dX = Y (dY - sum(dY Y, axis))
  Softmax: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const y = n.outputs[0];
      const axis = attrInt(n, 'axis', -1);
      const s = b.op1('ReduceSum', [b.op1('Mul', [dY!, y]), b.constant([axis], 'int64')], { keepdims: 1 });
      return [b.op1('Mul', [y, b.op1('Sub', [dY!, s])])];
    },
  },
  // Y = log softmax(X) along axis  =>  dX = dY - e^Y sum(dY, axis)
  LogSoftmax: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const axis = attrInt(n, 'axis', -1);
      const s = b.op1('ReduceSum', [dY!, b.constant([axis], 'int64')], { keepdims: 1 });
      return [b.op1('Sub', [dY!, b.op1('Mul', [b.op1('Exp', [n.outputs[0]]), s])])];
    },
  },
  // Cross-entropy of scores [N, C] against int64 labels [N]:
  //   L = -1/N sum_i log softmax(X_i)[y_i]  (reduction 'mean'; 'sum' drops the 1/N)
  //   dX = dL (softmax(X) - onehot(y)) / N
  SoftmaxCrossEntropyLoss: {
    infer: (ins, n) => {
      const red = attrString(n, 'reduction', 'mean');
      return [{ dtype: ins[0]!.dtype, shape: red === 'none' ? ins[1]!.shape : [] }, { dtype: ins[0]!.dtype, shape: ins[0]!.shape }];
    },
    grad: ({ b }, n, [dL]) => {
      const [x, labels] = n.inputs;
      const red = attrString(n, 'reduction', 'mean');
      if (red === 'none' || n.inputs.length > 2) throw new Error("SoftmaxCrossEntropyLoss gradient: only reductions 'mean' and 'sum' without weights");
      const dt = b.dtype(x);
      const p = n.outputs[1] ? b.op1('Exp', [n.outputs[1]]) : b.op1('Softmax', [x], { axis: 1 });
      const classes = b.shape(x)[1];
      if (typeof classes !== 'number') throw new Error('SoftmaxCrossEntropyLoss gradient: class count must be static');
      // onehot[i, c] = (labels[i] == c); Equal + Cast rather than OneHot, which has no double kernel in ORT.
      const hit = b.op1('Equal', [b.op1('Unsqueeze', [labels, b.constant([1], 'int64')]), b.constant([...Array(classes).keys()], 'int64', [1, classes])]);
      const onehot = castTo(b, hit, dt);
      let scale = dL!;
      if (red === 'mean') {
        const count = castTo(b, b.op1('Size', [labels]), dt);
        scale = b.op1('Div', [dL!, count]);
      }
      return [b.op1('Mul', [b.op1('Sub', [p, onehot]), scale]), null];
    },
  },
};
