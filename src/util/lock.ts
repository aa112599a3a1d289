/**
 * An exclusive lock on a folder: `<dir>/.onnxtrain.lock`, created with O_EXCL and holding the owner's PID and
 * host name. A lock whose process is gone (kill -9) is stale and taken over. A PID means something only on
 * its own machine: a lock from another host (a folder on shared storage) is held unless the caller has
 * another authority saying its owner is gone (a queue worker whose BullMQ job lock expired: foreignIsStale).
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = '.onnxtrain.lock';

/** Locks this process holds, by path: a second taker in the same process is refused too. */
const held = new Set<string>();

interface LockInfo {
  pid: number;
  /** Absent in locks of older versions: this host. */
  host?: string;
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
export async function lockFolder(dir: string, what: string, opts: { foreignIsStale?: boolean } = {}): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const host = hostname();
  const info: LockInfo = { pid: process.pid, host, what, since: new Date().toISOString() };
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
    if (other && other.host !== undefined && other.host !== host) {
      if (!opts.foreignIsStale) {
        throw new Error(`${dir} is in use by an onnxtrain process on another machine (${other.host}, PID ${other.pid}, ${other.what} since ${other.since}): wait for it to finish; if that machine is gone, delete ${path}`);
      }
    } else if (other && (held.has(path) || (other.pid !== process.pid && alive(other.pid)))) {
      throw new Error(`${dir} is in use by another onnxtrain process (PID ${other.pid}, ${other.what} since ${other.since}): wait for it to finish, or pass another folder`);
    }
    // Stale (its process is gone, or another authority says so) or unreadable (a writer died mid-write): take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new Error(`${dir}: could not take its lock file ${LOCK_FILE}: another process keeps creating it; try again`);
}
