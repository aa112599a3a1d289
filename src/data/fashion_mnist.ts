/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60k training + 10k test greyscale 28x28 images, 10 classes.
 *
 * Sources, first hit per file wins: the data directory (settings.dataDir, default `data/fashion-mnist/`),
 * the system folder installed by the Debian package dataset-fashion-mnist, then a download from the
 * official mirror into the data directory. Each file may be gzip-compressed or raw.
 *
 * Verification: every file's decompressed IDX content must match the SHA-256 below, whatever its source.
 * Downloads are additionally checked against the official `.gz` MD5 (from the Fashion-MNIST README) and
 * SHA-256/size (as recorded by tensorflow/datasets) before they are moved into place. The Debian files are
 * not byte-identical to the official `.gz` files (the packaging dropped the gzip FNAME field and reset the
 * mtime, 23-24 bytes shorter), which is why the content digest is the one every source shares.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { digestBytes, type ExpectedDigests } from './checksum.js';
import { readCached } from './file_cache.js';
import { checkRawSplit, type RawDataset, type RawSplit } from './dataset.js';
import { downloadFile } from './download.js';
import { decompressIfGzip, parseIdx } from './idx.js';
import { checkDataDir, displayPath, projectDataDir } from './paths.js';
import { readRegularFileSync } from '../util/fsx.js';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export const FASHION_MNIST_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

export type FashionMnistFile =
  | 'train-images-idx3-ubyte' | 'train-labels-idx1-ubyte' | 't10k-images-idx3-ubyte' | 't10k-labels-idx1-ubyte';

interface FileFacts {
  /** SHA-256 and length of the uncompressed IDX bytes. */
  content: { sha256: string; size: number };
  /** The official `<name>.gz` as served by the mirror. */
  official: Required<ExpectedDigests>;
}

