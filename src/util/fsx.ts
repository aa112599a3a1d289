/**
 * Crash-safe file writes. Every artifact, checkpoint and report goes through writeFileAtomic, so a reader
 * (or a resumed run) sees either the previous complete file or the new complete file, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
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
  await mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx', 0o644);
    await writeContent(handle, data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new Error(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
  await syncDir(dir);
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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path} not found: check the path, or create it first`, { cause: err });
    throw new Error(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
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

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] : String(err);
}
