import { attrInt, attrInts, attrString, type Dim, type Node } from '../graph/ir.js';

/** The resolved geometry of a sliding-window op (Conv, pooling) over its spatial axes. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** ONNX order: all begins, then all ends. */
  pads: number[];
  ceil: boolean;
}

/**
 * Kernel, strides, dilations and explicit pads of a window op, with auto_pad resolved against the input's
 * spatial sizes (SAME_* needs them static). `kernel` comes from kernel_shape or, for Conv, the weight.
 */
export function windowOf(n: Node, spatial: Dim[], kernelFromWeight?: Dim[]): Window {
  const r = spatial.length;
  const kernel = attrInts(n, 'kernel_shape') ?? kernelFromWeight?.map((d) => {
    if (typeof d !== 'number') throw new Error(`${n.opType}: kernel size must be static`);
    return d;
  });
  if (!kernel || kernel.length !== r) throw new Error(`${n.opType} '${n.name}': needs kernel_shape with ${r} entries`);
  const strides = attrInts(n, 'strides') ?? kernel.map(() => 1);
  const dilations = attrInts(n, 'dilations') ?? kernel.map(() => 1);
  let pads = attrInts(n, 'pads') ?? new Array<number>(2 * r).fill(0);
  const auto = attrString(n, 'auto_pad', 'NOTSET');
  if (auto === 'VALID') pads = new Array<number>(2 * r).fill(0);
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = new Array<number>(2 * r).fill(0);
    spatial.forEach((d, i) => {
      if (typeof d !== 'number') throw new Error(`${n.opType}: auto_pad ${auto} needs static spatial sizes`);
      const out = Math.ceil(d / strides[i]);
      const total = Math.max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - d, 0);
      const small = Math.floor(total / 2);
      pads[i] = auto === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i];
    });
  } else if (auto !== 'NOTSET') throw new Error(`${n.opType}: unknown auto_pad '${auto}'`);
  return { kernel, strides, dilations, pads, ceil: attrInt(n, 'ceil_mode', 0) === 1 };
}

/** Output size of each spatial axis: floor (or ceil) of (in + pads - dilated kernel) / stride, plus 1. */
export function windowOutput(w: Window, spatial: Dim[]): Dim[] {
  const r = spatial.length;
  return spatial.map((d, i) => {
    if (typeof d !== 'number') return `${d}'`;
    const span = d + w.pads[i] + w.pads[i + r] - ((w.kernel[i] - 1) * w.dilations[i] + 1);
    const round = w.ceil ? Math.ceil : Math.floor;
    let out = round(span / w.strides[i]) + 1;
    // ONNX/PyTorch ceil mode: the last window must start inside the input or its left padding.
    if (w.ceil && (out - 1) * w.strides[i] >= d + w.pads[i]) out -= 1;
    return out;
  });
}

/** Spatial sizes as numbers, or a clear error naming the op when one is symbolic. */
export function staticSpatial(opType: string, shape: Dim[] | undefined): number[] {
  if (!shape) throw new Error(`${opType} gradient: input shape is not known`);
  const s = shape.slice(2);
  if (!s.every((d) => typeof d === 'number')) throw new Error(`${opType} gradient: spatial sizes must be static, got [${shape}]`);
  return s as number[];
}
