/**
 * Image -> model input, as one pure function over RGBA bytes. Node (after sharp decodes) and the web page
 * (after canvas getImageData) both call this same code, so for the same decoded pixels they feed the model
 * bit-identical floats. No imports: the exporter copies this module into the static page as it is.
 *
 * The steps, in order:
 * 1. alpha: each colour is composited over black and rounded, round(c * a / 255), which is how a browser
 *    canvas stores it (premultiplied 8-bit), so transparent images agree too; opaque images are unchanged;
 * 2. colour: C = 1 takes grey = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as PIL's convert('L'), but
 *    not rounded; exactly R where R = G = B); C = 3 keeps R, G, B;
 * 3. resize to H x W (aspect ratio not kept, like torchvision Resize((H, W))), separably, per axis:
 *    shrinking averages the source pixels each target pixel covers, weighted by the covered fraction
 *    (area average, so a 280 px drawing becomes a clean 28 px image); growing interpolates linearly
 *    between pixel centres (bilinear, align_corners = false); the same size copies pixels unchanged;
 * 4. invert (optional): v -> 255 - v, for dark-on-light photos given to a light-on-dark model; callers
 *    decide with lightBackground (below) unless the user says;
 * 5. normalise: (v / 255 - mean[c]) / std[c], each step rounded to float32 in the order PyTorch's
 *    ToTensor + Normalize compute it, so an image already at H x W gives the training tensor bit for bit.
 */

/** Decoded pixels: width * height * 4 bytes, RGBA, row-major, not premultiplied. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

export interface PixelSettings {
  /** [C, H, W] of one model input; C is 1 (grey) or 3 (RGB). */
  inputShape: readonly number[];
  /** Per-channel mean and std of the training normalisation; one value applies to every channel. */
  mean: readonly number[];
  std: readonly number[];
  /** Replace each value v (0..255) with 255 - v before normalising. Default false. */
  invert?: boolean;
}

/** One target index: the first source index it reads and the weight of each source index from there. */
interface Taps {
  start: number;
  weights: number[];
}

/** Resampling weights along one axis, from `from` source pixels to `to` target pixels. */
export function axisTaps(from: number, to: number): Taps[] {
  const taps: Taps[] = [];
  for (let o = 0; o < to; o++) {
    if (from >= to) {
      // Target pixel o covers source interval [o * s, (o + 1) * s); each source pixel weighs its overlap / s.
      const s = from / to;
      const lo = o * s;
      const hi = (o + 1) * s;
      const start = Math.floor(lo);
      const end = Math.min(from, Math.ceil(hi));
      const weights: number[] = [];
      for (let i = start; i < end; i++) weights.push((Math.min(hi, i + 1) - Math.max(lo, i)) / s);
      taps.push({ start, weights });
    } else {
      // Target centre o + 0.5 maps to source coordinate (o + 0.5) * from / to; source centres sit at i + 0.5.
      const x = Math.min(Math.max((o + 0.5) * (from / to) - 0.5, 0), from - 1);
      const i0 = Math.floor(x);
      const t = x - i0;
      taps.push(i0 + 1 < from && t > 0 ? { start: i0, weights: [1 - t, t] } : { start: i0, weights: [1] });
    }
  }
  return taps;
}

function checkSettings(s: PixelSettings): [number, number, number] {
  const [c, h, w] = s.inputShape;
  if (s.inputShape.length !== 3 || ![c, h, w].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`inputShape [${s.inputShape}] must be [C, H, W] with positive integers`);
  }
  if (c !== 1 && c !== 3) throw new Error(`inputShape [${s.inputShape}]: C must be 1 (grey) or 3 (RGB)`);
  for (const [name, v] of [['mean', s.mean], ['std', s.std]] as const) {
    if (v.length !== 1 && v.length !== c) throw new Error(`normalization.${name} has ${v.length} values; give 1 or ${c} (one per channel)`);
  }
  if (s.std.some((x) => !(x > 0))) throw new Error(`normalization.std [${s.std}] must be positive`);
  return [c, h, w];
}

/**
 * The largest image, in pixels, that `predict` and the page accept: 50 megapixels covers 8K frames and
 * phone photos. Decoding holds 4 bytes per pixel and each channel plane 8 more (1 GB at the limit with
 * one plane at a time); past it, browsers' canvases fail silently and sharp refuses by default.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** The message for an image over MAX_IMAGE_PIXELS; `name` is how the user knows the image. */
