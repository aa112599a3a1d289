import type { BuildContext } from './context.js';
import type { Module } from './module.js';

export type PoolKind = 'max' | 'avg';

/**
 * nn.MaxPool2d / nn.AvgPool2d with kernel k and stride k (PyTorch's default stride = kernel).
 * MaxPool has one output in every graph: onnxruntime's MaxPool is ~15x slower when it also emits
 * Indices, and the gradient rule finds each window's first maximum from X and Y (as PyTorch routes it).
 */
export class Pool2d implements Module {
  readonly type: string;
  constructor(readonly kind: PoolKind, readonly kernel = 2, readonly stride = kernel) {
    this.type = kind === 'max' ? 'MaxPool2d' : 'AvgPool2d';
  }

  build(ctx: BuildContext, name: string, x: string): string {
    const attrs = { kernel_shape: [this.kernel, this.kernel], strides: [this.stride, this.stride] };
    const y = this.kind === 'max'
      ? ctx.b.op1('MaxPool', [x], attrs)
      : ctx.b.op1('AveragePool', [x], attrs);
    ctx.row({ name, type: this.type, outputShape: ctx.b.shape(y), params: 0, trainable: false, macs: 0 });
    return y;
  }
}
