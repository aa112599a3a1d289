#!/usr/bin/env node
// `npm run <command>`: rebuild dist/ only when a source file is newer than the last build, then run the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(newest(join(root, 'src')), newest(join(root, 'scripts')), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (!existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const [entry, ...args] = process.argv.slice(2);
const target = entry.endsWith('.js') ? join(root, entry) : join(root, 'dist', 'src', 'cli', 'bin.js');
const r = spawnSync(process.execPath, [target, ...(entry.endsWith('.js') ? args : [entry, ...args])], { stdio: 'inherit' });
process.exit(r.status ?? (r.signal === 'SIGINT' ? 130 : 1));
