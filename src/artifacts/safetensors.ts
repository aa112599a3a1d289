import { readRegularFile, writeFileAtomic } from '../util/fsx.js';
import { BYTES_PER_ELEMENT, tensorBytes, tensorFromBytes, type DType, type Tensor } from '../graph/tensor.js';

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

/** The reference implementation refuses headers above 100 MB; so do we, before parsing them. */
export const MAX_HEADER_BYTES = 100_000_000;

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Decodes and validates a safetensors file: a bounded JSON header, unique names, known dtypes, shapes
 * whose size matches their byte span, and spans that tile the data section exactly (sorted by offset,
 * no gap, no overlap, nothing before or after). Anything else names the file and the first problem.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors file'): SafeTensors {
  const bad = (why: string): never => {
    throw new Error(`${source} is not a valid safetensors file (${why}): re-create it, or pick another checkpoint`);
  };
  const { json, base } = headerText(bytes, bad);
  const header = parseHeader(json, bad);
  const metadata = checkMetadata(header.__metadata__, bad);
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => checkEntry(k, v, bad));
  checkLayout(entries, bytes.length - base, bad);
  const tensors = new Map<string, Tensor>();
  for (const e of entries) tensors.set(e.name, tensorFromBytes(e.dtype, e.shape, bytes.subarray(base + e.begin, base + e.end)));
  return { tensors, metadata };
}

type Bad = (why: string) => never;

function headerText(bytes: Uint8Array, bad: Bad): { json: string; base: number } {
  if (bytes.length < 8) bad(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) bad(`header length ${n} is above the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + Number(n) > bytes.length) bad(`header length ${n} runs past the end of the ${bytes.length}-byte file`);
  try {
    return { json: new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))), base: 8 + Number(n) };
  } catch {
    return bad('header is not UTF-8');
  }
}

function parseHeader(json: string, bad: Bad): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch {
    return bad('header is not JSON');
  }
  if (!isObject(header)) return bad('header is not a JSON object');
  const dup = duplicateKey(json);
  if (dup !== undefined) bad(`tensor '${dup}' appears twice in the header`);
  return header;
}

function checkMetadata(value: unknown, bad: Bad): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) bad('__metadata__ is not an object of strings');
  return value as Record<string, string>;
}

function checkEntry(name: string, v: unknown, bad: Bad): Entry {
  if (!isObject(v)) return bad(`tensor '${name}' is not an object`);
  const dtype = FROM_CODE[v.dtype as string];
  if (!dtype) bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(v.dtype)} (known: ${Object.keys(FROM_CODE).join(', ')})`);
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) bad(`tensor '${name}' has shape ${JSON.stringify(shape)}, not a list of sizes`);
  const offsets = v.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    bad(`tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as number[];
  const want = (shape as number[]).reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype];
  if (want !== end - begin) bad(`tensor '${name}' of shape [${shape as number[]}] ${v.dtype} needs ${want} bytes, its data_offsets span ${end - begin}`);
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The spans, sorted by offset, must tile [0, dataBytes) exactly. */
function checkLayout(entries: Entry[], dataBytes: number, bad: Bad): void {
  let at = 0;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (e.begin < at) bad(`tensor '${e.name}' at bytes ${e.begin}..${e.end} overlaps the tensor before it (ending at ${at})`);
    if (e.begin > at) bad(`a gap of ${e.begin - at} bytes precedes tensor '${e.name}' at bytes ${e.begin}..${e.end}`);
    if (e.end > dataBytes) bad(`tensor '${e.name}' at bytes ${e.begin}..${e.end} runs past the ${dataBytes}-byte data section (truncated?)`);
    at = e.end;
  }
  if (at !== dataBytes) bad(`${dataBytes - at} bytes follow the last tensor in the data section`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The first top-level key of the JSON object `json` that occurs twice (JSON.parse keeps only the last).
 * Scans strings and nesting depth; `json` is known to be valid JSON.
 */
function duplicateKey(json: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      const start = i;
      for (i++; json[i] !== '"'; i++) if (json[i] === '\\') i++;
      const colon = /\s*:/y;
      colon.lastIndex = i + 1;
      if (depth !== 1 || !colon.test(json)) continue;
      const key = JSON.parse(json.slice(start, i + 1)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    }
  }
  return undefined;
}

export async function saveSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function loadSafetensors(path: string): Promise<SafeTensors> {
  const bytes = await readRegularFile(path, 'check the path (a run folder holds last.safetensors and best.safetensors)', `checkpoint ${path}`);
  return decodeSafetensors(bytes, path);
}
