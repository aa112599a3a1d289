import { perSample, type BuildContext } from './context.js';
import type { Module } from './module.js';

export interface Conv2dSettings {
  inChannels: number;
  outChannels: number;
  /** Square kernel size. */
  kernel: number;
  /** Zero padding on every side. Default (kernel - 1) / 2 ("same" for odd kernels at stride 1). */
  padding?: number;
  /** Default 1. */
  stride?: number;
  /** Default true. */
  bias?: boolean;
}

/** nn.Conv2d, NCHW; weight [out, in, k, k], PyTorch init U(+-1/sqrt(in k k)) for weight and bias. */
export class Conv2d implements Module {
  readonly type = 'Conv2d';
  constructor(readonly s: Conv2dSettings) {}

  build(ctx: BuildContext, name: string, x: string): string {
    const { inChannels: cin, outChannels: cout, kernel: k } = this.s;
    const pad = this.s.padding ?? (k - 1) / 2;
    const stride = this.s.stride ?? 1;
    const bound = 1 / Math.sqrt(cin * k * k);
    const w = ctx.param(`${name}.weight`, [cout, cin, k, k], { kind: 'uniform', bound });
    const inputs = [x, w];
    if (this.s.bias ?? true) inputs.push(ctx.param(`${name}.bias`, [cout], { kind: 'uniform', bound }));
    const y = ctx.b.op1('Conv', inputs, { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride] });
    const shape = ctx.b.shape(y);
    const params = cout * cin * k * k + (inputs.length > 2 ? cout : 0);
    ctx.row({ name, type: this.type, outputShape: shape, params, trainable: !ctx.frozen.has(`${name}.weight`), macs: perSample(shape) * cin * k * k });
    return y;
  }
}
