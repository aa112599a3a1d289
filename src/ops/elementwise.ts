import { attrFloat } from '../graph/ir.js';
import { DTYPE_FROM_ONNX } from '../graph/tensor.js';
import { broadcast, castTo, maskedBy, maskedByPositive, same, unbroadcast } from './shapes.js';
import type { RuleTable } from './types.js';

/** Elementwise arithmetic and activations. Y names the output, dY its gradient. */
export const elementwise: RuleTable = {
  // Y = A + B  =>  dA = dY, dB = dY, each summed back over broadcast axes
  Add: {
    infer: broadcast,
    grad: ({ b, needs }, n, [dY]) => [
      needs[0] ? unbroadcast(b, dY!, n.inputs[0]) : null,
      needs[1] ? unbroadcast(b, dY!, n.inputs[1]) : null,
    ],
  },
  // Y = A - B  =>  dA = dY, dB = -dY
  Sub: {
    infer: broadcast,
    grad: ({ b, needs }, n, [dY]) => [
      needs[0] ? unbroadcast(b, dY!, n.inputs[0]) : null,
      needs[1] ? unbroadcast(b, b.op1('Neg', [dY!]), n.inputs[1]) : null,
    ],
  },
  // Y = A * B  =>  dA = dY * B, dB = dY * A
  Mul: {
    infer: broadcast,
    grad: ({ b, needs }, n, [dY]) => [
      needs[0] ? unbroadcast(b, b.op1('Mul', [dY!, n.inputs[1]]), n.inputs[0]) : null,
      needs[1] ? unbroadcast(b, b.op1('Mul', [dY!, n.inputs[0]]), n.inputs[1]) : null,
    ],
  },
  // Y = A / B  =>  dA = dY / B, dB = -dY * Y / B
  Div: {
    infer: broadcast,
    grad: ({ b, needs }, n, [dY]) => [
      needs[0] ? unbroadcast(b, b.op1('Div', [dY!, n.inputs[1]]), n.inputs[0]) : null,
      needs[1] ? unbroadcast(b, b.op1('Neg', [b.op1('Div', [b.op1('Mul', [dY!, n.outputs[0]]), n.inputs[1]])]), n.inputs[1]) : null,
    ],
  },
  // Y = A1 + A2 + ...  =>  dAi = dY
  Sum: {
    infer: broadcast,
    grad: ({ b, needs }, n, [dY]) => n.inputs.map((x, i) => (needs[i] ? unbroadcast(b, dY!, x) : null)),
  },
  // Y = -X  =>  dX = -dY
  Neg: { infer: same, grad: ({ b }, _n, [dY]) => [b.op1('Neg', [dY!])] },
  Identity: { infer: same, grad: (_c, _n, [dY]) => [dY] },
  // Y = max(X, 0)  =>  dX = dY where X > 0, else 0 (PyTorch's choice at 0). Y > 0 exactly where X > 0,
  // and testing Y leaves X with one consumer, so onnxruntime can fuse a Conv + Relu pair. Where a MaxPool
  // alone reads Y, its rule has applied this mask already, at the pooled size (pool.ts).
  Relu: {
    infer: same,
    grad: (ctx, n, [dY]) => {
      const { b } = ctx;
      if (ctx.positiveMasked?.has(n.outputs[0])) return [dY];
      return [maskedByPositive(b, dY!, n.outputs[0])];
    },
  },
  // Y = X if X > 0 else alpha X  =>  dX = dY where X > 0, else alpha dY
  LeakyRelu: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const alpha = b.constant(attrFloat(n, 'alpha', 0.01), b.dtype(x));
      const zero = b.constant(0, b.dtype(x));
      return [b.op1('Where', [b.op1('Greater', [x, zero]), dY!, b.op1('Mul', [dY!, alpha])])];
    },
  },
  // Y = 1 / (1 + e^-X)  =>  dX = dY Y (1 - Y)
  Sigmoid: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const y = n.outputs[0];
      const one = b.constant(1, b.dtype(y));
      return [b.op1('Mul', [b.op1('Mul', [dY!, y]), b.op1('Sub', [one, y])])];
    },
  },
  // Y = tanh X  =>  dX = dY (1 - Y^2)
  Tanh: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const y = n.outputs[0];
      const one = b.constant(1, b.dtype(y));
      return [b.op1('Mul', [dY!, b.op1('Sub', [one, b.op1('Mul', [y, y])])])];
    },
  },
  // Y = e^X  =>  dX = dY Y
  Exp: { infer: same, grad: ({ b }, n, [dY]) => [b.op1('Mul', [dY!, n.outputs[0]])] },
  // Y = ln X  =>  dX = dY / X
  Log: { infer: same, grad: ({ b }, n, [dY]) => [b.op1('Div', [dY!, n.inputs[0]])] },
  // Y = sqrt X  =>  dX = dY / (2 Y)
  Sqrt: {
    infer: same,
    grad: ({ b }, n, [dY]) => [b.op1('Div', [dY!, b.op1('Mul', [n.outputs[0], b.constant(2, b.dtype(n.outputs[0]))])])],
  },
  // Y = 1 / X  =>  dX = -dY Y^2
  Reciprocal: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const y = n.outputs[0];
      return [b.op1('Neg', [b.op1('Mul', [dY!, b.op1('Mul', [y, y])])])];
    },
  },
  // Y = A^B  =>  dA = dY B A^(B-1),  dB = dY Y ln A
  Pow: {
    infer: broadcast,
    grad: ({ b, needs }, n, [dY]) => {
      const [a, e] = n.inputs;
      const dt = b.dtype(a);
      const expo = b.dtype(e) === dt ? e : castTo(b, e, dt);
      return [
        needs[0] ? unbroadcast(b, b.op1('Mul', [dY!, b.op1('Mul', [expo, b.op1('Pow', [a, b.op1('Sub', [expo, b.constant(1, dt)])])])]), a) : null,
        needs[1] ? unbroadcast(b, castTo(b, b.op1('Mul', [b.op1('Mul', [dY!, n.outputs[0]]), b.op1('Log', [a])]), b.dtype(e)), e) : null,
      ];
    },
  },
  // Y = clip(X, min, max)  =>  dX = dY where min < X < max, else 0 (torch's hardtanh/ReLU6 backward:
  // no gradient at the bounds). min and max (inputs 1, 2, optional) are bounds, not trained.
  Clip: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      // Opset 6 gave the bounds as attributes.
      const bound = (i: number, attr: string) => n.inputs[i] || (n.attrs[attr] ? b.constant(attrFloat(n, attr, 0), b.dtype(x)) : '');
      const [lo, hi] = [bound(1, 'min'), bound(2, 'max')];
      const inside = [lo ? b.op1('Greater', [x, lo]) : '', hi ? b.op1('Less', [x, hi]) : ''].filter(Boolean);
      if (inside.length === 0) return [dY];
      const mask = inside.length === 2 ? b.op1('And', [inside[0], inside[1]]) : inside[0];
      return [maskedBy(b, dY!, mask), null, null].slice(0, n.inputs.length);
    },
  },
  // Y = erf X  =>  dX = dY 2/sqrt(pi) e^(-X^2)
  Erf: {
    infer: same,
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const dt = b.dtype(x);
      const gauss = b.op1('Exp', [b.op1('Neg', [b.op1('Mul', [x, x])])]);
      return [b.op1('Mul', [dY!, b.op1('Mul', [gauss, b.constant(2 / Math.sqrt(Math.PI), dt)])])];
    },
  },
  // Y = where(C, A, B)  =>  dA = dY where C, dB = dY where not C
  Where: {
    infer: (ins) => [{ dtype: ins[1]!.dtype, shape: broadcast(ins)[0].shape }],
    grad: ({ b, needs }, n, [dY]) => {
      const [c, x, y] = n.inputs;
      const zero = b.constant(0, b.dtype(x));
      return [
        null,
        needs[1] ? unbroadcast(b, b.op1('Where', [c, dY!, zero]), x) : null,
        needs[2] ? unbroadcast(b, b.op1('Where', [c, zero, dY!]), y) : null,
      ];
    },
  },
  // Y = cast(X)  =>  dX = cast(dY) back to X's type
  Cast: {
    infer: (ins, n) => [{ dtype: DTYPE_FROM_ONNX[n.attrs.to.value as number] ?? 'float32', shape: ins[0]!.shape }],
    grad: ({ b }, n, [dY]) => [castTo(b, dY!, b.dtype(n.inputs[0]))],
  },
};

