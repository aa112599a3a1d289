import { float } from '../graph/ir.js';
import { castTo } from '../ops/shapes.js';
import { perSample, type BuildContext } from './context.js';
import type { Module } from './module.js';

/**
 * nn.BatchNorm2d(C): weight 1, bias 0; buffers running_mean 0, running_var 1, num_batches_tracked 0.
 * Training uses the batch statistics and is built from primitive ops, so autodiff differentiates it with
 * the ordinary rules; running statistics follow PyTorch: r = (1 - momentum) r + momentum * stat, with the
 * unbiased (n / (n - 1)) batch variance. Evaluation uses the BatchNormalization op with running statistics.
 */
export class BatchNorm2d implements Module {
  readonly type = 'BatchNorm2d';
  constructor(readonly channels: number, readonly eps = 1e-5, readonly momentum = 0.1) {}

  build(ctx: BuildContext, name: string, x: string): string {
    const b = ctx.b;
    const C = this.channels;
    const weight = ctx.param(`${name}.weight`, [C], { kind: 'constant', value: 1 });
    const bias = ctx.param(`${name}.bias`, [C], { kind: 'constant', value: 0 });
    const rm = ctx.buffer(`${name}.running_mean`, [C], { kind: 'constant', value: 0 });
    const rv = ctx.buffer(`${name}.running_var`, [C], { kind: 'constant', value: 1 });
    const nbt = ctx.buffer(`${name}.num_batches_tracked`, [], { kind: 'constant', value: 0 }, 'int64');
    let y: string;
    if (ctx.mode === 'eval') {
      y = b.op1('BatchNormalization', [x, weight, bias, rm, rv], { epsilon: float(this.eps) });
    } else {
      // Not the BatchNormalization op in training mode, though on CPU its train_step is 13-17% faster (basic-cnn,
      // cifar10-cnn; its gradient rule exists): onnxruntime's CUDA kernel takes the training path only when all
      // 5 outputs exist, which opset 15+ forbids, so on CUDA the same graph would normalize with the input stats.
      const axes = [0, 2, 3];
      const mean = b.op1('ReduceMean', [x], { axes, keepdims: 1 });
      const xc = b.op1('Sub', [x, mean]);
      const variance = b.op1('ReduceMean', [b.op1('Mul', [xc, xc])], { axes, keepdims: 1 });
      const inv = b.op1('Reciprocal', [b.op1('Sqrt', [b.op1('Add', [variance, b.constant(this.eps)])])]);
      const chw = b.constant([1, 2], 'int64');
      const scaled = b.op1('Mul', [b.op1('Mul', [xc, inv]), b.op1('Unsqueeze', [weight, chw])]);
      y = b.op1('Add', [scaled, b.op1('Unsqueeze', [bias, chw])]);

      const m = this.momentum;
      const flat = b.constant([C], 'int64');
      const n = b.op1('Div', [castTo(b, b.op1('Size', [x]), 'float32'), b.constant(C)]);
      const unbiased = b.op1('Mul', [b.op1('Reshape', [variance, flat]), b.op1('Div', [n, b.op1('Sub', [n, b.constant(1)])])]);
      const decay = b.constant(1 - m);
      const mom = b.constant(m);
      const ema = (old: string, stat: string) => b.op1('Add', [b.op1('Mul', [old, decay]), b.op1('Mul', [stat, mom])]);
      ctx.updateBuffer(rm, ema(rm, b.op1('Reshape', [mean, flat])));
      ctx.updateBuffer(rv, ema(rv, unbiased));
      ctx.updateBuffer(nbt, b.op1('Add', [nbt, b.constant(1, 'int64')]));
    }
    ctx.row({ name, type: this.type, outputShape: b.shape(y), params: 2 * C, trainable: !ctx.frozen.has(`${name}.weight`), macs: 2 * perSample(b.shape(y)) });
    return y;
  }
}
