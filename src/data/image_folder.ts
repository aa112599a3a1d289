/**
 * A folder of images, one subfolder per class (torchvision's ImageFolder layout), as a prepared dataset:
 *
 *   photos/cat/1.jpg, photos/cat/2.png, photos/dog/a.webp ...            split into train/validation (seeded)
 *   photos/train/<class>/..., photos/val/<class>/..., photos/test/<class>/...   used as given
 *
 * Class names are the subfolder names, sorted. Every image is decoded with sharp and brought to the
 * model's [C, H, W] by the same code as `predict` and the web page (src/predict/pixels.ts: colour to grey
 * or RGB, framed by `fit`, by default torchvision's shorter side + centre crop), then held as uint8 like the built-in datasets; normalisation is per channel,
 * computed from the training images unless given. The decoded images are cached (data/image-cache/), so a
 * second run on the same files reads one file instead of decoding each image again.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { decodeImage } from '../predict/preprocess.js';
import { imageToInput, type Fit } from '../predict/pixels.js';
import type { RawSplit } from './dataset.js';
import { subsetRawSplit } from './dataset.js';
import { normalizeSplit, type Normalization } from './normalize.js';
import { validationRule, type PreparedData } from './prepare.js';
import { trainValSplit } from './split.js';
import { displayPath, projectDataDir } from './paths.js';
import { makeDir, writeFileAtomic } from '../util/fsx.js';

/** File extensions read as images (sharp's formats). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp'];

/**
 * The fit of image-folder runs unless chosen: the shorter side scaled to the frame and the middle cut out
 * (torchvision's Resize + CenterCrop), so photos of any aspect ratio keep their proportions.
 */
export const IMAGE_FOLDER_FIT: Fit = 'crop';

export interface ImageFolderSettings {
  /** [C, H, W] every image is brought to; C is 1 (grey) or 3 (RGB). */
  inputShape: [number, number, number];
  /** How each image fills the frame (pixels.ts step 3); recorded in the run for predict and the page. Default IMAGE_FOLDER_FIT. */
  fit?: Fit;
  /** Per-channel normalisation. Default: mean and std of the training images. */
  normalization?: Normalization;
  /** Seeds the train/validation split. Default 0. */
  seed?: number;
  /** Validation images taken from the training images (no val/ subfolder). Default one in 6. */
  valSize?: number;
  /** Folder of decoded-image caches; null decodes every time. Default data/image-cache. */
  cacheDir?: string | null;
  /** Status lines. Default: silent. */
  log?: (line: string) => void;
}

interface Listing {
  classNames: string[];
  files: { path: string; label: number }[];
}

const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

function subfolders(dir: string): string[] {
  return readdirSync(dir).filter((e) => !e.startsWith('.') && isDir(join(dir, e))).sort();
}

/** The class subfolders of `dir` and their image files, in sorted order. */
function listClasses(dir: string, classNames?: string[]): Listing {
  const found = subfolders(dir);
  const names = classNames ?? found;
  const extra = found.filter((c) => !names.includes(c));
  if (extra.length) throw new Error(`${dir} has class folders that ${join(dir, '..', 'train')} lacks: ${extra.join(', ')}: give every split the same classes`);
  const files: Listing['files'] = [];
  names.forEach((c, label) => {
    const sub = join(dir, c);
    if (!isDir(sub)) return;
    for (const f of readdirSync(sub).sort()) {
      if (IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())) files.push({ path: join(sub, f), label });
    }
  });
  return { classNames: names, files };
}

/** The class names of an image folder (its class subfolders, or those of its train/ subfolder), checked. */
export function imageFolderClasses(root: string): string[] {
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st) throw new Error(`--data ${root} does not exist: give a folder with one subfolder of images per class`);
  if (!st.isDirectory()) throw new Error(`--data ${root} is not a folder: give a folder with one subfolder of images per class`);
  const dir = isDir(join(root, 'train')) ? join(root, 'train') : root;
  const names = subfolders(dir);
  if (names.length < 2) throw new Error(`--data ${dir} has ${names.length} class subfolder${names.length === 1 ? '' : 's'}; it needs one subfolder of images per class, at least two`);
  return names;
}

/**
 * Every file decoded and resized into uint8 NCHW, several at a time (sharp decodes on libuv's threads), or
 * read back from the cache: one file per listing in `cacheDir`, named by a hash of the image size, the fit
 * and each file's path, size, modification time and label, so a changed, added or removed image (or
 * another fit) means a new decode.
 */
