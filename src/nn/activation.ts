import type { GraphBuilder } from '../graph/builder.js';
import { float, type Dim } from '../graph/ir.js';
import type { BuildContext, LayerRow } from './context.js';
import type { Module } from './module.js';

export type ActivationKind = 'relu' | 'sigmoid' | 'tanh' | 'leaky-relu';
export const ACTIVATIONS: ActivationKind[] = ['relu', 'sigmoid', 'tanh', 'leaky-relu'];

const TYPES: Record<ActivationKind, string> = { relu: 'ReLU', sigmoid: 'Sigmoid', tanh: 'Tanh', 'leaky-relu': 'LeakyReLU' };

/** ReLU, Sigmoid, Tanh, LeakyReLU (negative slope 0.01, PyTorch's default). */
export class Activation implements Module {
  readonly type: string;
  constructor(readonly kind: ActivationKind, readonly negativeSlope = 0.01) {
    this.type = TYPES[kind];
  }

  build(ctx: BuildContext, name: string, x: string): string {
    const y = this.emit(ctx.b, x);
    ctx.row(this.summaryRow(name, ctx.b.shape(y)));
    return y;
  }

  /** The activation's node alone (no summary row). */
  emit(b: GraphBuilder, x: string): string {
    return this.kind === 'relu' ? b.op1('Relu', [x])
      : this.kind === 'sigmoid' ? b.op1('Sigmoid', [x])
      : this.kind === 'tanh' ? b.op1('Tanh', [x])
      : b.op1('LeakyRelu', [x], { alpha: float(this.negativeSlope) });
  }

  summaryRow(name: string, outputShape: Dim[]): LayerRow {
    return { name, type: this.type, outputShape, params: 0, trainable: false, macs: 0 };
  }
}
