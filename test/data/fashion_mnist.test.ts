import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  FASHION_MNIST_FILES, FASHION_MNIST_SYSTEM_DIR, loadFashionMnist, type FashionMnistFile,
} from '../../src/data/fashion_mnist.js';
import { encodeIdx } from '../../src/data/idx.js';
import { serveFiles, tempDir } from './fixtures.js';

const NAMES = Object.keys(FASHION_MNIST_FILES) as FashionMnistFile[];
const hasSystemCopy = NAMES.every((n) => existsSync(join(FASHION_MNIST_SYSTEM_DIR, `${n}.gz`)));
const SKIP_REAL = hasSystemCopy ? false : `${FASHION_MNIST_SYSTEM_DIR} is absent (install the Debian package dataset-fashion-mnist)`;

const scratch = tempDir();
after(() => scratch.remove());

/** A small generated dataset in the real layout, with the content digests to accept it. */
function generated(nTrain: number, nTest: number): { files: Record<FashionMnistFile, Uint8Array>; digests: Record<FashionMnistFile, string> } {
  const pix = (n: number, salt: number): Uint8Array => Uint8Array.from({ length: n * 784 }, (_, i) => (i * 31 + salt) % 256);
  const lab = (n: number, salt: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 3 + salt) % 10);
  const files = {
    'train-images-idx3-ubyte': encodeIdx({ dtype: 'uint8', dims: [nTrain, 28, 28], data: pix(nTrain, 1) }),
    'train-labels-idx1-ubyte': encodeIdx({ dtype: 'uint8', dims: [nTrain], data: lab(nTrain, 1) }),
    't10k-images-idx3-ubyte': encodeIdx({ dtype: 'uint8', dims: [nTest, 28, 28], data: pix(nTest, 2) }),
    't10k-labels-idx1-ubyte': encodeIdx({ dtype: 'uint8', dims: [nTest], data: lab(nTest, 2) }),
  };
  const digests = Object.fromEntries(NAMES.map((n) => [n, createHash('sha256').update(files[n]).digest('hex')])) as Record<FashionMnistFile, string>;
  return { files, digests };
}

function writeDir(dir: string, files: Record<string, Uint8Array>, gzip: boolean): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
}

test('a generated dataset loads from the data directory, gzip or raw', async () => {
  const { files, digests } = generated(12, 5);
  for (const gzip of [true, false]) {
    const dataDir = join(scratch.path, gzip ? 'gen-gz' : 'gen-raw');
    writeDir(dataDir, files, gzip);
    const ds = await loadFashionMnist({ dataDir, systemDir: null, download: false, contentDigests: digests });
    assert.equal(ds.train.n, 12);
    assert.equal(ds.test.n, 5);
    assert.deepEqual([ds.train.channels, ds.train.height, ds.train.width], [1, 28, 28]);
    assert.deepEqual(Array.from(ds.train.images.subarray(0, 4)), [1, 32, 63, 94]);
    assert.deepEqual(Array.from(ds.test.labels), [2, 5, 8, 1, 4]);
  }
});

test('errors in the project cache name the file and say to delete it and re-download', async (t) => {
  const cwd = process.cwd();
  const project = join(scratch.path, 'project');
  mkdirSync(project);
  process.chdir(project);
  t.after(() => process.chdir(cwd));
  const { files, digests } = generated(10, 4);
  writeDir(join(project, 'data', 'fashion-mnist'), files, true);
  const fix = ': delete it and run again to re-download';

  // Checksum: the real dataset's content digests reject generated files.
  await assert.rejects(loadFashionMnist({ systemDir: null, download: false }), (e: Error) =>
    e.message.startsWith('data/fashion-mnist/train-images-idx3-ubyte.gz failed its sha256 checksum') && e.message.endsWith(fix));

  // Truncated: a gzip stream cut short reports the IDX sizes.
  const gz = gzipSync(files['train-images-idx3-ubyte']);
  writeFileSync(join(project, 'data/fashion-mnist/train-images-idx3-ubyte.gz'), gz.subarray(0, 40));
  await assert.rejects(loadFashionMnist({ systemDir: null, download: false, contentDigests: digests }), (e: Error) =>
    /^data\/fashion-mnist\/train-images-idx3-ubyte\.gz is truncated \(expected 7856 bytes, got \d+\): delete it and run again to re-download$/.test(e.message));

  // Bad magic.
  writeFileSync(join(project, 'data/fashion-mnist/train-images-idx3-ubyte.gz'), gzipSync(Buffer.from('<html>404</html>')));
  await assert.rejects(loadFashionMnist({ systemDir: null, download: false, contentDigests: digests }), (e: Error) =>
    e.message.startsWith('data/fashion-mnist/train-images-idx3-ubyte.gz is not an IDX file (bad magic 3c 68 74 6d') && e.message.endsWith(fix));

  // Missing, with downloads off.
  writeDir(join(project, 'data', 'fashion-mnist'), { 'train-images-idx3-ubyte': files['train-images-idx3-ubyte'] }, true);
  rmSync(join(project, 'data/fashion-mnist/t10k-labels-idx1-ubyte.gz'));
  await assert.rejects(loadFashionMnist({ systemDir: null, download: false, contentDigests: digests }), (e: Error) =>
    e.message.startsWith('Fashion-MNIST file t10k-labels-idx1-ubyte.gz is missing (looked in data/fashion-mnist)') && /allow downloads/.test(e.message));

  // Labels that disagree with the images.
  writeDir(join(project, 'data', 'fashion-mnist'), { 't10k-labels-idx1-ubyte': encodeIdx({ dtype: 'uint8', dims: [3], data: Uint8Array.of(1, 2, 3) }) }, true);
  const d2 = { ...digests, 't10k-labels-idx1-ubyte': createHash('sha256').update(encodeIdx({ dtype: 'uint8', dims: [3], data: Uint8Array.of(1, 2, 3) })).digest('hex') };
  await assert.rejects(loadFashionMnist({ systemDir: null, download: false, contentDigests: d2 }),
    /data\/fashion-mnist\/t10k-labels-idx1-ubyte\.gz has 3 labels but data\/fashion-mnist\/t10k-images-idx3-ubyte\.gz has 4 images/);
});

