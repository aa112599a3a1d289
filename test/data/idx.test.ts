import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx, readIdxFile, type IdxArray } from '../../src/data/idx.js';
import { tempDir } from './fixtures.js';

const dir = tempDir();
after(() => dir.remove());

const images: IdxArray = { dtype: 'uint8', dims: [3, 4, 5], data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) };

test('generated IDX files parse the same raw and gzip-compressed', () => {
  const bytes = encodeIdx(images);
  assert.deepEqual(Array.from(bytes.subarray(0, 4)), [0, 0, 0x08, 3]);
  assert.equal(bytes.length, 4 + 3 * 4 + 60);
  const raw = join(dir.path, 'imgs-idx3-ubyte');
  const gz = join(dir.path, 'imgs-idx3-ubyte.gz');
  writeFileSync(raw, bytes);
  writeFileSync(gz, gzipSync(bytes));
  for (const path of [raw, gz]) {
    const a = readIdxFile(path, { expectDims: [-1, 4, 5], expectDType: 'uint8' });
    assert.equal(a.dtype, 'uint8');
    assert.deepEqual(a.dims, [3, 4, 5]);
    assert.deepEqual(Array.from(a.data), Array.from(images.data));
  }
});

test('every IDX element type round-trips big-endian', () => {
  const cases: IdxArray[] = [
    { dtype: 'int8', dims: [4], data: Int8Array.from([-128, -1, 0, 127]) },
    { dtype: 'int16', dims: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
    { dtype: 'int32', dims: [3], data: Int32Array.from([-2147483648, 16909060, 2147483647]) },
    { dtype: 'float32', dims: [2], data: Float32Array.from([1.5, -0.1]) },
    { dtype: 'float64', dims: [2], data: Float64Array.from([Math.PI, -1e300]) },
  ];
  for (const c of cases) {
    const parsed = parseIdx(encodeIdx(c), 'mem');
    assert.equal(parsed.dtype, c.dtype);
    assert.deepEqual(parsed.dims, c.dims);
    assert.deepEqual(Array.from(parsed.data), Array.from(c.data));
  }
  // 16909060 = 0x01020304 must be stored most significant byte first.
  const bytes = encodeIdx(cases[2]);
  assert.deepEqual(Array.from(bytes.subarray(12, 16)), [1, 2, 3, 4]);
});

test('a bad magic names the file and the fix', () => {
  const path = join(dir.path, 'bad-magic-idx1-ubyte');
  writeFileSync(path, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
  assert.throws(() => readIdxFile(path, { fix: 'delete it and run again to re-download' }),
    (e: Error) => e.message.includes('bad-magic-idx1-ubyte') && /bad magic 50 4b 03 04/.test(e.message)
      && e.message.endsWith('delete it and run again to re-download'));
  const badType = Uint8Array.from(encodeIdx(images));
  badType[2] = 0x07;
  assert.throws(() => parseIdx(badType, 'x.idx'), /x\.idx has unknown IDX data type 0x7/);
});

test('truncated files, raw or gzip, report expected and actual sizes and name the file', () => {
  const bytes = encodeIdx(images);
  const raw = join(dir.path, 'short-idx3-ubyte');
  writeFileSync(raw, bytes.subarray(0, 50));
  assert.throws(() => readIdxFile(raw, { fix: 'delete it' }), (e: Error) =>
    e.message.includes('short-idx3-ubyte is truncated (expected 76 bytes, got 50): delete it'));
  const big: IdxArray = { dtype: 'uint8', dims: [200, 28, 28], data: Uint8Array.from({ length: 200 * 784 }, (_, i) => (i * 7919) % 251) };
  const packed = gzipSync(encodeIdx(big));
  const gz = join(dir.path, 'cut-idx3-ubyte.gz');
  writeFileSync(gz, packed.subarray(0, Math.floor(packed.length / 2)));
  assert.throws(() => readIdxFile(gz), (e: Error) =>
    /cut-idx3-ubyte\.gz is truncated \(expected 156816 bytes, got \d+\)/.test(e.message));
  const header = join(dir.path, 'header-only');
  writeFileSync(header, bytes.subarray(0, 6));
  assert.throws(() => readIdxFile(header), /header-only is truncated \(header needs 16 bytes, got 6\)/);
});

test('missing files, extra bytes, wrong dims and corrupt gzip are reported with the file name', () => {
  assert.throws(() => readIdxFile(join(dir.path, 'nope.gz'), { fix: 'run again' }), /nope\.gz not found: run again/);
  const extra = join(dir.path, 'extra-idx3-ubyte');
  writeFileSync(extra, Buffer.concat([encodeIdx(images), Buffer.from([1, 2])]));
  assert.throws(() => readIdxFile(extra), /extra-idx3-ubyte has 2 bytes after its data/);
  const raw = join(dir.path, 'dims-idx3-ubyte');
  writeFileSync(raw, encodeIdx(images));
  assert.throws(() => readIdxFile(raw, { expectDims: [-1, 28, 28] }), /dims-idx3-ubyte has dims \[3,4,5\], expected \[\?,28,28\]/);
  assert.throws(() => readIdxFile(raw, { expectDType: 'float32' }), /holds uint8 values, expected float32/);
  const corrupt = Buffer.from(gzipSync(encodeIdx(images)));
  corrupt[corrupt.length - 6] ^= 0xff; // CRC32 trailer
  const bad = join(dir.path, 'crc-idx3-ubyte.gz');
  writeFileSync(bad, corrupt);
  assert.throws(() => readIdxFile(bad), /crc-idx3-ubyte\.gz is not a valid gzip file/);
});
