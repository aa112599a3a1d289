/**
 * Pooling rules.
 *
 * MaxPool node contract (what a layer emits into a training graph):
 * - 2-D NCHW input, dilations 1, storage_order 0; any kernel, strides, pads.
 * - Prefer ONE output [Y]. Where kernel == strides, kh == kw, no pads and H, W are multiples of the
 *   kernel (every reference model), the rule finds each window's first maximum from X alone
 *   (Transpose, ArgMax, Resize; see maxGradBlocks). onnxruntime's MaxPool with an Indices output runs
 *   ~15x slower than without one (on [64,16,28,28] k2 s2: 2.5 ms vs 0.15 ms), so this beats Indices +
 *   MaxUnpool (scripts/bench_ops.ts: [64,16,28,28] 2.3 vs 3.4 ms, [64,32,14,14] 1.2 vs 1.75 ms).
 * - Two outputs [Y, Indices] (Indices int64, ONNX's flat index into X) are also accepted: the rule then
 *   routes dY through them (MaxUnpool, or ScatterElements with reduction 'add' where windows overlap).
 * - With one output and any other geometry, the rule adds its own MaxPool with Indices to the backward.
 * Either way the gradient goes to the FIRST maximum of each window in row-major order, as PyTorch's
 * max_pool2d does; tied maxima (Fashion-MNIST's -1 background) get nothing.
 */
import { attrInt, type Dim, type Node, type ValueInfo } from '../graph/ir.js';
import { numel } from '../graph/tensor.js';
import { castTo, shapeValue, sizeOf } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';
import { staticSpatial, windowOf, windowOutput, type Window } from './window.js';

/**
 * dX[first argmax of each window] = dY. ArgMax over each window's taps (laid out innermost by one
 * Transpose) returns the first maximum in row-major order (PyTorch's choice); that tap number and dY are
 * brought back to X's grid by nearest-neighbour Resize, and dY flows where a position's own tap number
 * matches. Measured against the earlier Equal/CumSum/DepthToSpace formulation (scripts/bench_ops.ts, one
 * thread, batch 64): [64,16,28,28] 2.15 vs 2.85 ms, [64,32,28,28] 4.1 vs 6.8 ms, [64,64,14,14] 2.2 vs 3.1 ms;
 * ArgMax over the taps as SpaceToDepth lays them out (strided) came between (2.4, 5.4, 2.6 ms).
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
  return b.op1('Where', [b.op1('Equal', [firstUp, tapOf]), up(dY), b.constant(0, dt)]);
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

/** 1 / (number of input elements each output window covers), excluding padding: [1, 1, Ho, Wo]. */
function inverseCounts(w: Window, [H, W]: number[], [Ho, Wo]: number[]): number[] {
  const span = (o: number, s: number, p: number, k: number, n: number) => Math.min(o * s - p + k, n) - Math.max(o * s - p, 0);
  const out: number[] = [];
  for (let i = 0; i < Ho; i++) {
    for (let j = 0; j < Wo; j++) {
      out.push(1 / (span(i, w.strides[0], w.pads[0], w.kernel[0], H) * span(j, w.strides[1], w.pads[1], w.kernel[1], W)));
    }
  }
  return out;
}

function checkPool2d(opType: string, b: Emitter, n: Node): number[] {
  const xs = b.shape(n.inputs[0]);
  if (xs.length !== 4) throw new Error(`${opType} gradient: only 2-D pooling (NCHW) is supported, got input [${xs}] (node '${n.name}')`);
  return staticSpatial(opType, xs);
}

const pooledShape = (ins: (ValueInfo | undefined)[], n: Node): Dim[] | undefined => {
  const x = ins[0]!.shape;
  return x ? [x[0], x[1], ...windowOutput(windowOf(n, x.slice(2)), x.slice(2))] : undefined;
};

