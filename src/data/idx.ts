/**
 * IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed (detected by magic bytes).
 * Layout: 0x00 0x00 <dtype> <ndims>, then ndims big-endian uint32 sizes, then the data, big-endian.
 */
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { readRegularFileSync } from '../util/fsx.js';
import { displayPath } from './paths.js';

export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDType;
  dims: number[];
  data: IdxData;
}

const CODES: Record<number, { dtype: IdxDType; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};
const CODE_OF: Record<IdxDType, number> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };

export interface IdxReadSettings {
  /** What the user should do when the file is bad. Default: "replace it with a complete copy". */
  fix?: string;
  /** Dimensions the file must have; -1 matches any size. Default: any. */
  expectDims?: number[];
  /** Element type the file must have. Default: any. */
  expectDType?: IdxDType;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads an IDX file, gunzipping it first when it starts with the gzip magic. */
export function readIdxFile(path: string, settings: IdxReadSettings = {}): IdxArray {
  const label = displayPath(path);
  const fix = settings.fix ?? 'replace it with a complete copy';
  const bytes = readRegularFileSync(path, fix, label);
  return parseIdx(decompressIfGzip(bytes, label, fix), label, settings);
}

/**
 * Gunzips `bytes` when they carry the gzip magic. A stream cut short is decompressed as far as it goes
 * so that the IDX check below can report "truncated (expected N bytes, got M)".
 */
export function decompressIfGzip(bytes: Uint8Array, label: string, fix: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    const message = (e as Error).message;
    if (/unexpected end of file/i.test(message)) {
      try {
        return gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      } catch { /* fall through to the corrupt-file error */ }
    }
    throw new Error(`${label} is not a valid gzip file (${message}): ${fix}`);
  }
}

/** Parses uncompressed IDX bytes; `label` names the file in errors. */
export function parseIdx(bytes: Uint8Array, label: string, settings: IdxReadSettings = {}): IdxArray {
  const fix = settings.fix ?? 'replace it with a complete copy';
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${label} is not an IDX file (bad magic ${head || '<empty>'}, expected 00 00 <type> <ndims>): ${fix}`);
  }
  const code = CODES[bytes[2]];
  if (!code) throw new Error(`${label} has unknown IDX data type 0x${bytes[2].toString(16)} (expected 08, 09, 0b, 0c, 0d or 0e): ${fix}`);
  const ndims = bytes[3];
  if (ndims === 0) throw new Error(`${label} declares 0 dimensions: ${fix}`);
  const headerSize = 4 + 4 * ndims;
  if (bytes.length < headerSize) {
    throw new Error(`${label} is truncated (header needs ${headerSize} bytes, got ${bytes.length}): ${fix}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expectedBytes = headerSize + count * code.size;
  if (bytes.length < expectedBytes) {
    throw new Error(`${label} is truncated (expected ${expectedBytes} bytes, got ${bytes.length}): ${fix}`);
  }
  if (bytes.length > expectedBytes) {
    throw new Error(`${label} has ${bytes.length - expectedBytes} bytes after its data (expected ${expectedBytes} bytes, got ${bytes.length}): ${fix}`);
  }
  if (settings.expectDType && settings.expectDType !== code.dtype) {
    throw new Error(`${label} holds ${code.dtype} values, expected ${settings.expectDType}: ${fix}`);
  }
  const want = settings.expectDims;
  if (want && (want.length !== dims.length || want.some((d, i) => d !== -1 && d !== dims[i]))) {
    throw new Error(`${label} has dims [${dims}], expected [${want.map((d) => (d === -1 ? '?' : d))}]: ${fix}`);
  }
  return { dtype: code.dtype, dims, data: readBigEndian(view, headerSize, count, code.dtype) };
}

function readBigEndian(view: DataView, offset: number, count: number, dtype: IdxDType): IdxData {
  switch (dtype) {
    case 'uint8': return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8': return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': { const a = new Int16Array(count); for (let i = 0; i < count; i++) a[i] = view.getInt16(offset + 2 * i, false); return a; }
    case 'int32': { const a = new Int32Array(count); for (let i = 0; i < count; i++) a[i] = view.getInt32(offset + 4 * i, false); return a; }
    case 'float32': { const a = new Float32Array(count); for (let i = 0; i < count; i++) a[i] = view.getFloat32(offset + 4 * i, false); return a; }
    case 'float64': { const a = new Float64Array(count); for (let i = 0; i < count; i++) a[i] = view.getFloat64(offset + 8 * i, false); return a; }
  }
}

/** Serialises an array as IDX (uncompressed); the inverse of parseIdx. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { dtype, dims, data } = array;
  const size = CODES[CODE_OF[dtype]].size;
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`encodeIdx: ${data.length} values for dims [${dims}]`);
  const headerSize = 4 + 4 * dims.length;
  const out = new Uint8Array(headerSize + count * size);
  const view = new DataView(out.buffer);
  out[2] = CODE_OF[dtype];
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const o = headerSize + i * size;
    switch (dtype) {
      case 'uint8': view.setUint8(o, data[i]); break;
      case 'int8': view.setInt8(o, data[i]); break;
      case 'int16': view.setInt16(o, data[i], false); break;
      case 'int32': view.setInt32(o, data[i], false); break;
      case 'float32': view.setFloat32(o, data[i], false); break;
      case 'float64': view.setFloat64(o, data[i], false); break;
    }
  }
  return out;
}
