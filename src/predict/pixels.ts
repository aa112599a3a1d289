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
 * 3. frame (fit): 'stretch' takes the whole image (aspect ratio not kept, like torchvision Resize((H, W)));
 *    'crop' keeps the aspect ratio: the image is scaled so that it covers H x W (its shorter side fills the
 *    frame) and the middle H x W is cut out, torchvision's Resize(min(H, W)) + CenterCrop((H, W)) (cropGeometry);
 *    'object' frames the object as Fashion-MNIST did (objectFrame below): the bounding box of the pixels
 *    that differ from the background, widened to the model's aspect ratio (a square) around its centre,
 *    showing the image's background level past its edges. Classification uses the fit the run recorded
 *    (image-folder runs) or else defaultFit (the one home of that default); without `fit`, imageToInput
 *    stretches (data loaders and replay images, which are already framed);
 *    then resize that region to H x W ('crop': the whole image to the covering size), separably, per axis:
 *    shrinking averages the source pixels each target pixel covers, weighted by the covered fraction
 *    (area average, so a 280 px drawing becomes a clean 28 px image); growing interpolates linearly
 *    between pixel centres (bilinear, align_corners = false); the same size copies pixels unchanged;
 * 4. invert (optional): v -> 255 - v, for dark-on-light photos given to a light-on-dark model; callers
 *    decide with lightBackground (below) unless the user says (framing does not depend on it: it measures
 *    distances from the background, which inverting keeps);
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
  /** How the image fills the model's frame (step 3). Default 'stretch'; classification passes defaultFit. */
  fit?: Fit;
}

/**
 * 'object': crop to the object and centre it, keeping its aspect ratio; 'stretch': the whole image,
 * stretched; 'crop': the shorter side fills the frame, aspect ratio kept, the middle cut out.
 */
export type Fit = 'object' | 'stretch' | 'crop';
export const FITS: readonly Fit[] = ['object', 'stretch', 'crop'];

/**
 * The fit a classification uses unless the user chooses: 'object' for grey (1-channel) models, which are
 * Fashion-MNIST-like (each training image is one object centred in a square on a dark background);
 * 'stretch' for colour models, whose CIFAR-style training photos fill the frame.
 */
export function defaultFit(inputShape: readonly number[]): Fit {
  return inputShape[0] === 1 ? 'object' : 'stretch';
}

/**
 * A pixel belongs to the object when its grey value differs from the background's by more than this (of
 * 0..255): above JPEG noise and paper texture, below the contrast of a dark garment on black. On the 10k
 * Fashion-MNIST test images, 85 % of objects then span the full 28 pixels on their longest side and
 * 99.7 % at least 26.
 */
export const OBJECT_THRESHOLD = 32;
/**
 * Background added around the object's box on each side, as a fraction of its longest side: 0, since
 * Fashion-MNIST scaled each object's longest side to the full frame.
 */
export const OBJECT_MARGIN = 0;

/**
 * Which part of the image the model sees: the object's box (x, y, width, height, in source pixels) at
 * (offsetX, offsetY) in a padW x padH window of the image around it; where the window reaches past the
 * image's edge it shows the background level (per channel, 0..255 before inverting). 'stretch' gives the
 * whole image as its own window.
 */
export interface Frame {
  x: number;
  y: number;
  width: number;
  height: number;
  padW: number;
  padH: number;
  offsetX: number;
  offsetY: number;
  /** Whether the box is smaller than the image (the object was cropped out of it). */
  cropped: boolean;
  /** Whether the window is larger than the box (to keep its aspect ratio, or a margin). */
  padded: boolean;
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
  if (s.fit !== undefined && !FITS.includes(s.fit)) throw new Error(`fit '${s.fit}' is not one of ${FITS.join(', ')}`);
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
  let sum = 0;
  let n = 0;
  forBorder(img.width, img.height, (p) => {
    sum += greyAt(img.data, p);
    n++;
  });
  return sum / n > 127.5;
}

