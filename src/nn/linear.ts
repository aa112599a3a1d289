import type { BuildContext } from './context.js';
import type { Module } from './module.js';

/** nn.Linear(inFeatures, outFeatures): y = x W^T + b, W [out, in]; PyTorch init U(+-1/sqrt(in)) for both. */
export class Linear implements Module {
  readonly type = 'Linear';
  constructor(readonly inFeatures: number, readonly outFeatures: number) {}

  build(ctx: BuildContext, name: string, x: string): string {
    const bound = 1 / Math.sqrt(this.inFeatures);
    const w = ctx.param(`${name}.weight`, [this.outFeatures, this.inFeatures], { kind: 'uniform', bound });
    const bias = ctx.param(`${name}.bias`, [this.outFeatures], { kind: 'uniform', bound });
    const y = ctx.b.op1('Gemm', [x, w, bias], { transB: 1 });
    const n = this.inFeatures * this.outFeatures;
    ctx.row({ name, type: this.type, outputShape: ctx.b.shape(y), params: n + this.outFeatures, trainable: !ctx.frozen.has(`${name}.weight`), macs: n });
    return y;
  }
}

