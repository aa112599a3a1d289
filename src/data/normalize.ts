/** uint8 pixels -> float32 NCHW, per channel (x/255 - mean) / std, as torchvision's ToTensor + Normalize. */
import type { RawSplit } from './dataset.js';

export interface Normalization {
  /** Per-channel mean in [0,1] pixel units; one value applies to every channel. */
  mean: number[];
  /** Per-channel standard deviation; one value applies to every channel. */
  std: number[];
}

/** The reference normalization for both datasets: maps [0,1] to [-1,1]. */
export const DEFAULT_NORMALIZATION: Normalization = { mean: [0.5], std: [0.5] };

/** A split whose images are normalized float32 NCHW. */
export interface NormalizedSplit {
  images: Float32Array;
  labels: Uint8Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}

/** Mean and std for each of `channels` channels, broadcasting single values; throws on bad settings. */
export function channelStats(norm: Normalization, channels: number): { mean: number[]; std: number[] } {
  const expand = (v: number[], what: string): number[] => {
    if (v.length === 1) return new Array<number>(channels).fill(v[0]);
    if (v.length !== channels) throw new Error(`normalization ${what} has ${v.length} values for ${channels} channels: give 1 or ${channels}`);
    return v;
  };
  const mean = expand(norm.mean, 'mean');
  const std = expand(norm.std, 'std');
  if (std.some((s) => !(s > 0))) throw new Error(`normalization std [${std}] must be positive: fix the std values`);
  return { mean, std };
}

/**
 * Lookup table [channel * 256 + pixel]. Each step is rounded to float32 in the order PyTorch computes it
 * (x.float() / 255, then - mean, then / std); double rounding through float64 is exact for + - * /, so
 * the table equals PyTorch's float32 results bit for bit.
 */
export function normalizationTable(norm: Normalization, channels: number): Float32Array {
  const { mean, std } = channelStats(norm, channels);
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
  }
  return lut;
}

/** Normalizes n images of channels x plane pixels into `out` (allocated when absent). */
export function normalizeImages(
  pixels: Uint8Array, n: number, channels: number, plane: number,
  norm: Normalization = DEFAULT_NORMALIZATION, out?: Float32Array,
): Float32Array {
  const total = n * channels * plane;
  if (pixels.length < total) throw new Error(`normalizeImages: ${pixels.length} pixels for ${n}x${channels}x${plane}`);
  const dst = out ?? new Float32Array(total);
  if (dst.length < total) throw new Error(`normalizeImages: output holds ${dst.length} values, needs ${total}`);
  const lut = normalizationTable(norm, channels);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) {
      const base = c * 256;
      for (let p = 0; p < plane; p++, k++) dst[k] = lut[base + pixels[k]];
    }
  }
  return dst;
}

export function normalizeSplit(split: RawSplit, norm: Normalization = DEFAULT_NORMALIZATION): NormalizedSplit {
  const { n, channels, height, width } = split;
  return {
    images: normalizeImages(split.images, n, channels, height * width, norm),
    labels: split.labels, n, channels, height, width,
  };
}