export function tooLargeMessage(name: string, width: number, height: number): string {
  const mp = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} megapixels`;
  return `${name} is ${width}×${height} (${mp(width * height)}); images up to ${mp(MAX_IMAGE_PIXELS)} can be classified. ` +
    'Shrink it first (the model sees it at its own small input size anyway), e.g. `magick in.png -resize 4000x4000 out.png`.';
}

/**
 * Whether an image shows a light background (a photo of an object on a white table, a scan): the mean grey
 * of its border, the outer 1/16 of each side (at least one pixel), composited over black as in step 1,
 * is above mid-grey (127.5). Fashion-MNIST and CIFAR-style models expect light objects on dark, so such
 * images are inverted by default.
 */
export function lightBackground(img: RgbaImage): boolean {
  const { width: w, height: h } = img;
  const grey = plane(img, 1, 0);
  const bx = Math.max(1, Math.floor(w / 16));
  const by = Math.max(1, Math.floor(h / 16));
  let sum = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    const edgeRow = y < by || y >= h - by;
    for (let x = 0; x < w; x++) {
      if (edgeRow || x < bx || x >= w - bx) {
        sum += grey[y * w + x];
        n++;
      }
    }
  }
  return sum / n > 127.5;
}

/** One channel plane (float64, 0..255, alpha composited over black) of an RGBA image; one at a time saves memory. */
function plane(img: RgbaImage, channels: number, ch: number): Float64Array {
  const n = img.width * img.height;
  const out = new Float64Array(n);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const a = d[p * 4 + 3];
    const over = (c: number) => (a === 255 ? c : Math.round((c * a) / 255));
    if (channels === 1) {
      const r = over(d[p * 4]);
      const g = over(d[p * 4 + 1]);
      const b = over(d[p * 4 + 2]);
      out[p] = r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      out[p] = over(d[p * 4 + ch]);
    }
  }
  return out;
}

function resizePlane(src: Float64Array, w: number, h: number, tw: number, th: number): Float64Array {
  const xs = axisTaps(w, tw);
  const ys = axisTaps(h, th);
  const rows = new Float64Array(h * tw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < tw; x++) {
      const { start, weights } = xs[x];
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * src[y * w + start + k];
      rows[y * tw + x] = acc;
    }
  }
  const out = new Float64Array(th * tw);
  for (let y = 0; y < th; y++) {
    const { start, weights } = ys[y];
    for (let x = 0; x < tw; x++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * rows[(start + k) * tw + x];
      out[y * tw + x] = acc;
    }
  }
  return out;
}

/** The model input for one image: C * H * W float32 values, channel-major (NCHW without N). */
export function imageToInput(img: RgbaImage, settings: PixelSettings): Float32Array {
  const [c, h, w] = checkSettings(settings);
  if (!(img.width > 0 && img.height > 0)) throw new Error(`image is ${img.width}x${img.height}; it needs at least one pixel`);
  if (img.data.length !== img.width * img.height * 4) {
    throw new Error(`image data has ${img.data.length} bytes; expected ${img.width * img.height * 4} (RGBA ${img.width}x${img.height})`);
  }
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const src = plane(img, c, ch);
    const resized = img.width === w && img.height === h ? src : resizePlane(src, img.width, img.height, w, h);
    const mean = Math.fround(settings.mean.length === 1 ? settings.mean[0] : settings.mean[ch]);
    const std = Math.fround(settings.std.length === 1 ? settings.std[0] : settings.std[ch]);
    for (let i = 0; i < h * w; i++) {
      const v = settings.invert ? 255 - resized[i] : resized[i];
      out[ch * h * w + i] = Math.fround(Math.fround(Math.fround(v / 255) - mean) / std);
    }
  }
  return out;
}

/** Undo the normalisation of one input, giving RGBA bytes to show what the model saw. */
export function inputToRgba(input: Float32Array, settings: PixelSettings): RgbaImage {
  const [c, h, w] = checkSettings(settings);
  const data = new Uint8ClampedArray(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) {
      const ch = c === 1 ? 0 : k;
      const mean = settings.mean.length === 1 ? settings.mean[0] : settings.mean[ch];
      const std = settings.std.length === 1 ? settings.std[0] : settings.std[ch];
      data[i * 4 + k] = Math.round((input[ch * h * w + i] * std + mean) * 255);
    }
    data[i * 4 + 3] = 255;
  }
  return { width: w, height: h, data };
}
