/**
 * CIFAR-10 (Krizhevsky 2009), binary version: 50k training + 10k test colour 32x32 images, 10 classes.
 *
 * Layout of data_batch_1..5.bin and test_batch.bin: records of 1 label byte + 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, each plane row-major), i.e. already CHW per image.
 *
 * Sources: extracted batches in `<dataDir>/cifar-10-batches-bin/`, else the archive
 * `<dataDir>/cifar-10-binary.tar.gz`, else a download of it. The archive is checked against its MD5
 * (published on the CIFAR page), SHA-256 and size (as recorded by tensorflow/datasets) before extraction;
 * extraction records each batch file's SHA-256 in `extracted.json`, checked on every later load.
 */
import { existsSync, mkdirSync, promises as fsp } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { digestBytes, digestFile, checkDigests, type ExpectedDigests } from './checksum.js';
import { readCached } from './file_cache.js';
import { checkRawSplit, type RawDataset, type RawSplit } from './dataset.js';
import { downloadFile } from './download.js';
import { checkRegularFileSync, readRegularFileSync } from '../util/fsx.js';
import { checkDataDir, displayPath, projectDataDir } from './paths.js';
import { readTar } from './tar.js';

export const CIFAR10_CLASSES = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
] as const;

export const CIFAR10_BASE_URL = 'https://www.cs.toronto.edu/~kriz/';
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR10_ARCHIVE_DIGESTS: Required<ExpectedDigests> = {
  md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
  size: 170052171,
};
export const CIFAR10_BATCH_DIR = 'cifar-10-batches-bin';
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
const RECORD = 1 + 3 * 32 * 32;
const MANIFEST = 'extracted.json';

export interface Cifar10Settings {
  /** Directory holding the archive and the extracted batches. Default `data/cifar10` under process.cwd(). */
  dataDir?: string;
  /** Download the archive when neither batches nor archive are present. Default true. */
  download?: boolean;
  /** Where `cifar-10-binary.tar.gz` is fetched from (trailing slash optional). Default the Toronto page. */
  baseUrl?: string;
  /** Digests the archive must match. Default CIFAR10_ARCHIVE_DIGESTS (md5, sha256, size). */
  archiveDigests?: ExpectedDigests;
  /** Delete the archive after a successful extraction. Default false. */
  deleteArchive?: boolean;
  /** Status lines. Default: silent. */
  log?: (line: string) => void;
}

interface ExtractionManifest {
  archiveSha256: string;
  files: Record<string, { size: number; sha256: string }>;
}

const REDOWNLOAD_FIX = 'delete it and run again to re-download';

export async function loadCifar10(settings: Cifar10Settings = {}): Promise<RawDataset> {
  const log = settings.log ?? (() => {});
  if (settings.dataDir !== undefined) checkDataDir(settings.dataDir, 'cifar10');
  const dataDir = settings.dataDir !== undefined ? resolve(settings.dataDir) : projectDataDir('cifar10');
  const batchDir = join(dataDir, CIFAR10_BATCH_DIR);
  const names = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE];
  if (!names.every((f) => existsSync(join(batchDir, f)))) {
    const archive = join(dataDir, CIFAR10_ARCHIVE);
    const expected = settings.archiveDigests ?? CIFAR10_ARCHIVE_DIGESTS;
    if (existsSync(archive)) {
      checkRegularFileSync(archive, REDOWNLOAD_FIX, displayPath(archive));
      log(`cifar10: verifying ${displayPath(archive)}`);
      checkDigests(displayPath(archive), await digestFile(archive), expected, REDOWNLOAD_FIX);
    } else if (settings.download === false) {
      throw new Error(`CIFAR-10 is missing (no ${CIFAR10_BATCH_DIR}/ or ${CIFAR10_ARCHIVE} in ${displayPath(dataDir)}): `
        + `download ${CIFAR10_BASE_URL}${CIFAR10_ARCHIVE} into that folder, or allow downloads`);
    } else {
      const base = (settings.baseUrl ?? CIFAR10_BASE_URL).replace(/\/?$/, '/');
      await downloadFile(`${base}${CIFAR10_ARCHIVE}`, archive, { expected, log });
    }
    await extractCifar10(archive, batchDir, log);
    if (settings.deleteArchive) await fsp.rm(archive, { force: true });
  }
  const manifest = readManifest(batchDir);
  if (!manifest) log(`cifar10: ${displayPath(batchDir)} has no ${MANIFEST} (not extracted here), so only its format is checked`);
  return {
    train: readBatches(batchDir, CIFAR10_TRAIN_FILES, manifest),
    test: readBatches(batchDir, [CIFAR10_TEST_FILE], manifest),
  };
}

