/**
 * Lowerings of the MaxPool gradient (the rule and its math are in ../pool.ts): where each window's first
 * maximum is found. BENCHMARKS.md, "Why the gradient lowerings are chosen as they are", has the measurements.
 *
 * MaxPool node contract (what a layer emits into a training graph):
 * - 2-D NCHW input, dilations 1, storage_order 0; any kernel, strides, pads.
 * - Prefer ONE output [Y]. Where kernel == strides, kh == kw, no pads and H, W are multiples of the
 *   kernel (every reference model), the rule finds each window's first maximum from X alone
 *   (Transpose, ArgMax, Resize; see maxGradBlocks): onnxruntime's MaxPool with an Indices output runs
 *   far slower than without one.
 * - Two outputs [Y, Indices] (Indices int64, ONNX's flat index into X) are also accepted: the rule then
 *   routes dY through them (MaxUnpool, or ScatterElements with reduction 'add' where windows overlap).
 * - With one output and any other geometry, the rule adds its own MaxPool with Indices to the backward.
 * Either way the gradient goes to the FIRST maximum of each window in row-major order, as PyTorch's
 * max_pool2d does; tied maxima (Fashion-MNIST's -1 background) get nothing.
 */
import type { Attr } from '../../graph/ir.js';
import { castTo, maskedBy, shapeValue } from '../shapes.js';
import type { Emitter } from '../types.js';
import type { Window } from '../window.js';

/** One MaxPool gradient: X [N, C, H, W] pooled over `window` gave Y, whose gradient is dY. */
export interface MaxPoolGradProblem {
  x: string;
  dY: string;
  window: Window;
  /** X's spatial sizes [H, W]. */
  inSize: number[];
  /** The node's Indices output, if it has one. */
  indices?: string;
  /** The node's attributes, to emit a MaxPool with Indices where none is given. */
  attrs: Record<string, Attr>;
}

/**
 * 'indices': route dY through the node's Indices; 'blocks': non-overlapping square windows tiling X, found
 * from X alone; 'recomputedIndices': any other geometry, through a MaxPool with Indices added to the backward.
 */
export type MaxPoolGradFormulation = 'indices' | 'blocks' | 'recomputedIndices';

export function chooseMaxPoolGrad({ window: w, inSize: [H, W], indices }: Pick<MaxPoolGradProblem, 'window' | 'inSize' | 'indices'>): MaxPoolGradFormulation {
  if (indices) return 'indices';
  const [kh, kw] = w.kernel;
  const blocks = kh === kw && w.strides.every((s) => s === kh) && w.pads.every((p) => p === 0) && H % kh === 0 && W % kw === 0;
  return blocks ? 'blocks' : 'recomputedIndices';
}

/** dX of a MaxPool: dY at each window's first maximum (row-major), 0 elsewhere. */
export function maxPoolInputGrad(b: Emitter, p: MaxPoolGradProblem): string {
  const { x, dY, window: w, inSize, attrs } = p;
  switch (chooseMaxPoolGrad(p)) {
    case 'indices': return maxGradIndices(b, x, p.indices!, dY, w);
    case 'blocks': return maxGradBlocks(b, x, dY, w.kernel[0], inSize);
    case 'recomputedIndices': {
      const [, indices] = b.op('MaxPool', [x], attrs, { outputs: 2 });
      return maxGradIndices(b, x, indices, dY, w);
    }
  }
}

/**
 * dX[first argmax of each window] = dY. ArgMax over each window's taps (laid out innermost by one
 * Transpose) returns the first maximum in row-major order (PyTorch's choice); that tap number and dY are
 * brought back to X's grid by nearest-neighbour Resize, and dY flows where a position's own tap number
 * matches.
 */
function maxGradBlocks(b: Emitter, x: string, dY: string, k: number, [H, W]: number[]): string {
  const dt = b.dtype(x);
  if (dt !== 'float32') {
    // onnxruntime has no double Resize: route in the window layout and DepthToSpace back.
    const blocks = b.op1('SpaceToDepth', [b.op1('Reshape', [x, b.constant([-1, 1, H, W], 'int64')])], { blocksize: k });
    const first = b.op1('ArgMax', [blocks], { axis: 1, keepdims: 1 });
    const perWindow = b.constant([-1, 1, H / k, W / k], 'int64');
    const isFirst = b.op1('Equal', [first, b.constant(Array.from({ length: k * k }, (_, t) => t), 'int64', [1, k * k, 1, 1])]);
    const routed = b.op1('Where', [isFirst, b.op1('Reshape', [dY, perWindow]), b.constant(0, dt)]);
    return b.op1('Reshape', [b.op1('DepthToSpace', [routed], { blocksize: k }), shapeValue(b, x)]);
  }
  // [N C Ho, k, Wo, k] -> [N C Ho, Wo, k, k]: each window's taps contiguous, so ArgMax reduces runs of k k.
  const [Ho, Wo] = [H / k, W / k];
  const taps = b.op1('Transpose', [b.op1('Reshape', [x, b.constant([-1, k, Wo, k], 'int64')])], { perm: [0, 2, 1, 3] });
  const first = b.op1('ArgMax', [b.op1('Reshape', [taps, b.constant([-1, Ho, Wo, k * k], 'int64')])], { axis: 3, keepdims: 1 });
  const scales = b.constant([1, 1, k, k], 'float32');
  const up = (t: string) => b.op1('Resize', [t, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  const tapOf = b.constant(Array.from({ length: H * W }, (_, i) => (Math.floor(i / W) % k) * k + ((i % W) % k)), dt, [1, 1, H, W]);
  const firstUp = up(b.op1('Reshape', [castTo(b, first, 'float32'), shapeValue(b, dY)]));
  return maskedBy(b, up(dY), b.op1('Equal', [firstUp, tapOf]));
}

/** dX = dY scattered to the flat positions MaxPool's Indices recorded (summed where windows overlap). */
function maxGradIndices(b: Emitter, x: string, indices: string, dY: string, w: Window): string {
  const dt = b.dtype(x);
  const overlap = w.kernel.some((k, i) => k > w.strides[i]);
  if (!overlap && dt === 'float32') {
    return b.op1('MaxUnpool', [dY, indices, b.op1('Shape', [x])], { kernel_shape: w.kernel, strides: w.strides, pads: w.pads });
  }
  const flat = b.constant([-1], 'int64');
  const zeros = b.op1('Expand', [b.constant(0, dt), b.op1('Reshape', [b.op1('Size', [x]), b.constant([1], 'int64')])]);
  const summed = b.op1('ScatterElements', [zeros, b.op1('Reshape', [indices, flat]), b.op1('Reshape', [dY, flat])], { reduction: 'add' });
  return b.op1('Reshape', [summed, b.op1('Shape', [x])]);
}
