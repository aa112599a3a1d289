/** The in-memory shapes every dataset loader returns. */

/** One split of raw images: uint8 pixels, NCHW (channel planes per image), one label byte per image. */
export interface RawSplit {
  /** n * channels * height * width bytes, image-major, then channel, row, column. */
  images: Uint8Array;
  /** n class indices. */
  labels: Uint8Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}

export interface RawDataset {
  train: RawSplit;
  test: RawSplit;
}

/** Throws naming `label` unless the split's arrays agree with its shape and every label is below numClasses. */
export function checkRawSplit(split: RawSplit, label: string, numClasses: number, fix: string): void {
  const { n, channels, height, width } = split;
  if (split.images.length !== n * channels * height * width) {
    throw new Error(`${label}: ${split.images.length} pixel bytes for ${n}x${channels}x${height}x${width} images: ${fix}`);
  }
  if (split.labels.length !== n) throw new Error(`${label}: ${split.labels.length} labels for ${n} images: ${fix}`);
  for (let i = 0; i < n; i++) {
    if (split.labels[i] >= numClasses) {
      throw new Error(`${label}: label ${split.labels[i]} at index ${i} is outside 0..${numClasses - 1}: ${fix}`);
    }
  }
}

/** Images and labels of `split` at `indices`, as a new RawSplit (e.g. the validation part of a training set). */
export function subsetRawSplit(split: RawSplit, indices: ArrayLike<number>): RawSplit {
  const size = split.channels * split.height * split.width;
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < split.n)) throw new Error(`subsetRawSplit: index ${i} is outside 0..${split.n - 1}`);
    images.set(split.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = split.labels[i];
  }
  return { images, labels, n: indices.length, channels: split.channels, height: split.height, width: split.width };
}
