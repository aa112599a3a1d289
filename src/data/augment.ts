/**
 * Seeded augmentation of normalized float32 NCHW batches, in place, per image in this order:
 * random crop after padding, horizontal flip, rotation (bilinear), colour jitter (torchvision
 * ColorJitter semantics: brightness, contrast, saturation in a random order, clamped to [0,1] in pixel
 * space). Padding and rotation fill with black (pixel 0), i.e. (0 - mean) / std after normalization.
 * Random draws depend only on the settings and the generator, so a seed reproduces an epoch exactly.
 */
import { channelStats, DEFAULT_NORMALIZATION, type Normalization } from './normalize.js';
import type { Rng } from './rng.js';

export interface AugmentSettings {
  /** Random crop back to the original size after padding each side by this many pixels; 0 disables. Default 0. */
  cropPadding?: number;
  /** Probability of a horizontal flip. Default 0. */
  flipProbability?: number;
  /** Maximum rotation in degrees; the angle is uniform in [-d, d]. Default 0. */
  rotationDegrees?: number;
  /** Brightness factor uniform in [max(0, 1 - b), 1 + b]. Default 0. */
  brightness?: number;
  /** Contrast factor uniform in [max(0, 1 - c), 1 + c], blended with the image's mean grey. Default 0. */
  contrast?: number;
  /** Saturation factor uniform in [max(0, 1 - s), 1 + s], blended with each pixel's grey (3 channels only). Default 0. */
  saturation?: number;
  /** The normalization the batch carries. Default mean 0.5, std 0.5. */
  normalization?: Normalization;
}

/** Named single augmentations with the strengths the reference experiments use; combine by spreading. */
export const AUGMENTATIONS = {
  flip: { flipProbability: 0.5 },
  crop: { cropPadding: 4 },
  jitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2 },
  rotation: { rotationDegrees: 10 },
} satisfies Record<string, AugmentSettings>;

export type AugmentationName = keyof typeof AUGMENTATIONS;

/** Settings combining the named augmentations, e.g. ['flip', 'crop']; throws naming an unknown one. */
export function augmentationFromNames(names: string[]): AugmentSettings {
  const settings: AugmentSettings = {};
  for (const name of names) {
    if (!(name in AUGMENTATIONS)) throw new Error(`unknown augmentation "${name}": choose from ${Object.keys(AUGMENTATIONS).join(', ')}`);
    Object.assign(settings, AUGMENTATIONS[name as AugmentationName]);
  }
  return settings;
}

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

export class Augmenter {
  private readonly scratch: Float32Array;
  private readonly fill: Float32Array;
  private readonly mean: Float32Array;
  private readonly std: Float32Array;
  private readonly order = new Int32Array([0, 1, 2]);

  constructor(readonly shape: ImageShape, readonly settings: AugmentSettings) {
    const { channels, height, width } = shape;
    const stats = channelStats(settings.normalization ?? DEFAULT_NORMALIZATION, channels);
    this.mean = Float32Array.from(stats.mean);
    this.std = Float32Array.from(stats.std);
    this.fill = Float32Array.from(stats.mean, (m, c) => -m / stats.std[c]);
    this.scratch = new Float32Array(channels * height * width);
    const p = settings.cropPadding ?? 0;
    if (!Number.isInteger(p) || p < 0) throw new Error(`crop padding ${p} must be a non-negative integer`);
    const fp = settings.flipProbability ?? 0;
    if (!(fp >= 0 && fp <= 1)) throw new Error(`flip probability ${fp} is outside [0, 1]`);
    for (const k of ['rotationDegrees', 'brightness', 'contrast', 'saturation'] as const) {
      const v = settings[k] ?? 0;
      if (!(v >= 0 && Number.isFinite(v))) throw new Error(`augmentation ${k} ${v} must be a non-negative number`);
    }
  }

  /** True when the settings change nothing (apply() is then a no-op that draws no random numbers). */
  get isIdentity(): boolean {
    const s = this.settings;
    return !(s.cropPadding || s.flipProbability || s.rotationDegrees || s.brightness || s.contrast || s.saturation);
  }

