import type { GraphBuilder } from '../graph/builder.js';
import type { Dim } from '../graph/ir.js';
import type { BuildContext, LayerRow } from './context.js';
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
    const y = this.emit(ctx.b, x);
    ctx.row(this.summaryRow(name, ctx.b.shape(y)));
    return y;
  }

  /** The pooling node alone (no summary row). */
  emit(b: GraphBuilder, x: string): string {
    const attrs = { kernel_shape: [this.kernel, this.kernel], strides: [this.stride, this.stride] };
    return this.kind === 'max' ? b.op1('MaxPool', [x], attrs) : b.op1('AveragePool', [x], attrs);
  }

  summaryRow(name: string, outputShape: Dim[]): LayerRow {
    return { name, type: this.type, outputShape, params: 0, trainable: false, macs: 0 };
  }
}