test('a download over 127.0.0.1 that fails its checksum names the file and leaves nothing behind', async () => {
  const { files } = generated(10, 4);
  const served = Object.fromEntries(NAMES.map((n) => [`${n}.gz`, gzipSync(files[n])]));
  const server = await serveFiles(served);
  try {
    const dataDir = join(scratch.path, 'dl-mismatch');
    mkdirSync(dataDir); // a data folder the caller names must exist
    await assert.rejects(loadFashionMnist({ dataDir, systemDir: null, baseUrl: server.baseUrl }), (e: Error) =>
      e.message.startsWith(`train-images-idx3-ubyte.gz downloaded from ${server.baseUrl}train-images-idx3-ubyte.gz has the wrong size (expected 26421880 bytes`));
    assert.deepEqual(readdirSync(dataDir), []);
    const missing = await serveFiles({});
    await assert.rejects(loadFashionMnist({ dataDir, systemDir: null, baseUrl: missing.baseUrl }),
      new RegExp(`download of ${missing.baseUrl}train-images-idx3-ubyte\\.gz failed with HTTP 404`));
    await missing.close();
  } finally {
    await server.close();
  }
});

// The Debian files are the official .gz files with the gzip FNAME field removed and the mtime reset
// (strip-nondeterminism). Re-inserting the original name and mtime (found by search: 2017-08-31 10:50 UTC)
// gives back the official bytes, which the official MD5s and SHA-256s below must accept.
const OFFICIAL_MTIME: Record<FashionMnistFile, number> = {
  'train-images-idx3-ubyte': 1504176606,
  'train-labels-idx1-ubyte': 1504176606,
  't10k-images-idx3-ubyte': 1504176627,
  't10k-labels-idx1-ubyte': 1504176627,
};

function officialBytesFromDebian(name: FashionMnistFile): Buffer {
  const deb = readFileSync(join(FASHION_MNIST_SYSTEM_DIR, `${name}.gz`));
  assert.equal(deb[3] & 0x08, 0, 'Debian file unexpectedly carries a file name');
  const out = Buffer.concat([deb.subarray(0, 10), Buffer.from(`${name}\0`, 'latin1'), deb.subarray(10)]);
  out[3] |= 0x08;
  out.writeUInt32LE(OFFICIAL_MTIME[name], 4);
  return out;
}

test('the Debian files carry the official Fashion-MNIST bytes (official MD5 and SHA-256)', { skip: SKIP_REAL }, () => {
  for (const name of NAMES) {
    const official = officialBytesFromDebian(name);
    const facts = FASHION_MNIST_FILES[name].official;
    assert.equal(official.length, facts.size, name);
    assert.equal(createHash('md5').update(official).digest('hex'), facts.md5, name);
    assert.equal(createHash('sha256').update(official).digest('hex'), facts.sha256, name);
  }
});