  /** Augments the first n images of `images` in place. */
  apply(images: Float32Array, n: number, rng: Rng): void {
    const { channels, height, width } = this.shape;
    const size = channels * height * width;
    if (images.length < n * size) throw new Error(`Augmenter.apply: ${images.length} values for ${n} images of ${channels}x${height}x${width}`);
    const s = this.settings;
    const pad = s.cropPadding ?? 0;
    const maxAngle = ((s.rotationDegrees ?? 0) * Math.PI) / 180;
    for (let i = 0; i < n; i++) {
      const off = i * size;
      if (pad > 0) {
        const dx = rng.int(2 * pad + 1) - pad;
        const dy = rng.int(2 * pad + 1) - pad;
        shiftImage(images, off, this.shape, dx, dy, this.fill, this.scratch);
      }
      if (s.flipProbability && rng.nextFloat() < s.flipProbability) hflipImage(images, off, this.shape);
      if (maxAngle > 0) rotateImage(images, off, this.shape, rng.uniform(-maxAngle, maxAngle), this.fill, this.scratch);
      if (s.brightness || s.contrast || s.saturation) this.jitter(images, off, rng);
    }
  }

  private jitter(images: Float32Array, off: number, rng: Rng): void {
    const s = this.settings;
    // A fresh permutation per image (torchvision's randperm), so one image's result depends only on the
    // generator state, not on which images this Augmenter saw before (exact resume needs that).
    this.order.set([0, 1, 2]);
    rng.shuffle(this.order);
    const factors = [NaN, NaN, NaN];
    for (const t of this.order) {
      // Saturation needs colour: on one channel it is skipped (and draws nothing).
      const strength = t === 0 ? s.brightness : t === 1 ? s.contrast : this.shape.channels === 3 ? s.saturation : 0;
      if (strength) factors[t] = rng.uniform(Math.max(0, 1 - strength), 1 + strength);
    }
    if (factors.every(Number.isNaN)) return;
    colourJitter(images, off, this.shape, this.order, factors, this.mean, this.std, this.scratch);
  }
}

/**
 * Translates one image by (dx, dy): out(y, x) = in(y + dy, x + dx), fill outside. A random crop of the
 * image padded by p on each side is exactly this with dx, dy uniform in [-p, p].
 */
export function shiftImage(
  images: Float32Array, off: number, shape: ImageShape, dx: number, dy: number, fill: Float32Array, scratch: Float32Array,
): void {
  const { channels, height, width } = shape;
  const plane = height * width;
  scratch.set(images.subarray(off, off + channels * plane));
  const x0 = Math.max(0, -dx), x1 = Math.min(width, width - dx);
  for (let c = 0; c < channels; c++) {
    const base = off + c * plane;
    const f = fill[c];
    for (let y = 0; y < height; y++) {
      const row = base + y * width;
      const sy = y + dy;
      if (sy < 0 || sy >= height || x0 >= x1) {
        images.fill(f, row, row + width);
        continue;
      }
      images.fill(f, row, row + x0);
      const src = c * plane + sy * width + dx;
      images.set(scratch.subarray(src + x0, src + x1), row + x0);
      images.fill(f, row + x1, row + width);
    }
  }
}

/** Mirrors one image left-right in place; applying it twice restores the image. */
export function hflipImage(images: Float32Array, off: number, shape: ImageShape): void {
  const { channels, height, width } = shape;
  for (let r = 0; r < channels * height; r++) {
    let a = off + r * width;
    let b = a + width - 1;
    while (a < b) {
      const t = images[a];
      images[a++] = images[b];
      images[b--] = t;
    }
  }
}

/**
 * Rotates one image by `angle` radians (counter-clockwise on screen) about its centre ((w-1)/2, (h-1)/2).
 * Each output pixel samples the input at the inversely rotated position, bilinearly; neighbours outside
 * the image count as `fill`.
 */
