/**
 * An exclusive lock on a folder: `<dir>/.onnxtrain.lock`, created with O_EXCL and holding the owner's PID.
 * A lock whose process is gone (kill -9, a lost machine) is stale and taken over.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = '.onnxtrain.lock';

/** Locks this process holds, by path: a second taker in the same process is refused too. */
const held = new Set<string>();

interface LockInfo {
  pid: number;
  what: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return null;
  }
}

/**
 * Take the lock of `dir` (which must exist) for `what` (e.g. 'train'); returns its release. Throws one
 * line naming the other process when the folder is in use.
 */
export async function lockFolder(dir: string, what: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, what, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, JSON.stringify(info), { flag: 'wx' });
      held.add(path);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        held.delete(path);
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const other = await readLock(path);
    if (other && (held.has(path) || (other.pid !== process.pid && alive(other.pid)))) {
      throw new Error(`${dir} is in use by another onnxtrain process (PID ${other.pid}, ${other.what} since ${other.since}): wait for it to finish, or pass another folder`);
    }
    // Stale (its process is gone) or unreadable (a writer died mid-write): take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new Error(`${dir}: could not take its lock file ${LOCK_FILE}: another process keeps creating it; try again`);
}
