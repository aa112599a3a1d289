import type { GraphBuilder } from '../graph/builder.js';
import type { Dim } from '../graph/ir.js';
import type { DType, Tensor } from '../graph/tensor.js';

/**
 * How a parameter or buffer starts: PyTorch's defaults, drawn from the run's seeded generator, or given
 * values (the initializers of an imported ONNX model).
 */
export type Init =
  | { kind: 'uniform'; bound: number }
  | { kind: 'constant'; value: number }
  | { kind: 'tensor'; value: Tensor };

export interface ParamSpec {
  /** PyTorch state_dict name, e.g. `features.0.weight`. */
  name: string;
  shape: number[];
  dtype: DType;
  init: Init;
  /** Buffers (BatchNorm running statistics, num_batches_tracked) are state, never trained. */
  buffer: boolean;
  /** Gets a gradient: a parameter that is not frozen. */
  trainable: boolean;
}

/** One row of the model summary: a leaf layer, its output shape, parameters and multiply-adds per sample. */
export interface LayerRow {
  name: string;
  type: string;
  outputShape: Dim[];
  params: number;
  trainable: boolean;
  macs: number;
}

export interface ValueSource {
  param(spec: ParamSpec): string;
  noise(name: string, shape: Dim[]): string;
}

/**
 * What a layer sees while it emits its nodes. In 'train' mode parameters and buffers are graph inputs and
 * layers emit batch statistics, buffer updates and dropout masks; in 'eval' mode they are initializers
 * (when `weights` are given) or inputs, and layers emit the inference form.
 */
export class BuildContext {
  readonly params: ParamSpec[] = [];
  readonly rows: LayerRow[] = [];
  /** Buffer name -> value holding its updated version (train mode). */
  readonly bufferUpdates = new Map<string, string>();
  /** Per-step random inputs (dropout masks), in creation order. */
  readonly noise: { name: string; shape: Dim[]; p: number }[] = [];

  constructor(
    readonly b: GraphBuilder,
    readonly mode: 'train' | 'eval',
    /** Eval graphs with weights baked in; absent means parameters are graph inputs. */
    readonly weights?: Map<string, Tensor>,
    /** Parameters whose gradients are not wanted (frozen layers). */
    readonly frozen: Set<string> = new Set(),
    /** Where parameters, buffers and noise come from when not plain graph inputs (a Loop body). */
    readonly source?: ValueSource,
  ) {}

  private declare(spec: ParamSpec): string {
    this.params.push(spec);
    const t = this.weights?.get(spec.name);
    if (this.weights) {
      if (!t) throw new Error(`no weights for '${spec.name}'`);
      if (t.dims.join() !== spec.shape.join()) throw new Error(`weights for '${spec.name}' have shape [${t.dims}], the model needs [${spec.shape}]`);
      return this.b.initializer(spec.name, t);
    }
    return this.source ? this.source.param(spec) : this.b.input(spec.name, spec.dtype, spec.shape);
  }

  param(name: string, shape: number[], init: Init): string {
    return this.declare({ name, shape, dtype: 'float32', init, buffer: false, trainable: !this.frozen.has(name) });
  }

  buffer(name: string, shape: number[], init: Init, dtype: DType = 'float32'): string {
    return this.declare({ name, shape, dtype, init, buffer: true, trainable: false });
  }

  updateBuffer(name: string, value: string): void {
    this.bufferUpdates.set(name, value);
  }

  /** A per-step random input of the given shape (batch first), e.g. a dropout keep-mask scaled by 1/(1-p). */
  noiseInput(name: string, shape: Dim[], p: number): string {
    this.noise.push({ name, shape, p });
    return this.source ? this.source.noise(name, shape) : this.b.input(name, 'float32', shape);
  }

  row(r: LayerRow): void {
    this.rows.push(r);
  }
}

/** Size of a static shape, ignoring the symbolic batch dimension. */
export function perSample(shape: Dim[]): number {
  return shape.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
}
