/** Data faults: a --data-dir that is missing, a file or unreadable; truncated IDX and CIFAR files; FIFOs among the data files. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CIFAR10_ARCHIVE, CIFAR10_BATCH_DIR, loadCifar10 } from '../../src/data/cifar10.js';
import { loadFashionMnist } from '../../src/data/fashion_mnist.js';
import { encodeIdx } from '../../src/data/idx.js';
import { makeCifarArchive } from '../data/fixtures.js';
import { assertRefused, cli, oneLine, scratch } from './helpers.js';

const train = (model: string, dataDir: string) => cli(['train', model, '--data-dir', dataDir, '--limit', '60', '--epochs', '1', '--out', join(scratch(), 'o')]);

/** A generated Fashion-MNIST folder (gzip files) of n images, or with `cut` bytes removed from train-images. */
function fashionDir(n = 12, cut = 0): string {
  const dir = scratch();
  const files = {
    'train-images-idx3-ubyte': encodeIdx({ dtype: 'uint8', dims: [n, 28, 28], data: new Uint8Array(n * 784) }),
    'train-labels-idx1-ubyte': encodeIdx({ dtype: 'uint8', dims: [n], data: new Uint8Array(n) }),
    't10k-images-idx3-ubyte': encodeIdx({ dtype: 'uint8', dims: [n, 28, 28], data: new Uint8Array(n * 784) }),
    't10k-labels-idx1-ubyte': encodeIdx({ dtype: 'uint8', dims: [n], data: new Uint8Array(n) }),
  };
  files['train-images-idx3-ubyte'] = files['train-images-idx3-ubyte'].subarray(0, files['train-images-idx3-ubyte'].length - cut);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes));
  return dir;
}

/** A generated CIFAR-10 folder with extracted batches (no manifest, so only the format is checked). */
function cifarDir(): string {
  const dir = scratch();
  mkdirSync(join(dir, CIFAR10_BATCH_DIR));
  for (const [name, bytes] of Object.entries(makeCifarArchive(2).batches)) writeFileSync(join(dir, CIFAR10_BATCH_DIR, name), bytes);
  return dir;
}

test('a missing --data-dir is refused by name, not replaced by the system copy or a download', async () => {
  const missing = join(scratch(), 'typo');
  assertRefused(train('simple-mlp', missing), /^onnxtrain: --data-dir .*typo does not exist: pass the folder that holds the fashion-mnist files, or leave out --data-dir to use data\/fashion-mnist$/);
  assertRefused(train('cifar10-cnn', missing), /^onnxtrain: --data-dir .*typo does not exist: pass the folder that holds the cifar10 files/);
  await assert.rejects(loadFashionMnist({ dataDir: missing }), oneLine(/--data-dir .*typo does not exist/));
  await assert.rejects(loadCifar10({ dataDir: missing }), oneLine(/--data-dir .*typo does not exist/));
  assert.equal(existsSync(missing), false, 'the loader created the folder');
});

test('a --data-dir that is a file is refused', () => {
  const file = join(scratch(), 'file');
  writeFileSync(file, 'x');
  assertRefused(train('simple-mlp', file), /^onnxtrain: --data-dir .*file is a file, not a folder: pass the folder/);
});

test('an unreadable --data-dir is refused (run as nobody, since root reads everything)', () => {
  const dir = scratch();
  chmodSync(dir, 0o755);
  const locked = join(dir, 'locked');
  mkdirSync(locked, { mode: 0o000 });
  const out = join(dir, 'o');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  const asNobody = cli(['train', 'simple-mlp', '--data-dir', locked, '--limit', '60', '--out', out], { uid: 65534, gid: 65534 });
  assertRefused(asNobody, /^onnxtrain: --data-dir .*locked is not readable \(EACCES\): give read permission \(chmod a\+rx .*locked\), or pass the folder/);
});

test('a truncated IDX file in --data-dir names the file and the sizes', () => {
  assertRefused(train('simple-mlp', fashionDir(12, 100)), /^onnxtrain: .*train-images-idx3-ubyte\.gz is truncated \(expected 9424 bytes, got 9324\): delete it and run again to re-download$/);
});

test('a truncated CIFAR-10 batch in --data-dir names the file', () => {
  const dir = cifarDir();
  const batch = join(dir, CIFAR10_BATCH_DIR, 'data_batch_1.bin');
  writeFileSync(batch, makeCifarArchive(2).batches['data_batch_1.bin'].subarray(0, 5000));
  assertRefused(train('cifar10-cnn', dir), /^onnxtrain: .*data_batch_1\.bin is truncated or corrupt \(5000 bytes is not a whole number of 3073-byte records\): delete .* and run again to re-extract$/);
});

test('a FIFO among the Fashion-MNIST files is refused at once instead of blocking for ever', () => {
  const dir = fashionDir();
  const fifo = join(dir, 'train-images-idx3-ubyte.gz');
  execFileSync('rm', [fifo]);
  execFileSync('mkfifo', [fifo]);
  assertRefused(train('simple-mlp', dir), /^onnxtrain: .*train-images-idx3-ubyte\.gz is a FIFO \(named pipe\), not a file: delete it and run again to re-download$/);
});

test('a FIFO or a folder among the CIFAR-10 files is refused at once', async () => {
  const dir = cifarDir();
  const batch = join(dir, CIFAR10_BATCH_DIR, 'data_batch_2.bin');
  execFileSync('rm', [batch]);
  execFileSync('mkfifo', [batch]);
  assertRefused(train('cifar10-cnn', dir), /^onnxtrain: .*data_batch_2\.bin is a FIFO \(named pipe\), not a file: delete .* and run again to re-extract$/);
  execFileSync('rm', [batch]);
  mkdirSync(batch);
  await assert.rejects(loadCifar10({ dataDir: dir, download: false }), oneLine(/data_batch_2\.bin is a folder, not a file/));

  const archiveOnly = scratch();
  execFileSync('mkfifo', [join(archiveOnly, CIFAR10_ARCHIVE)]);
  await assert.rejects(loadCifar10({ dataDir: archiveOnly, download: false }), oneLine(/cifar-10-binary\.tar\.gz is a FIFO \(named pipe\), not a file: delete it and run again to re-download$/));
});
