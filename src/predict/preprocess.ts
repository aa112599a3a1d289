import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OutputInfo } from 'sharp';
import { defaultFit, fileInput, MAX_IMAGE_PIXELS, tooLargeMessage, type Fit, type Frame, type RgbaImage } from './pixels.js';

export interface PreprocessSettings {
  /** [C, H, W] the model expects; C is 1 (grey) or 3 (RGB). */
  inputShape: readonly number[];
  /** Per-channel normalisation after scaling to 0..1: (x - mean) / std. */
  normalization: { mean: readonly number[]; std: readonly number[] };
  /** Invert values (255 - v) for dark-on-light photos; 'auto': when lightBackground says so. Default false. */
  invert?: boolean | 'auto';
  /** How the image fills the model's frame (pixels.ts step 3); default defaultFit(inputShape). */
  fit?: Fit;
}

export interface ModelInput {
  /** [1, C, H, W]. */
  dims: number[];
  data: Float32Array;
  /** Whether the values were inverted. */
  inverted: boolean;
  /** The fit used and the part of the image the model saw. */
  fit: Fit;
  frame: Frame;
}

/** An image's bytes or path, named for error messages. */
async function readImage(image: Uint8Array | string): Promise<{ bytes: Uint8Array; name: string }> {
  if (typeof image !== 'string') return { bytes: image, name: 'image buffer' };
  try {
    return { bytes: await readFile(image), name: `'${image}'` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `image '${image}' does not exist; check the path` : `cannot read image '${image}': ${(e as Error).message}`);
  }
}

/**
 * Decode any format sharp reads (PNG, JPEG, WebP, GIF, TIFF, AVIF, SVG) to 8-bit RGBA, applying EXIF
 * orientation as browsers do. Images over MAX_IMAGE_PIXELS are refused with the limit and the fix. Grey and grey+alpha are expanded to RGBA as a browser canvas does.
 */
export async function decodeImage(image: Uint8Array | string): Promise<RgbaImage> {
  const { bytes, name } = await readImage(image);
  let out: { data: Buffer; info: OutputInfo };
  // The header alone gives the size: refuse a huge image before decoding it.
  const size = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => undefined);
  if (size?.width && size.height && size.width * size.height > MAX_IMAGE_PIXELS) throw new Error(tooLargeMessage(name, size.width, size.height));
  try {
    out = await sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS }).autoOrient().toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    const hint = typeof image === 'string' ? ` (${path.extname(image) || 'no extension'})` : '';
    throw new Error(`${name}${hint} is not an image that can be decoded (${(e as Error).message}); give a PNG, JPEG, WebP, GIF, TIFF or AVIF file`);
  }
  const { width, height, channels } = out.info;
  if (channels !== 4) throw new Error(`${name}: decoded to ${channels} channels, expected RGBA`);
  return { width, height, data: new Uint8Array(out.data.buffer, out.data.byteOffset, width * height * 4) };
}

/** One image as the model's input tensor [1, C, H, W]; see pixels.ts for the exact steps. */
export async function preprocess(image: Uint8Array | string, settings: PreprocessSettings): Promise<ModelInput> {
  const img = await decodeImage(image);
  const fit = settings.fit ?? defaultFit(settings.inputShape);
  const { input, frame, inverted } = fileInput(img, {
    inputShape: settings.inputShape,
    mean: settings.normalization.mean,
    std: settings.normalization.std,
    fit,
  }, settings.invert ?? false);
  return { dims: [1, ...settings.inputShape], data: input, inverted, fit, frame };
}