/** Calls `f` with the index of each pixel in the border: the outer 1/16 of each side, at least one pixel. */
function forBorder(w: number, h: number, f: (p: number) => void): void {
  const bx = Math.max(1, Math.floor(w / 16));
  const by = Math.max(1, Math.floor(h / 16));
  for (let y = 0; y < h; y++) {
    if (y < by || y >= h - by) {
      for (let x = 0; x < w; x++) f(y * w + x);
    } else {
      for (let x = 0; x < Math.min(bx, w); x++) f(y * w + x);
      for (let x = Math.max(bx, w - bx); x < w; x++) f(y * w + x);
    }
  }
}

/**
 * The background level of a plane: the median of its border (rounded to whole levels), so an object that
 * touches an edge (trousers from top to bottom) does not shift it as a mean would.
 */
function borderMedian(values: Float64Array, w: number, h: number): number {
  const counts = new Float64Array(256);
  let n = 0;
  forBorder(w, h, (p) => {
    counts[Math.min(255, Math.max(0, Math.round(values[p])))]++;
    n++;
  });
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += counts[v];
    if (seen * 2 >= n) return v;
  }
  return 255;
}

/**
 * The 'object' frame of an image from its grey plane: the bounding box of the pixels farther than
 * OBJECT_THRESHOLD from the background (borderMedian), widened by OBJECT_MARGIN, then the smallest window
 * of the model's aspect ratio (W / H) around it, the box centred in it (rounded down). An image with no
 * such pixel (blank), or one whose window is the image itself give or take its border band, is taken whole.
 */
