/**
 * Files already read and verified in this process, kept while they are unchanged on disk: an experiment (or a
 * queue worker) trains many runs in one process, and each would otherwise read, decompress and checksum the
 * same dataset again (about 0.5 s of a short run for Fashion-MNIST). An entry is keyed by the file's path and
 * the check it passed, and is used only while the file's identity (device, inode, size, modification and
 * change times, to the nanosecond) is the one it had when read; callers never write into what it returns.
 */
import { statSync } from 'node:fs';

/** Files kept at most: the four Fashion-MNIST files, or CIFAR-10's six batches, with room to spare. */
const MAX_ENTRIES = 16;

const entries = new Map<string, { identity: string; value: unknown }>();

function identity(path: string): string {
  const s = statSync(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * `read()` the first time, or when the file changed since; else what it returned last time for the same
 * path and `check` (what the value was verified against, e.g. the expected digest).
 */
export function readCached<T>(path: string, check: string, read: () => T): T {
  const key = `${path}\0${check}`;
  const id = identity(path);
  const hit = entries.get(key);
  if (hit && hit.identity === id) {
    // Most recently used last: Map keeps insertion order.
    entries.delete(key);
    entries.set(key, hit);
    return hit.value as T;
  }
  const value = read();
  entries.delete(key);
  entries.set(key, { identity: id, value });
  while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
  return value;
}
