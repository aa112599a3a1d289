/**
 * A small in-memory tar reader (POSIX ustar, GNU long names, pax path/size records), enough for dataset
 * archives. Entries are returned as views into the given bytes; nothing is written to disk here.
 */

export interface TarEntry {
  /** Path inside the archive, '/'-separated, without a leading './'. */
  name: string;
  type: 'file' | 'directory' | 'other';
  data: Uint8Array;
}

const BLOCK = 512;

export function readTar(bytes: Uint8Array, label: string, fix: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | null = null;
  let pax: Record<string, string> = {};
  while (offset + BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    checkHeaderSum(header, offset, label, fix);
    const typeflag = String.fromCharCode(header[156] || 0x30);
    let size = parseNumber(header.subarray(124, 136), label, offset, fix);
    if (pax.size !== undefined) size = Number(pax.size);
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new Error(`${label} is truncated (entry at byte ${offset} needs ${dataStart + size} bytes, got ${bytes.length}): ${fix}`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'L') {
      longName = cString(data);
      continue;
    }
    if (typeflag === 'x') {
      pax = parsePax(data, label, fix);
      continue;
    }
    if (typeflag === 'g') continue;
    // Only POSIX ustar ("ustar\0") has a name prefix at 345; GNU tar ("ustar  ") keeps other fields there.
    const isPosixUstar = Buffer.from(header.subarray(257, 263)).toString('latin1') === 'ustar\0';
    const prefix = isPosixUstar ? cString(header.subarray(345, 500)) : '';
    let name = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    name = name.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const type = typeflag === '0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : 'other';
    entries.push({ name, type, data });
    longName = null;
    pax = {};
  }
  throw new Error(`${label} is truncated (no end-of-archive marker after ${bytes.length} bytes): ${fix}`);
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(end === -1 ? b : b.subarray(0, end)).toString('utf8');
}

/** Numeric header fields are octal ASCII, or big-endian base-256 when the first byte has its top bit set. */
function parseNumber(field: Uint8Array, label: string, offset: number, fix: string): number {
  if (field[0] & 0x80) {
    let v = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    return v;
  }
  const text = cString(field).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`${label} has a corrupt tar header at byte ${offset} (size field "${text}"): ${fix}`);
  return parseInt(text, 8);
}

/** The checksum is the byte sum of the header with its own 8-byte field counted as spaces. */
function checkHeaderSum(header: Uint8Array, offset: number, label: string, fix: string): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  const stored = parseInt(cString(header.subarray(148, 156)).trim(), 8);
  if (stored !== sum) {
    throw new Error(`${label} is not a valid tar archive (header checksum at byte ${offset} is ${stored}, computed ${sum}): ${fix}`);
  }
}

/** pax extended header records: "<length> <key>=<value>\n". */
function parsePax(data: Uint8Array, label: string, fix: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    const len = parseInt(Buffer.from(data.subarray(i, space)).toString('ascii'), 10);
    if (space === -1 || !(len > 0)) throw new Error(`${label} has a corrupt pax header: ${fix}`);
    const record = Buffer.from(data.subarray(space + 1, i + len - 1)).toString('utf8');
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}
