import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/fsx.js';
import { tensorBytes, tensorFromBytes, type DType, type Tensor } from '../graph/tensor.js';

/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { string: string } }` padded with
 * spaces to 8 bytes, then the tensors' bytes. The format torch/safetensors and many tools read.
 */
const CODES: Record<DType, string> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };
const FROM_CODE = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k as DType])) as Record<string, DType>;

export interface SafeTensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.data.byteLength;
    header[name] = { dtype: CODES[t.dtype], shape: t.dims, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(tensorBytes(t), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors file'): SafeTensors {
  const bad = (why: string): never => {
    throw new Error(`${source} is not a valid safetensors file (${why}): re-create it, or pick another checkpoint`);
  };
  if (bytes.length < 8) bad('shorter than its 8-byte header length');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > bytes.length) bad(`header of ${n} bytes runs past the end of the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  } catch {
    return bad('header is not JSON');
  }
  const base = 8 + n;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = FROM_CODE[e.dtype];
    if (!dtype) bad(`tensor '${name}' has unsupported dtype ${e.dtype}`);
    const [begin, end] = e.data_offsets;
    if (base + end > bytes.length) bad(`tensor '${name}' is truncated`);
    tensors.set(name, tensorFromBytes(dtype, e.shape, bytes.subarray(base + begin, base + end)));
  }
  return { tensors, metadata };
}

export async function saveSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function loadSafetensors(path: string): Promise<SafeTensors> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    throw new Error(`cannot read checkpoint ${path}: check the path (a run folder holds last.safetensors and best.safetensors)`);
  }
  return decodeSafetensors(bytes, path);
}