export const pool: RuleTable = {
  // Y = max over each window of X  =>  dX = dY at the window's first maximum (row-major), 0 elsewhere
  MaxPool: {
    infer: (ins, n) => {
      const shape = pooledShape(ins, n);
      return [{ dtype: ins[0]!.dtype, shape }, { dtype: 'int64', shape }];
    },
    grad: ({ b }, n, [dY]) => {
      if (!dY) throw new Error(`MaxPool gradient: only Y (not Indices) can carry a gradient (node '${n.name}')`);
      const x = n.inputs[0];
      const [H, W] = checkPool2d('MaxPool', b, n);
      const w = windowOf(n, [H, W]);
      if (w.dilations.some((d) => d !== 1)) throw new Error(`MaxPool gradient: only dilations 1 are supported (node '${n.name}')`);
      if (attrInt(n, 'storage_order', 0) !== 0) throw new Error(`MaxPool gradient: only storage_order 0 is supported (node '${n.name}')`);
      if (n.outputs[1]) return [maxGradIndices(b, x, n.outputs[1], dY, w)];
      const [kh, kw] = w.kernel;
      const blocks = kh === kw && w.strides.every((s) => s === kh) && w.pads.every((p) => p === 0) && H % kh === 0 && W % kw === 0;
      if (blocks) return [maxGradBlocks(b, x, dY, kh, [H, W])];
      const [, indices] = b.op('MaxPool', [x], n.attrs, { outputs: 2 });
      return [maxGradIndices(b, x, indices, dY, w)];
    },
  },
  // Y = mean over each window (divisor k k, or the count of non-pad elements when count_include_pad=0)
  //   =>  dX = ConvTranspose(dY / divisor, ones(k)) over each channel
  AveragePool: {
    infer: (ins, n) => [{ dtype: ins[0]!.dtype, shape: pooledShape(ins, n) }],
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const dt = b.dtype(x);
      const [H, W] = checkPool2d('AveragePool', b, n);
      const w = windowOf(n, [H, W]);
      if (w.ceil) throw new Error(`AveragePool gradient: ceil_mode=1 is not supported (node '${n.name}'); use ceil_mode 0`);
      const [Ho, Wo] = staticSpatial('AveragePool', b.shape(n.outputs[0]));
      const [kh, kw] = w.kernel;
      const dYc = b.op1('Reshape', [dY!, b.constant([-1, 1, Ho, Wo], 'int64')]);
      const padded = w.pads.some((p) => p !== 0);
      const scale = attrInt(n, 'count_include_pad', 0) || !padded
        ? b.constant(1 / (kh * kw), dt)
        : b.constant(inverseCounts(w, [H, W], [Ho, Wo]), dt, [1, 1, Ho, Wo]);
      const outputPadding = [
        H - ((Ho - 1) * w.strides[0] + kh - w.pads[0] - w.pads[2]),
        W - ((Wo - 1) * w.strides[1] + kw - w.pads[1] - w.pads[3]),
      ];
      const spread = b.op1('ConvTranspose', [b.op1('Mul', [dYc, scale]), b.constant(new Array<number>(kh * kw).fill(1), dt, [1, 1, kh, kw])], {
        kernel_shape: w.kernel, pads: w.pads, strides: w.strides,
        ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
      });
      return [b.op1('Reshape', [spread, shapeValue(b, x)])];
    },
  },
  // Y[n,c] = mean of X[n,c] over all spatial positions  =>  dX = dY broadcast / (H W)
  GlobalAveragePool: {
    infer: (ins) => {
      const x = ins[0]!.shape;
      return [{ dtype: ins[0]!.dtype, shape: x ? [x[0], x[1], ...x.slice(2).map(() => 1)] : undefined }];
    },
    grad: ({ b }, n, [dY]) => {
      const x = n.inputs[0];
      const spatial = b.shape(x).slice(2);
      const wide = b.op1('Expand', [dY!, b.op1('Shape', [x])]);
      if (spatial.every((d) => typeof d === 'number')) {
        return [b.op1('Mul', [wide, b.constant(1 / numel(spatial as number[]), b.dtype(x))])];
      }
      const count = b.op1('Div', [sizeOf(b, x), castTo(b, b.op1('Size', [dY!]), b.dtype(x))]);
      return [b.op1('Div', [wide, count])];
    },
  },
};