async function decodeAll(l: Listing, shape: [number, number, number], s: Pick<ImageFolderSettings, 'cacheDir' | 'log' | 'fit'>): Promise<RawSplit> {
  const fit = s.fit ?? IMAGE_FOLDER_FIT;
  const [c, h, w] = shape;
  const per = c * h * w;
  const n = l.files.length;
  const split = (bytes: Uint8Array): RawSplit => ({ images: bytes.subarray(0, n * per), labels: bytes.subarray(n * per), n, channels: c, height: h, width: w });
  const key = createHash('sha256').update(JSON.stringify([CACHE_VERSION, shape, fit, l.files.map((f) => {
    const st = statSync(f.path);
    return [f.path, st.size, st.mtimeMs, f.label];
  })])).digest('hex').slice(0, 32);
  const cacheFile = s.cacheDir === null ? null : join(s.cacheDir ?? projectDataDir('image-cache'), `${key}.u8`);
  if (cacheFile && statSync(cacheFile, { throwIfNoEntry: false })?.size === n * (per + 1)) {
    s.log?.(`${n} images decoded before: read from ${displayPath(cacheFile)}`);
    return split(new Uint8Array(await readFile(cacheFile)));
  }
  const bytes = new Uint8Array(n * (per + 1));
  // mean 0, std 1/255 gives the resized 0..255 values; pixels.ts does the rest exactly as predict does.
  const settings = { inputShape: shape, mean: [0], std: [1 / 255], fit };
  let next = 0;
  let done = 0;
  let shown = Date.now();
  const decodeSome = async () => {
    for (let i = next++; i < n; i = next++) {
      const x = imageToInput(await decodeImage(l.files[i].path), settings);
      for (let k = 0; k < per; k++) bytes[i * per + k] = Math.min(255, Math.max(0, Math.round(x[k])));
      bytes[n * per + i] = l.files[i].label;
      if (++done < n && Date.now() - shown > 2000) {
        s.log?.(`Decoding images: ${done} of ${n}`);
        shown = Date.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, 2 * availableParallelism()) }, decodeSome));
  if (cacheFile) {
    try {
      await makeDir(dirname(cacheFile));
      await writeFileAtomic(cacheFile, bytes);
    } catch (e) {
      s.log?.(`Not caching the decoded images (${(e as Error).message}); they will be decoded again next time`);
    }
  }
  return split(bytes);
}

/** Bump when the decoded bytes of the same files would differ (a change in pixels.ts or the cache layout). */
const CACHE_VERSION = 1;

/** Per-channel mean and std (population) of uint8 images, in 0..1 units. */
export function channelMoments(s: RawSplit, indices?: ArrayLike<number>): Normalization {
  const plane = s.height * s.width;
  const rows = indices ?? Int32Array.from({ length: s.n }, (_, i) => i);
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < s.channels; c++) {
    let sum = 0;
    let sq = 0;
    for (let r = 0; r < rows.length; r++) {
      const base = (rows[r] * s.channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = s.images[base + p] / 255;
        sum += v;
        sq += v * v;
      }
    }
    const n = rows.length * plane;
    const m = sum / n;
    mean.push(Number(m.toFixed(6)));
    std.push(Number(Math.max(Math.sqrt(Math.max(sq / n - m * m, 0)), 1e-3).toFixed(6)));
  }
  return { mean, std };
}

/** Load an image folder, split it (seeded) and normalise it: the same shape as prepareData's result. */
export async function prepareImageFolder(root: string, s: ImageFolderSettings): Promise<PreparedData> {
  const classNames = imageFolderClasses(root);
  const given = isDir(join(root, 'train'));
  const start = Date.now();
  const trainList = listClasses(given ? join(root, 'train') : root, classNames);
  if (trainList.files.length < 2) throw new Error(`--data ${root} holds ${trainList.files.length} images (${IMAGE_EXTENSIONS.join(' ')}) in its class folders: add images`);
  const train = await decodeAll(trainList, s.inputShape, s);
  const valDir = join(root, 'val');
  const testDir = join(root, 'test');
  const valGiven = given && isDir(valDir) ? await decodeAll(listClasses(valDir, classNames), s.inputShape, s) : undefined;
  const test = given && isDir(testDir) ? await decodeAll(listClasses(testDir, classNames), s.inputShape, s) : undefined;
  s.log?.(`Loaded ${train.n + (valGiven?.n ?? 0) + (test?.n ?? 0)} images of ${classNames.length} classes from ${root} in ${((Date.now() - start) / 1000).toFixed(1)} s`);

  // The training and validation images live in one split (as for the built-in datasets) and are selected by index.
  let all = train;
  let trainIdx: Int32Array;
  let valIdx: Int32Array;
  let why: string;
  if (valGiven) {
    all = concatSplits(train, valGiven);
    trainIdx = Int32Array.from({ length: train.n }, (_, i) => i);
    valIdx = Int32Array.from({ length: valGiven.n }, (_, i) => train.n + i);
    why = `validation: the ${valGiven.n} images of ${valDir}`;
  } else {
    const rule = validationRule(train.n, s.valSize, 6 * 10000);
    const split = trainValSplit(train.n, { seed: s.seed ?? 0, valSize: rule.size });
    [trainIdx, valIdx, why] = [split.train, split.val, rule.why];
  }
  const normalization = s.normalization ?? channelMoments(all, trainIdx);
  const info = { name: basename(root.replace(/[/\\]+$/, '')) || 'images', inputShape: s.inputShape, classNames, normalization };
  const normalized = normalizeSplit(all, normalization);
  const empty: RawSplit = { images: new Uint8Array(0), labels: new Uint8Array(0), n: 0, channels: s.inputShape[0], height: s.inputShape[1], width: s.inputShape[2] };
  return {
    info,
    train: { split: normalized, indices: trainIdx },
    val: { split: normalized, indices: valIdx },
    test: normalizeSplit(test ?? empty, normalization),
    all: normalized,
    // Sample pictures for the page: the test images, else the validation images.
    rawTest: test ?? subsetRawSplit(all, valIdx),
    validation: why,
  };
}

function concatSplits(a: RawSplit, b: RawSplit): RawSplit {
  const images = new Uint8Array(a.images.length + b.images.length);
  images.set(a.images);
  images.set(b.images, a.images.length);
  const labels = new Uint8Array(a.n + b.n);
  labels.set(a.labels);
  labels.set(b.labels, a.n);
  return { ...a, images, labels, n: a.n + b.n };
}
