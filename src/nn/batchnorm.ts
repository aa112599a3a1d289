import { float } from '../graph/ir.js';
import { batchNormTraining } from '../ops/norm.js';
import { perSample, type BuildContext } from './context.js';
import type { Module } from './module.js';

/**
 * nn.BatchNorm2d(C): weight 1, bias 0; buffers running_mean 0, running_var 1, num_batches_tracked 0.
 * Training uses the batch statistics (ops/norm.ts batchNormTraining); running statistics follow PyTorch:
 * r = (1 - momentum) r + momentum * stat, with the unbiased (n / (n - 1)) batch variance. Evaluation uses the
 * BatchNormalization op with running statistics.
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
      const t = batchNormTraining(b, x, weight, bias, { mean: rm, var: rv }, this.eps, this.momentum);
      y = t.y;
      ctx.updateBuffer(rm, t.runningMean);
      ctx.updateBuffer(rv, t.runningVar);
      ctx.updateBuffer(nbt, b.op1('Add', [nbt, b.constant(1, 'int64')]));
    }
    ctx.row({ name, type: this.type, outputShape: b.shape(y), params: 2 * C, trainable: !ctx.frozen.has(`${name}.weight`), macs: 2 * perSample(b.shape(y)) });
    return y;
  }
}