test('the real Debian Fashion-MNIST loads: 60000/10000 images, labels 0..9, balanced classes', { skip: SKIP_REAL }, async () => {
  const lines: string[] = [];
  mkdirSync(join(scratch.path, 'empty'));
  const ds = await loadFashionMnist({ dataDir: join(scratch.path, 'empty'), download: false, log: (s) => lines.push(s) });
  assert.ok(lines.every((l) => l.includes(FASHION_MNIST_SYSTEM_DIR)), lines.join('\n'));
  assert.equal(ds.train.n, 60000);
  assert.equal(ds.test.n, 10000);
  assert.equal(ds.train.images.length, 60000 * 784);
  assert.equal(ds.test.images.length, 10000 * 784);
  for (const [split, per] of [[ds.train, 6000], [ds.test, 1000]] as const) {
    const counts = new Array(10).fill(0);
    for (const l of split.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
  // The first labels, as `zcat <file> | xxd -s 8 -l 4` shows them.
  assert.deepEqual(Array.from(ds.train.labels.subarray(0, 4)), [9, 0, 0, 3]);
  assert.deepEqual(Array.from(ds.test.labels.subarray(0, 4)), [9, 2, 1, 1]);
});

test('the official files download over 127.0.0.1 with verification, then load from the cache', { skip: SKIP_REAL }, async () => {
  const served = Object.fromEntries(NAMES.map((n) => [`${n}.gz`, officialBytesFromDebian(n)]));
  const server = await serveFiles(served);
  const dataDir = join(scratch.path, 'dl-official');
  mkdirSync(dataDir); // a data folder the caller names must exist
  try {
    const ds = await loadFashionMnist({ dataDir, systemDir: null, baseUrl: server.baseUrl.replace(/\/$/, '') });
    assert.equal(ds.train.n, 60000);
    assert.deepEqual(server.requests.sort(), NAMES.map((n) => `${n}.gz`).sort());
  } finally {
    await server.close();
  }
  assert.deepEqual(readdirSync(dataDir).sort(), NAMES.map((n) => `${n}.gz`).sort());
  for (const n of NAMES) {
    assert.equal(createHash('md5').update(readFileSync(join(dataDir, `${n}.gz`))).digest('hex'), FASHION_MNIST_FILES[n].official.md5);
  }
  const again = await loadFashionMnist({ dataDir, systemDir: null, download: false });
  assert.equal(again.test.n, 10000);

  // The Debian bytes are not the official .gz bytes, so a mirror serving them fails the download check.
  mkdirSync(join(scratch.path, 'dl-debian'));
  const debian = await serveFiles(Object.fromEntries(NAMES.map((n) => [`${n}.gz`, readFileSync(join(FASHION_MNIST_SYSTEM_DIR, `${n}.gz`))])));
  try {
    await assert.rejects(loadFashionMnist({ dataDir: join(scratch.path, 'dl-debian'), systemDir: null, baseUrl: debian.baseUrl }),
      /train-images-idx3-ubyte\.gz downloaded from http:\/\/127\.0\.0\.1:\d+\/train-images-idx3-ubyte\.gz has the wrong size \(expected 26421880 bytes, got 26421856\)/);
    const ok = await loadFashionMnist({
      dataDir: join(scratch.path, 'dl-debian'), systemDir: null, baseUrl: debian.baseUrl,
      downloadDigests: Object.fromEntries(NAMES.map((n) => [n, { md5: createHash('md5').update(readFileSync(join(FASHION_MNIST_SYSTEM_DIR, `${n}.gz`))).digest('hex') }])),
    });
    assert.equal(ok.train.n, 60000);
  } finally {
    await debian.close();
  }
});

test('a second load in the same process reuses the verified files while they are unchanged, and reads a changed file again', async () => {
  const { files, digests } = generated(12, 5);
  const dataDir = join(scratch.path, 'cached');
  writeDir(dataDir, files, true);
  const settings = { dataDir, systemDir: null, download: false, contentDigests: digests } as const;
  const first = await loadFashionMnist(settings);
  const second = await loadFashionMnist(settings);
  assert.equal(second.train.images, first.train.images, 'the same verified bytes, not read again');
  // The same size and name, other content: the file's identity changed, so it is read and checked again.
  const bad = Uint8Array.from(files['train-images-idx3-ubyte']);
  bad[100] ^= 0xff;
  writeFileSync(join(dataDir, 'train-images-idx3-ubyte.gz'), gzipSync(bad));
  await assert.rejects(loadFashionMnist(settings), /train-images-idx3-ubyte\.gz failed its sha256 checksum/);
  writeFileSync(join(dataDir, 'train-images-idx3-ubyte.gz'), gzipSync(files['train-images-idx3-ubyte']));
  const third = await loadFashionMnist(settings);
  assert.notEqual(third.train.images, first.train.images);
  assert.deepEqual(third.train.images, first.train.images);
});