export const FASHION_MNIST_FILES: Record<FashionMnistFile, FileFacts> = {
  'train-images-idx3-ubyte': {
    content: { sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888', size: 47040016 },
    official: { md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d', sha256: '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84', size: 26421880 },
  },
  'train-labels-idx1-ubyte': {
    content: { sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9', size: 60008 },
    official: { md5: '25c81989df183df01b3e8a0aad5dffbe', sha256: 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845', size: 29515 },
  },
  't10k-images-idx3-ubyte': {
    content: { sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b', size: 7840016 },
    official: { md5: 'bef4ecab320f06d8554ea6380940ec79', sha256: '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073', size: 4422102 },
  },
  't10k-labels-idx1-ubyte': {
    content: { sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34', size: 10008 },
    official: { md5: 'bb300cfdad3c16e7a12a480ee83cd310', sha256: '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5', size: 5148 },
  },
};

export interface FashionMnistSettings {
  /** Directory searched first and downloaded into. Default `data/fashion-mnist` under process.cwd(). */
  dataDir?: string;
  /** Folder of the Debian package dataset-fashion-mnist, searched second; null skips it. Default /usr/share/datasets/fashion-mnist. */
  systemDir?: string | null;
  /** Download missing files. Default true. */
  download?: boolean;
  /** Mirror to download `<file>.gz` from (trailing slash optional). Default the official S3 mirror. */
  baseUrl?: string;
  /** Replaces the official `.gz` digests checked on download (for mirrors that recompress). Default: official. */
  downloadDigests?: Partial<Record<FashionMnistFile, ExpectedDigests>>;
  /** Replaces the content SHA-256 of each uncompressed file (for tests on generated data). Default: the real dataset's. */
  contentDigests?: Partial<Record<FashionMnistFile, string>>;
  /** Status lines. Default: silent. */
  log?: (line: string) => void;
}

export async function loadFashionMnist(settings: FashionMnistSettings = {}): Promise<RawDataset> {
  if (settings.dataDir !== undefined) checkDataDir(settings.dataDir, 'fashion-mnist');
  const trainImages = await loadFile('train-images-idx3-ubyte', settings);
  const trainLabels = await loadFile('train-labels-idx1-ubyte', settings);
  const testImages = await loadFile('t10k-images-idx3-ubyte', settings);
  const testLabels = await loadFile('t10k-labels-idx1-ubyte', settings);
  return {
    train: assemble(trainImages, trainLabels),
    test: assemble(testImages, testLabels),
  };
}

interface LoadedIdx {
  file: string;
  fix: string;
  dims: number[];
  data: Uint8Array;
}

function assemble(images: LoadedIdx, labels: LoadedIdx): RawSplit {
  const [n, height, width] = images.dims;
  if (labels.dims[0] !== n) {
    throw new Error(`${labels.file} has ${labels.dims[0]} labels but ${images.file} has ${n} images: ${labels.fix}`);
  }
  const split: RawSplit = { images: images.data, labels: labels.data, n, channels: 1, height, width };
  checkRawSplit(split, labels.file, FASHION_MNIST_CLASSES.length, labels.fix);
  return split;
}

const DOWNLOAD_FIX = 'delete it and run again to re-download';
const SYSTEM_FIX = 'reinstall it with `apt-get install --reinstall dataset-fashion-mnist`, or put a good copy in data/fashion-mnist/';

async function loadFile(name: FashionMnistFile, settings: FashionMnistSettings): Promise<LoadedIdx> {
  const log = settings.log ?? (() => {});
  const dataDir = settings.dataDir !== undefined ? resolve(settings.dataDir) : projectDataDir('fashion-mnist');
  const systemDir = settings.systemDir === undefined ? FASHION_MNIST_SYSTEM_DIR : settings.systemDir;
  const searched = [dataDir, ...(systemDir ? [systemDir] : [])];
  for (const dir of searched) {
    for (const candidate of [`${name}.gz`, name]) {
      const path = join(dir, candidate);
      if (existsSync(path)) {
        log(`fashion-mnist: ${candidate} from ${displayPath(dir)}`);
        return readVerified(name, path, dir === dataDir ? DOWNLOAD_FIX : SYSTEM_FIX, settings);
      }
    }
  }
  if (settings.download === false) {
    throw new Error(`Fashion-MNIST file ${name}.gz is missing (looked in ${searched.map(displayPath).join(', ')}): `
      + 'install the Debian package dataset-fashion-mnist, copy the files into data/fashion-mnist/, or allow downloads');
  }
  const base = (settings.baseUrl ?? FASHION_MNIST_BASE_URL).replace(/\/?$/, '/');
  const dest = join(dataDir, `${name}.gz`);
  await downloadFile(`${base}${name}.gz`, dest, {
    expected: settings.downloadDigests?.[name] ?? FASHION_MNIST_FILES[name].official,
    log,
  });
  return readVerified(name, dest, DOWNLOAD_FIX, settings);
}

function readVerified(name: FashionMnistFile, path: string, fix: string, settings: FashionMnistSettings): LoadedIdx {
  const want = settings.contentDigests?.[name] ?? FASHION_MNIST_FILES[name].content.sha256;
  return readCached(path, want, () => readAndCheck(name, path, fix, want));
}

function readAndCheck(name: FashionMnistFile, path: string, fix: string, want: string): LoadedIdx {
  const file = displayPath(path);
  const bytes = decompressIfGzip(readRegularFileSync(path, fix, file), file, fix);
  const isImages = name.includes('images');
  const idx = parseIdx(bytes, file, { fix, expectDType: 'uint8', expectDims: isImages ? [-1, 28, 28] : [-1] });
  const got = digestBytes(bytes, 'sha256');
  if (got !== want) {
    throw new Error(`${file} failed its sha256 checksum (uncompressed content, expected ${want}, got ${got}): ${fix}`);
  }
  return { file, fix, dims: idx.dims, data: idx.data as Uint8Array };
}
