import type { RgbaImage } from '../../predict/pixels.js';

/**
 * Decode an image file to RGBA bytes at its own size, as Node's sharp does: EXIF orientation applied,
 * colours in sRGB. The canvas stores colours premultiplied by alpha, so a semi-transparent pixel reads back
 * with a colour that rounds to the same round(c * a / 255) that pixels.ts composites with; the model input
 * then equals Node's.
 */
export async function decodeBlob(blob: Blob, name: string): Promise<RgbaImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch {
    throw new Error(`“${name}” is not an image this browser can read. Choose a PNG, JPEG, WebP or GIF file.`);
  }
  return bitmapPixels(bitmap);
}

export function bitmapPixels(source: ImageBitmap | HTMLCanvasElement): RgbaImage {
  const { width, height } = source;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser cannot read canvas pixels; try a current Chrome, Edge, Firefox or Safari.');
  ctx.drawImage(source, 0, 0);
  const { data } = ctx.getImageData(0, 0, width, height);
  return { width, height, data };
}
