/**
 * Crash-safe file writes. Every artifact, checkpoint and report goes through writeFileAtomic, so a reader
 * (or a resumed run) sees either the previous complete file or the new complete file, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * What writeFileAtomic accepts: the whole content, or chunks produced one after another (so a large
 * checkpoint can be streamed tensor by tensor without first concatenating it in memory).
 */
export type FileContent = string | Uint8Array | Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>;

/** Name of the temporary sibling used while `path` is being written; hidden, and ignored by `*.tmp`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Write `data` to `path` atomically: write a temporary file in the same folder, fsync it, rename it over
 * `path`, then fsync the folder so the rename itself survives a power cut. Creates missing parent folders.
 * If anything fails before the rename, the temporary file is removed and `path` is left untouched.
 */
export async function writeFileAtomic(path: string, data: FileContent): Promise<void> {
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  let handle: FileHandle | undefined;
  try {
    await makeDir(dir);
    handle = await open(tmp, 'wx', 0o644);
    await writeContent(handle, data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new Error(`cannot write ${path}: ${errorMessage(err)}${fixForWriteError(err)}`, { cause: err });
  }
  await syncDir(dir);
}

/**
 * `mkdir -p`, one folder at a time, so the error is the real cause: Node's recursive mkdir says ENOENT
 * where a parent is read-only (EROFS) or forbidden (EACCES), and never returns under /proc.
 */
export async function makeDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d).catch(() => null);
    if (s) {
      if (!s.isDirectory()) throw Object.assign(new Error(`${d} is not a folder`), { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    await mkdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}

/** writeFileAtomic of `JSON.stringify(value, null, indent)` plus a trailing newline. */
export async function writeJsonAtomic(path: string, value: unknown, settings: JsonWriteSettings = {}): Promise<void> {
  const text = JSON.stringify(value, null, settings.indent ?? 2);
  if (text === undefined) {
    throw new Error(`cannot write ${path}: the value is not JSON-serializable (got ${typeof value}); pass an object, array, string, number or boolean`);
  }
  await writeFileAtomic(path, text + '\n');
}

export interface JsonWriteSettings {
  /** Spaces per indentation level; 0 writes one compact line. Default 2. */
  indent?: number;
}

/**
 * Read and parse a JSON file. Fails with one line naming the file when it is missing, unreadable or not
 * valid JSON. The result is not validated: callers check the shape they expect.
 */
export async function readJson<T = unknown>(path: string): Promise<T> {
  const text = (await readRegularFile(path, 'check the path, or create it first')).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${errorMessage(err)}): fix or delete the file`, { cause: err });
  }
}

async function writeContent(handle: FileHandle, data: FileContent): Promise<void> {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    await handle.writeFile(data);
    return;
  }
  for await (const chunk of data as AsyncIterable<Uint8Array | string>) {
    await handle.writeFile(chunk);
  }
}

/** fsync a folder so a rename inside it is durable. Platforms that cannot open folders (Windows) skip it. */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Fixes for the errors a write can meet, by errno code. */
const WRITE_FIXES: Record<string, string> = {
  EROFS: 'the file system is read-only: pass a folder on a writable disk',
  EACCES: 'permission denied: fix the folder\'s permissions or pass a folder you own',
  EPERM: 'permission denied: fix the folder\'s permissions or pass a folder you own',
  ENOSPC: 'no space left on the device: free some space or pass a folder on another disk',
  EDQUOT: 'disk quota exceeded: free some space or pass a folder on another disk',
  ENOTDIR: 'a file stands where a folder is needed: remove it or pass another folder',
};

function fixForWriteError(err: unknown): string {
  const fix = WRITE_FIXES[(err as NodeJS.ErrnoException).code ?? ''];
  return fix ? ` (${fix})` : '';
}

/**
 * Throws one line naming `dir` and the fix unless a file can be created in it: a small probe file is
 * written, synced and removed. A missing `dir` is probed in its nearest existing parent, which is where
 * it would be created. Catches EROFS, EACCES, ENOSPC and EDQUOT before hours of work are lost to them.
 */
export async function checkWritable(dir: string, label = dir): Promise<void> {
  const at = await nearestExisting(dir);
  const probe = tempPathFor(join(at, 'write-probe'));
  let handle: FileHandle | undefined;
  try {
    handle = await open(probe, 'wx', 0o644);
    await handle.writeFile(new Uint8Array(4096));
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot write to ${label} (${code}): ${WRITE_FIXES[code] ?? errorMessage(err)}`, { cause: err });
  } finally {
    await handle?.close().catch(() => undefined);
    await unlink(probe).catch(() => undefined);
  }
}

/** Whether checkWritable(dir) passes. */
export async function isWritableDir(dir: string): Promise<boolean> {
  return checkWritable(dir).then(() => true, () => false);
}

async function nearestExisting(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d).catch(() => undefined);
    if (s?.isDirectory()) return d;
    if (s) throw new Error(`cannot write to ${dir}: ${d} is a file, not a folder: remove it or pass another folder`);
    if (dirname(d) === d) return d;
  }
}

/** 'a file', 'a folder', 'a FIFO', ...: what a path is, for messages. */
export function kindOf(s: Stats): string {
  if (s.isFile()) return 'a file';
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'a special file';
}

/**
 * Reads a regular file, failing with one line `<label> <problem>: <fix>` when it is missing, unreadable,
 * a folder, or a FIFO/socket/device. O_NONBLOCK makes opening a FIFO return at once instead of waiting
 * for a writer, and fstat on the open descriptor leaves no gap between the check and the read.
 */
export function readRegularFileSync(path: string, fix: string, label = path): Buffer {
  const fd = openRegularSync(path, fix, label);
  try {
    return readFileSync(fd);
  } catch (err) {
    throw readError(err, label, fix);
  } finally {
    closeSync(fd);
  }
}

/** Throws like readRegularFileSync unless `path` is a readable regular file; returns its size. */
export function checkRegularFileSync(path: string, fix: string, label = path): number {
  const fd = openRegularSync(path, fix, label);
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/** The async readRegularFileSync. */
export async function readRegularFile(path: string, fix: string, label = path): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw readError(err, label, fix);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new Error(`${label} is ${kindOf(s)}, not a file: ${fix}`);
    return await handle.readFile().catch((err: unknown) => { throw readError(err, label, fix); });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function openRegularSync(path: string, fix: string, label: string): number {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw readError(err, label, fix);
  }
  const s = fstatSync(fd);
  if (s.isFile()) return fd;
  closeSync(fd);
  throw new Error(`${label} is ${kindOf(s)}, not a file: ${fix}`);
}

function readError(err: unknown, label: string, fix: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const message = code === 'ENOENT' ? `${label} not found: ${fix}`
    : code === 'EACCES' || code === 'EPERM' ? `${label} is not readable (${code}): give read permission (chmod a+r), or ${fix}`
      : code === 'EISDIR' ? `${label} is a folder, not a file: ${fix}`
        : `${label} cannot be read (${code ?? errorMessage(err)}): ${fix}`;
  return new Error(message, { cause: err });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}