/** Ops that produce no gradient (comparisons, integer work) but whose shapes the builder tracks. */
export const nondifferentiable: RuleTable = {
  Greater: { infer: (ins) => [{ dtype: 'bool', shape: broadcast(ins)[0].shape }] },
  Less: { infer: (ins) => [{ dtype: 'bool', shape: broadcast(ins)[0].shape }] },
  Equal: { infer: (ins) => [{ dtype: 'bool', shape: broadcast(ins)[0].shape }] },
  Not: { infer: same },
  ArgMax: {
    infer: (ins, n) => {
      const s = ins[0]!.shape;
      const axis = (n.attrs.axis?.value as number | undefined) ?? 0;
      const keep = (n.attrs.keepdims?.value as number | undefined) ?? 1;
      if (!s) return [{ dtype: 'int64' }];
      const a = axis < 0 ? axis + s.length : axis;
      return [{ dtype: 'int64', shape: keep ? s.map((d, i) => (i === a ? 1 : d)) : s.filter((_, i) => i !== a) }];
    },
  },
  Shape: { infer: (ins) => [{ dtype: 'int64', shape: ins[0]!.shape ? [ins[0]!.shape.length] : undefined }] },
  Size: { infer: () => [{ dtype: 'int64', shape: [] }] },
  OneHot: {
    infer: (ins, _n, consts) => {
      const depth = consts[1] ? Number(consts[1].data[0]) : undefined;
      const s = ins[0]!.shape;
      return [{ dtype: ins[2]!.dtype, shape: s && depth !== undefined ? [...s, depth] : undefined }];
    },
  },
};
