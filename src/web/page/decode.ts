import { MAX_IMAGE_PIXELS, tooLargeMessage, type RgbaImage } from '../../predict/pixels.js';

/**
 * Width and height from a PNG, GIF, WebP or JPEG header, without decoding; undefined for other formats or
 * a header this does not understand (the decoder then decides).
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ascii = (at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
  if (b.length >= 24 && v.getUint32(0) === 0x89504e47 && ascii(12, 4) === 'IHDR') return { width: v.getUint32(16), height: v.getUint32(20) };
  if (b.length >= 10 && ascii(0, 4) === 'GIF8') return { width: v.getUint16(6, true), height: v.getUint16(8, true) };
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const kind = ascii(12, 4);
    if (kind === 'VP8X') return { width: 1 + (v.getUint32(24, true) & 0xffffff), height: 1 + (v.getUint32(27, true) & 0xffffff) };
    if (kind === 'VP8L') {
      const bits = v.getUint32(21, true);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
    if (kind === 'VP8 ') return { width: v.getUint16(26, true) & 0x3fff, height: v.getUint16(28, true) & 0x3fff };
  }
  if (b.length >= 4 && v.getUint16(0) === 0xffd8) {
    // JPEG: walk the markers to the first start-of-frame (SOF0-15 except DHT, JPG and DAC).
    let at = 2;
    while (at + 9 < b.length && b[at] === 0xff) {
      const marker = b[at + 1];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: v.getUint16(at + 7), height: v.getUint16(at + 5) };
      }
      at += 2 + v.getUint16(at + 2);
    }
  }
  return undefined;
}

/**
 * Decode an image file to RGBA bytes at its own size, as Node's sharp does: EXIF orientation applied,
 * colours in sRGB. The canvas stores colours premultiplied by alpha, so a semi-transparent pixel reads back
 * with a colour that rounds to the same round(c * a / 255) that pixels.ts composites with; the model input
 * then equals Node's. Images over MAX_IMAGE_PIXELS are refused before decoding (past the canvas limit a
 * browser would hand back black pixels without an error). With `preview` > 0, also a copy of the image
 * that fits in preview x preview pixels, for the page to show. Runs on the page or in a worker.
 */
export async function decodeBlob(blob: Blob, name: string, preview = 0): Promise<{ image: RgbaImage; preview?: ImageBitmap }> {
  const quoted = `“${name}”`;
  if (blob.type === 'image/svg+xml' || /\.svgz?$/i.test(name)) {
    throw new Error(`${quoted} is an SVG drawing; this page classifies pixel images. Export it as a PNG first (or take a screenshot of it) and give that.`);
  }
  const size = headerSize(new Uint8Array(await blob.slice(0, 256 * 1024).arrayBuffer()));
  if (size && size.width * size.height > MAX_IMAGE_PIXELS) throw new Error(tooLargeMessage(quoted, size.width, size.height));
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch {
    throw new Error(`${quoted} is not an image this browser can read. Choose a PNG, JPEG, WebP or GIF file.`);
  }
  try {
    if (bitmap.width * bitmap.height > MAX_IMAGE_PIXELS) throw new Error(tooLargeMessage(quoted, bitmap.width, bitmap.height));
    const image = bitmapPixels(bitmap);
    if (!(preview > 0)) return { image };
    const scale = Math.min(1, preview / Math.max(bitmap.width, bitmap.height));
    const small = await createImageBitmap(bitmap, {
      resizeWidth: Math.max(1, Math.round(bitmap.width * scale)), resizeHeight: Math.max(1, Math.round(bitmap.height * scale)), resizeQuality: 'medium',
    });
    return { image, preview: small };
  } finally {
    bitmap.close();
  }
}

/** The RGBA pixels of a bitmap or canvas at its own size. */
export function bitmapPixels(source: ImageBitmap | HTMLCanvasElement): RgbaImage {
  const { width, height } = source;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser cannot read canvas pixels; try a current Chrome, Edge, Firefox or Safari.');
  ctx.drawImage(source, 0, 0);
  const { data } = ctx.getImageData(0, 0, width, height);
  return { width, height, data };
}