export function objectFrame(grey: Float64Array, w: number, h: number, inputShape: readonly number[]): Frame {
  const bg = borderMedian(grey, w, h);
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (Math.abs(grey[y * w + x] - bg) > OBJECT_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return wholeFrame(w, h);
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const margin = Math.round(OBJECT_MARGIN * Math.max(bw, bh));
  const [, th, tw] = inputShape;
  const padW = Math.max(bw + 2 * margin, Math.ceil(((bh + 2 * margin) * tw) / th));
  const padH = Math.max(bh + 2 * margin, Math.ceil(((bw + 2 * margin) * th) / tw));
  const offsetX = Math.floor((padW - bw) / 2);
  const offsetY = Math.floor((padH - bh) / 2);
  // An image already framed this way, up to the border band (1/16 of a side, at least 1 px), is taken
  // whole: Fashion-MNIST's own images (98.6 % of the test set; 42.6 % match the window exactly) then
  // reach the model as in training instead of shifted by a pixel of rounding.
  const [left, top] = [x0 - offsetX, y0 - offsetY];
  const [tx, ty] = [Math.max(1, Math.floor(w / 16)), Math.max(1, Math.floor(h / 16))];
  if (Math.abs(left) <= tx && Math.abs(top) <= ty && Math.abs(left + padW - w) <= tx && Math.abs(top + padH - h) <= ty) return wholeFrame(w, h);
  return { x: x0, y: y0, width: bw, height: bh, padW, padH, offsetX, offsetY, cropped: bw < w || bh < h, padded: padW > bw || padH > bh };
}

/**
 * The 'crop' fit of a w x h image into a tw x th frame: the image resized to scaledW x scaledH, then the
 * tw x th window at (left, top) of that. As torchvision's Resize(min(H, W)) + CenterCrop((H, W)) computes
 * it for a square frame: the binding side becomes the frame's, the other floor(side * scale) (torchvision
 * truncates, int(size * long / short)), and each offset is half the excess rounded half to even (Python's
 * round). For a frame that is not square the scale is max(tw / w, th / h), so the frame is always covered.
 */
export interface CropGeometry {
  scaledW: number;
  scaledH: number;
  left: number;
  top: number;
}

export function cropGeometry(w: number, h: number, tw: number, th: number): CropGeometry {
  // tw / w >= th / h, in exact integers: the width binds and the height is cut.
  const byWidth = tw * h >= th * w;
  const scaledW = byWidth ? tw : Math.floor((w * th) / h);
  const scaledH = byWidth ? Math.floor((h * tw) / w) : th;
  return { scaledW, scaledH, left: halfRoundedEven(scaledW - tw), top: halfRoundedEven(scaledH - th) };
}

/** round(d / 2) as Python rounds it: an odd d gives k + 0.5, which goes to the even one of k and k + 1. */
function halfRoundedEven(d: number): number {
  const k = Math.floor(d / 2);
  return d % 2 === 0 || k % 2 === 0 ? k : k + 1;
}

/** The part of the image a 'crop' shows, in source pixels (rounded outwards), as a Frame. */
function cropFrame(w: number, h: number, g: CropGeometry, tw: number, th: number): Frame {
  const x = Math.floor((g.left * w) / g.scaledW);
  const y = Math.floor((g.top * h) / g.scaledH);
  const width = Math.min(w, Math.ceil(((g.left + tw) * w) / g.scaledW)) - x;
  const height = Math.min(h, Math.ceil(((g.top + th) * h) / g.scaledH)) - y;
  return { x, y, width, height, padW: width, padH: height, offsetX: 0, offsetY: 0, cropped: width < w || height < h, padded: false };
}

function wholeFrame(w: number, h: number): Frame {
  return { x: 0, y: 0, width: w, height: h, padW: w, padH: h, offsetX: 0, offsetY: 0, cropped: false, padded: false };
}

/** Channel value c of a pixel with alpha a, composited over black as a canvas stores it (step 1). */
function over(c: number, a: number): number {
  return a === 255 ? c : Math.round((c * a) / 255);
}

/** The grey value of pixel p (step 2): BT.601, exactly R where R = G = B. */
function greyAt(d: RgbaImage['data'], p: number): number {
  const a = d[p * 4 + 3];
  const r = over(d[p * 4], a);
  const g = over(d[p * 4 + 1], a);
  const b = over(d[p * 4 + 2], a);
  return r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b;
}

/** One channel plane (float64, 0..255, alpha composited over black) of an RGBA image; one at a time saves memory. */
function plane(img: RgbaImage, channels: number, ch: number): Float64Array {
  const n = img.width * img.height;
  const out = new Float64Array(n);
  const d = img.data;
  if (channels === 1) {
    for (let p = 0; p < n; p++) out[p] = greyAt(d, p);
  } else {
    for (let p = 0; p < n; p++) out[p] = over(d[p * 4 + ch], d[p * 4 + 3]);
  }
  return out;
}

/**
 * The window of plane `src` (w x h) resized to tw x th: window pixel (fx, fy) is source pixel
 * (f.x - f.offsetX + fx, f.y - f.offsetY + fy) inside the image, else `fill`. `taps`, when given, replace
 * the plain resize of the window (a crop of a larger resize is a slice of its taps).
 */
function resizeFrame(src: Float64Array, w: number, h: number, f: Frame, fill: number, tw: number, th: number, taps?: { xs: Taps[]; ys: Taps[] }): Float64Array {
  const left = f.x - f.offsetX;
  const at = (fx: number, row: number) => {
    const sx = left + fx;
    return row >= 0 && sx >= 0 && sx < w ? src[row + sx] : fill;
  };
  /** Start of the source row under window row fy, or -1 past the image. */
  const rowOf = (fy: number) => {
    const sy = f.y - f.offsetY + fy;
    return sy >= 0 && sy < h ? sy * w : -1;
  };
  if (!taps && f.padW === tw && f.padH === th) {
    const out = new Float64Array(th * tw);
    for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[y * tw + x] = at(x, rowOf(y));
    return out;
  }
  const { xs, ys } = taps ?? { xs: axisTaps(f.padW, tw), ys: axisTaps(f.padH, th) };
  // Only the window rows the vertical taps read (a crop's taps skip the rows it cuts away).
  const y0 = Math.min(...ys.map((t) => t.start));
  const y1 = Math.max(...ys.map((t) => t.start + t.weights.length));
  const rows = new Float64Array((y1 - y0) * tw);
  for (let y = y0; y < y1; y++) {
    const row = rowOf(y);
    for (let x = 0; x < tw; x++) {
      const { start, weights } = xs[x];
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * at(start + k, row);
      rows[(y - y0) * tw + x] = acc;
    }
  }
  const out = new Float64Array(th * tw);
  for (let y = 0; y < th; y++) {
    const { start, weights } = ys[y];
    for (let x = 0; x < tw; x++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += weights[k] * rows[(start + k - y0) * tw + x];
      out[y * tw + x] = acc;
    }
  }
  return out;
}

/**
 * framedInput with the invert decision made as predict and the page make it for a file: 'auto' inverts an
 * image on a light background (lightBackground).
 */
export function fileInput(img: RgbaImage, settings: Omit<PixelSettings, 'invert'>, invert: boolean | 'auto'): { input: Float32Array; frame: Frame; inverted: boolean } {
  const inverted = invert === 'auto' ? lightBackground(img) : invert;
  return { ...framedInput(img, { ...settings, invert: inverted }), inverted };
}

/** The model input for one image: C * H * W float32 values, channel-major (NCHW without N). */
export function imageToInput(img: RgbaImage, settings: PixelSettings): Float32Array {
  return framedInput(img, settings).input;
}

/** imageToInput, and the frame the model saw (what 'object' or 'crop' cut out, and 'object' padded). */
export function framedInput(img: RgbaImage, settings: PixelSettings): { input: Float32Array; frame: Frame } {
  const [c, h, w] = checkSettings(settings);
  if (!(img.width > 0 && img.height > 0)) throw new Error(`image is ${img.width}x${img.height}; it needs at least one pixel`);
  if (img.data.length !== img.width * img.height * 4) {
    throw new Error(`image data has ${img.data.length} bytes; expected ${img.width * img.height * 4} (RGBA ${img.width}x${img.height})`);
  }
  const { width: iw, height: ih } = img;
  let first: Float64Array | undefined;
  let frame = wholeFrame(iw, ih);
  let taps: { xs: Taps[]; ys: Taps[] } | undefined;
  if (settings.fit === 'crop') {
    const g = cropGeometry(iw, ih, w, h);
    frame = cropFrame(iw, ih, g, w, h);
    taps = { xs: axisTaps(iw, g.scaledW).slice(g.left, g.left + w), ys: axisTaps(ih, g.scaledH).slice(g.top, g.top + h) };
  } else if (settings.fit === 'object') {
    // A grey model's only plane is the grey plane the box is found on: compute it once.
    const grey = plane(img, 1, 0);
    frame = objectFrame(grey, iw, ih, settings.inputShape);
    if (c === 1) first = grey;
  }
  // A crop resamples the whole image (taps) and never reads past its edge.
  const window = taps ? wholeFrame(iw, ih) : frame;
  const whole = window.x - window.offsetX === 0 && window.y - window.offsetY === 0 && window.padW === iw && window.padH === ih;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const src = ch === 0 && first ? first : plane(img, c, ch);
    const fill = whole ? 0 : borderMedian(src, iw, ih);
    const resized = whole && iw === w && ih === h ? src : resizeFrame(src, iw, ih, window, fill, w, h, taps);
    const mean = Math.fround(settings.mean.length === 1 ? settings.mean[0] : settings.mean[ch]);
    const std = Math.fround(settings.std.length === 1 ? settings.std[0] : settings.std[ch]);
    for (let i = 0; i < h * w; i++) {
      const v = settings.invert ? 255 - resized[i] : resized[i];
      out[ch * h * w + i] = Math.fround(Math.fround(Math.fround(v / 255) - mean) / std);
    }
  }
  return { input: out, frame };
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
