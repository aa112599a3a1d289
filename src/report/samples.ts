import { makeDir } from '../util/fsx.js';
import path from 'node:path';
import sharp from 'sharp';

export interface SampleImagesSettings {
  /** Folder to write PNGs into, e.g. `<run>/samples`; created if missing. */
  dir: string;
  /** uint8 pixels of n images, each C x H x W, channel-major (as the dataset loaders hold them). */
  images: Uint8Array;
  labels: ArrayLike<number>;
  /** [C, H, W]; C is 1 or 3. */
  shape: readonly [number, number, number];
  classNames: readonly string[];
  /** Images per class, taken in dataset order; default 1. */
  perClass?: number;
}

/** A class name as it appears in sample file names: `T-shirt/top` -> `t-shirt-top`. */
export function classSlug(name: string, index: number): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || `class-${index}`;
}

/**
 * Write the first `perClass` images of each class as PNGs named `<index>-<class>.png` (lossless, so the
 * page and `predict` see the dataset's own pixels). Returns the paths written, in class order.
 */
export async function writeSampleImages(settings: SampleImagesSettings): Promise<string[]> {
  const { dir, images, labels, shape, classNames, perClass = 1 } = settings;
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new Error(`writeSampleImages: shape [${shape}] must have 1 or 3 channels`);
  const per = c * h * w;
  if (images.length < labels.length * per) throw new Error(`writeSampleImages: ${images.length} bytes for ${labels.length} images of [${shape}]`);
  const picked = classNames.map(() => [] as number[]);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    if (picked[k] && picked[k].length < perClass) picked[k].push(i);
  }
  await makeDir(dir);
  const written: string[] = [];
  let n = 0;
  for (const [k, indices] of picked.entries()) {
    for (const i of indices) {
      // CHW planes -> HWC interleaved, as image files store pixels.
      const hwc = Buffer.alloc(per);
      for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) hwc[p * c + ch] = images[i * per + ch * h * w + p];
      const slug = classSlug(classNames[k], k);
      const file = path.join(dir, `${String(n++).padStart(2, '0')}-${slug}.png`);
      const img = sharp(hwc, { raw: { width: w, height: h, channels: c } });
      await (c === 1 ? img.toColourspace('b-w') : img).png().toFile(file);
      written.push(file);
    }
  }
  return written;
}