export function rotateImage(
  images: Float32Array, off: number, shape: ImageShape, angle: number, fill: Float32Array, scratch: Float32Array,
): void {
  const { channels, height, width } = shape;
  const plane = height * width;
  scratch.set(images.subarray(off, off + channels * plane));
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) {
    const ry = y - cy;
    for (let x = 0; x < width; x++) {
      const rx = x - cx;
      // Inverse rotation in image coordinates (y down): source = R(angle) applied to the output offset.
      const sx = cos * rx - sin * ry + cx;
      const sy = sin * rx + cos * ry + cy;
      const fx = Math.floor(sx), fy = Math.floor(sy);
      const ax = sx - fx, ay = sy - fy;
      const w00 = (1 - ax) * (1 - ay), w10 = ax * (1 - ay), w01 = (1 - ax) * ay, w11 = ax * ay;
      const i00 = fy * width + fx;
      const o = off + y * width + x;
      if (fx >= 0 && fy >= 0 && fx + 1 < width && fy + 1 < height) {
        for (let p = 0; p < channels * plane; p += plane) {
          images[o + p] = w00 * scratch[p + i00] + w10 * scratch[p + i00 + 1] + w01 * scratch[p + i00 + width] + w11 * scratch[p + i00 + width + 1];
        }
        continue;
      }
      const inX0 = fx >= 0 && fx < width, inX1 = fx + 1 >= 0 && fx + 1 < width;
      const inY0 = fy >= 0 && fy < height, inY1 = fy + 1 >= 0 && fy + 1 < height;
      for (let c = 0; c < channels; c++) {
        const p = c * plane;
        const f = fill[c];
        images[o + p] =
          w00 * (inX0 && inY0 ? scratch[p + i00] : f) + w10 * (inX1 && inY0 ? scratch[p + i00 + 1] : f)
          + w01 * (inX0 && inY1 ? scratch[p + i00 + width] : f) + w11 * (inX1 && inY1 ? scratch[p + i00 + width + 1] : f);
      }
    }
  }
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * torchvision ColorJitter on one normalized image, in [0,1] pixel units (x * std + mean), clamping after
 * each step. `order` lists the steps (0 brightness, 1 contrast, 2 saturation); a factor of NaN skips a step.
 *   brightness: p' = f p
 *   contrast:   p' = f p + (1 - f) mean(grey(image))
 *   saturation: p' = f p + (1 - f) grey(pixel)          (RGB only)
 * with grey = 0.299 R + 0.587 G + 0.114 B (ITU-R 601, as rgb_to_grayscale).
 */
export function colourJitter(
  images: Float32Array, off: number, shape: ImageShape, order: ArrayLike<number>, factors: ArrayLike<number>,
  mean: Float32Array, std: Float32Array, scratch: Float32Array,
): void {
  const { channels } = shape;
  const plane = shape.height * shape.width;
  const size = channels * plane;
  for (let c = 0; c < channels; c++) {
    const m = mean[c], sd = std[c];
    for (let k = c * plane, end = k + plane; k < end; k++) scratch[k] = images[off + k] * sd + m;
  }
  const rgb = channels === 3;
  for (let o = 0; o < order.length; o++) {
    const step = order[o];
    const f = factors[step];
    if (Number.isNaN(f)) continue;
    if (step === 0) {
      for (let k = 0; k < size; k++) scratch[k] = clamp01(f * scratch[k]);
    } else if (step === 1) {
      let grey = 0;
      if (rgb) {
        for (let k = 0; k < plane; k++) grey += 0.299 * scratch[k] + 0.587 * scratch[plane + k] + 0.114 * scratch[2 * plane + k];
        grey /= plane;
      } else {
        for (let k = 0; k < size; k++) grey += scratch[k];
        grey /= size;
      }
      const g = (1 - f) * grey;
      for (let k = 0; k < size; k++) scratch[k] = clamp01(f * scratch[k] + g);
    } else if (rgb) {
      for (let k = 0; k < plane; k++) {
        const g = (1 - f) * (0.299 * scratch[k] + 0.587 * scratch[plane + k] + 0.114 * scratch[2 * plane + k]);
        scratch[k] = clamp01(f * scratch[k] + g);
        scratch[plane + k] = clamp01(f * scratch[plane + k] + g);
        scratch[2 * plane + k] = clamp01(f * scratch[2 * plane + k] + g);
      }
    }
  }
  for (let c = 0; c < channels; c++) {
    const m = mean[c], inv = 1 / std[c];
    for (let k = c * plane, end = k + plane; k < end; k++) images[off + k] = (scratch[k] - m) * inv;
  }
}
