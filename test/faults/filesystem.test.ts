/**
 * Full, read-only and forbidden file systems: a small tmpfs (we mount it, so root is needed) fills up or is
 * remounted read-only under an atomic write. Nothing torn, no temporary file left, one line naming the fix.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadCheckpoint, saveCheckpoint } from '../../src/artifacts/checkpoint.js';
import { tensor } from '../../src/graph/tensor.js';
import { checkWritable, isWritableDir, makeDir, writeFileAtomic, writeJsonAtomic } from '../../src/util/fsx.js';
import { assertRefused, cli, noData, oneLine, scratch } from './helpers.js';

/** Why tmpfs tests cannot run here, or false when a tmpfs can be mounted. */
const noMount = ((): string | false => {
  const dir = scratch();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir]);
    return false;
  } catch (err) {
    return `cannot mount a tmpfs here (${String((err as Error).message).split('\n')[0]}): these cases need root and mount(8)`;
  }
})();

/** A fresh 64 KiB tmpfs, unmounted after the test. */
function tmpfs(t: TestContext): string {
  const dir = scratch();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  t.after(() => execFileSync('umount', [dir]));
  return dir;
}

const remountReadOnly = (dir: string): void => { execFileSync('mount', ['-o', 'remount,ro', dir]); };
const weights = (n: number, v: number) => new Map([['w', tensor('float32', [n], new Float32Array(n).fill(v))]]);
const META = { model: 'simple-mlp', epoch: 1, step: 1 };
const ENOSPC_FIX = /\(no space left on the device: free some space or pass a folder on another disk\)$/;
const EROFS_FIX = /\(the file system is read-only: pass a folder on a writable disk\)$/;

test('a full disk: the checkpoint write fails with one line, the old checkpoint stays whole, no temporary file is left', { skip: noMount }, async (t) => {
  const dir = tmpfs(t);
  const path = join(dir, 'last.safetensors');
  await saveCheckpoint(path, { weights: weights(256, 1), optimizerState: new Map(), meta: META });
  await assert.rejects(saveCheckpoint(path, { weights: weights(1 << 16, 2), optimizerState: new Map(), meta: META }),
    oneLine(new RegExp(`^cannot write ${path}: ENOSPC: .*${ENOSPC_FIX.source}`)));
  assert.deepEqual(readdirSync(dir), ['last.safetensors']);
  assert.ok(((await loadCheckpoint(path)).weights.get('w')!.data as Float32Array).every((x) => x === 1));
});

test('a full disk: checkWritable and isWritableDir say so before any work starts; JSON writes fail cleanly', { skip: noMount }, async (t) => {
  const dir = tmpfs(t);
  await writeJsonAtomic(join(dir, 'config.json'), { a: 1 });
  assert.equal(await isWritableDir(dir), true);
  try {
    writeFileSync(join(dir, 'filler'), new Uint8Array(1 << 20));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  await assert.rejects(checkWritable(dir), oneLine(new RegExp(`^cannot write to ${dir} \\(ENOSPC\\): no space left on the device: free some space or pass a folder on another disk$`)));
  await assert.rejects(checkWritable(join(dir, 'runs', 'new'), '--out runs/new'), oneLine(/^cannot write to --out runs\/new \(ENOSPC\)/));
  assert.equal(await isWritableDir(dir), false);
  await assert.rejects(writeJsonAtomic(join(dir, 'config.json'), { a: 'x'.repeat(1 << 16) }), oneLine(ENOSPC_FIX));
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), { a: 1 });
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'filler']);
});

test('a read-only file system: writes fail with EROFS and its fix, the file is untouched; checkWritable refuses', { skip: noMount }, async (t) => {
  const dir = tmpfs(t);
  const path = join(dir, 'metrics.json');
  await writeFileAtomic(path, 'old');
  remountReadOnly(dir);
  await assert.rejects(writeFileAtomic(path, 'new'), oneLine(new RegExp(`^cannot write ${path}: EROFS: .*${EROFS_FIX.source}`)));
  await assert.rejects(writeFileAtomic(join(dir, 'sub', 'x.json'), 'new'), oneLine(EROFS_FIX));
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['metrics.json']);
  await assert.rejects(checkWritable(dir), oneLine(/\(EROFS\): the file system is read-only: pass a folder on a writable disk$/));
  await assert.rejects(checkWritable(join(dir, 'not', 'yet')), oneLine(/not\/yet \(EROFS\)/));
  await assert.rejects(makeDir(join(dir, 'not', 'yet')), /EROFS/, 'recursive mkdir reports ENOENT here; makeDir the real cause');
  assert.equal(await isWritableDir(dir), false);
});

test('a folder the user may not write to: checkWritable reports EACCES (run as nobody, since root writes everywhere)', () => {
  const dir = scratch();
  chmodSync(dir, 0o755);
  const fsx = pathToFileURL(join(process.cwd(), 'dist/src/util/fsx.js')).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `import { checkWritable } from '${fsx}'; await checkWritable(${JSON.stringify(dir)}).catch((e) => { process.stderr.write(e.message + '\\n'); process.exit(1); });`],
  { encoding: 'utf8', uid: 65534, gid: 65534 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr.trim(), new RegExp(`^cannot write to ${dir} \\(EACCES\\): permission denied: fix the folder's permissions or pass a folder you own$`));
  assert.deepEqual(readdirSync(dir), [], 'the probe file was left behind');
});

test('a file where the output folder should be: checkWritable names it', async () => {
  const dir = scratch();
  writeFileSync(join(dir, 'run'), 'x');
  await assert.rejects(checkWritable(join(dir, 'run', 'sub')), oneLine(/run is a file, not a folder: remove it or pass another folder$/));
});

test('train --out on a read-only file system names the fix before loading the data', {
  skip: noMount || noData,
}, (t) => {
  const dir = tmpfs(t);
  remountReadOnly(dir);
  const r = cli(['train', 'simple-mlp', '--limit', '60', '--epochs', '1', '--out', join(dir, 'a')]);
  assertRefused(r, /--out .* \(EROFS\): the file system is read-only: pass a folder on a writable disk$/);
});
