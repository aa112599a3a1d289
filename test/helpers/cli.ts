import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The built CLI, as `npm run <command>` runs it. */
export const CLI = path.join(process.cwd(), 'dist/src/cli/bin.js');

/** Runs the CLI, asserts that it exits 0, and returns what it printed (stdout, then stderr). */
export function cliOk(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout + r.stderr;
}
