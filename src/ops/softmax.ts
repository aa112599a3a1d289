import { attrInt, attrString } from '../graph/ir.js';
import { castTo, same } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';

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
    grad: ({ b }, n, [dY]) => [logSoftmaxGrad(b, dY!, b.op1('Exp', [n.outputs[0]]), attrInt(n, 'axis', -1))],
  },
  // Cross-entropy of scores X [N, C, d1..dk] against int64 labels y [N, d1..dk], optional class weights w [C]
  // (ONNX's definition, as torch's F.cross_entropy with weight and ignore_index):
  //   l[n, d] = -w[y] log softmax(X[n, :, d])[y]   with w[y] = 0 where y = ignore_index
  //   L = sum l / sum w[y] ('mean'), sum l ('sum'), l ('none')
  //   dX[n, c, d] = dL' w[y] (softmax(X)[n, c, d] - onehot(y)[n, c, d])  with dL' = dL / sum w[y] ('mean'), dL
  // The optional log-prob output Z adds its own LogSoftmax gradient dZ - softmax(X) sum_c dZ.
  SoftmaxCrossEntropyLoss: {
    infer: (ins, n) => {
      const red = attrString(n, 'reduction', 'mean');
      return [{ dtype: ins[0]!.dtype, shape: red === 'none' ? ins[1]!.shape : [] }, { dtype: ins[0]!.dtype, shape: ins[0]!.shape }];
    },
    grad: ({ b, needs }, n, [dL, dLogProb]) => {
      const [x, labels, weights] = n.inputs;
      if (weights && needs[2]) throw new Error(`SoftmaxCrossEntropyLoss gradient: no gradient for the class weights '${weights}' (node '${n.name}'); make them a constant`);
      const red = attrString(n, 'reduction', 'mean');
      const dt = b.dtype(x);
      const rank = b.shape(x).length;
      const p = n.outputs[1] ? b.op1('Exp', [n.outputs[1]]) : b.op1('Softmax', [x], { axis: 1 });
      const toClassAxis = (v: string) => b.op1('Unsqueeze', [v, b.constant([1], 'int64')]);
      let dX: string | null = null;
      if (dL) {
        const classes = b.shape(x)[1];
        if (typeof classes !== 'number') throw new Error('SoftmaxCrossEntropyLoss gradient: class count must be static');
        // onehot[n, c, d] = (y[n, d] == c); Equal + Cast rather than OneHot, which has no double kernel in ORT.
        const classIds = b.constant([...Array(classes).keys()], 'int64', [1, classes, ...new Array<number>(rank - 2).fill(1)]);
        const onehot = castTo(b, b.op1('Equal', [toClassAxis(labels), classIds]), dt);
        // wy[n, d]: the weight of each target, 0 where it is ignored; undefined when every target weighs 1.
        let wy: string | undefined;
        const ignore = n.attrs.ignore_index ? attrInt(n, 'ignore_index', 0) : undefined;
        const kept = ignore === undefined ? undefined : b.op1('Not', [b.op1('Equal', [labels, b.constant(ignore, 'int64')])]);
        if (weights) {
          // An ignored label may lie outside [0, C): gather at 0 there, then mask.
          const safe = kept ? b.op1('Where', [kept, labels, b.constant(0, 'int64')]) : labels;
          wy = b.op1('Gather', [weights, safe], { axis: 0 });
          if (kept) wy = b.op1('Mul', [wy, castTo(b, kept, dt)]);
        } else if (kept) wy = castTo(b, kept, dt);
        let coef = dL; // scalar for 'mean' and 'sum', [N, d..] for 'none'
        if (red === 'mean') coef = b.op1('Div', [dL, wy ? b.op1('ReduceSum', [wy], { keepdims: 0 }) : castTo(b, b.op1('Size', [labels]), dt)]);
        if (wy) coef = b.op1('Mul', [wy, coef]);
        const diff = b.op1('Sub', [p, onehot]);
        dX = b.op1('Mul', [diff, b.shape(coef).length ? toClassAxis(coef) : coef]);
      }
      if (dLogProb) {
        const dZ = logSoftmaxGrad(b, dLogProb, p, 1);
        dX = dX ? b.op1('Add', [dX, dZ]) : dZ;
      }
      return weights ? [dX, null, null] : [dX, null];
    },
  },
};

/** The gradient through Y = log softmax(X) along `axis`, given p = e^Y: dY - p sum(dY, axis). */
function logSoftmaxGrad(b: Emitter, dY: string, p: string, axis: number): string {
  const s = b.op1('ReduceSum', [dY, b.constant([axis], 'int64')], { keepdims: 1 });
  return b.op1('Sub', [dY, b.op1('Mul', [p, s])]);
}