/** Extracts the batch files and batches.meta.txt from the archive, each written atomically, then the manifest. */
export async function extractCifar10(archive: string, batchDir: string, log: (line: string) => void = () => {}): Promise<void> {
  const label = displayPath(archive);
  log(`cifar10: extracting ${label}`);
  const packed = readRegularFileSync(archive, REDOWNLOAD_FIX, label);
  let tarBytes: Uint8Array;
  try {
    tarBytes = gunzipSync(packed);
  } catch (e) {
    throw new Error(`${label} is not a valid gzip file (${(e as Error).message}): ${REDOWNLOAD_FIX}`);
  }
  const wanted = new Set([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE, 'batches.meta.txt'].map((f) => `${CIFAR10_BATCH_DIR}/${f}`));
  const found = new Map<string, Uint8Array>();
  for (const entry of readTar(tarBytes, label, REDOWNLOAD_FIX)) {
    if (entry.type === 'file' && wanted.has(entry.name)) found.set(entry.name.slice(CIFAR10_BATCH_DIR.length + 1), entry.data);
  }
  const missing = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].filter((f) => !found.has(f));
  if (missing.length) {
    throw new Error(`${label} lacks ${missing.map((f) => `${CIFAR10_BATCH_DIR}/${f}`).join(', ')}: ${REDOWNLOAD_FIX}`);
  }
  mkdirSync(batchDir, { recursive: true });
  const manifest: ExtractionManifest = { archiveSha256: digestBytes(packed, 'sha256'), files: {} };
  for (const [name, data] of found) {
    await writeAtomic(join(batchDir, name), data);
    manifest.files[name] = { size: data.length, sha256: digestBytes(data, 'sha256') };
  }
  await writeAtomic(join(batchDir, MANIFEST), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
}

async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw new Error(`cannot write ${displayPath(path)} (${(e as Error).message}): check free disk space and permissions`);
  }
}

function readManifest(batchDir: string): ExtractionManifest | null {
  const path = join(batchDir, MANIFEST);
  if (!existsSync(path)) return null;
  const fix = `delete ${displayPath(batchDir)} and run again to re-extract`;
  const text = readRegularFileSync(path, fix, displayPath(path)).toString('utf8');
  try {
    return JSON.parse(text) as ExtractionManifest;
  } catch (e) {
    throw new Error(`${displayPath(path)} is not valid JSON (${(e as Error).message}): delete ${displayPath(batchDir)} and run again to re-extract`);
  }
}

function readBatches(batchDir: string, files: string[], manifest: ExtractionManifest | null): RawSplit {
  const fix = `delete ${displayPath(batchDir)} and run again to re-extract`;
  const chunks: Uint8Array[] = [];
  for (const f of files) {
    const path = join(batchDir, f);
    const label = displayPath(path);
    const size = checkRegularFileSync(path, fix, label);
    if (size === 0 || size % RECORD !== 0) {
      throw new Error(`${label} is truncated or corrupt (${size} bytes is not a whole number of ${RECORD}-byte records): ${fix}`);
    }
    const known = manifest?.files[f];
    if (manifest && !known) throw new Error(`${label} is not listed in ${MANIFEST}: ${fix}`);
    chunks.push(readCached(path, known?.sha256 ?? 'not checked', () => {
      const bytes = readRegularFileSync(path, fix, label);
      if (known) checkDigests(label, { size, sha256: digestBytes(bytes, 'sha256') }, known, fix);
      return bytes;
    }));
  }
  const n = chunks.reduce((a, c) => a + c.length / RECORD, 0);
  const images = new Uint8Array(n * (RECORD - 1));
  const labels = new Uint8Array(n);
  let i = 0;
  for (const chunk of chunks) {
    for (let r = 0; r < chunk.length; r += RECORD, i++) {
      labels[i] = chunk[r];
      images.set(chunk.subarray(r + 1, r + RECORD), i * (RECORD - 1));
    }
  }
  const split: RawSplit = { images, labels, n, channels: 3, height: 32, width: 32 };
  checkRawSplit(split, displayPath(join(batchDir, files.length === 1 ? files[0] : 'data_batch_*.bin')), CIFAR10_CLASSES.length, fix);
  return split;
}
