/** Shared by the fault-injection tests: the CLI as a user runs it, scratch folders, a trained run, file tampering. */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
export const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';

export const scratch = (prefix = 'onnxtrain-faults-'): string => mkdtempSync(join(tmpdir(), prefix));

/** Runs `onnxtrain <args>`; a hang is cut after 60 s so that it fails the test instead of the suite. */
export function cli(args: string[], options: SpawnSyncOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, ...options }) as SpawnSyncReturns<string>;
}

/** The command failed by itself (no hang, no signal) with exactly one stderr line matching `pattern`. */
export function assertRefused(r: SpawnSyncReturns<string>, pattern: RegExp): void {
  assert.equal(r.signal, null, `killed by ${r.signal}: the command hung`);
  assert.notEqual(r.status, 0, `exit 0; stdout: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
}

/** Asserts `message` is one line matching `pattern`; for assert.rejects/throws. */
export const oneLine = (pattern: RegExp) => (err: Error): boolean => {
  assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
  assert.match(err.message, pattern);
  return true;
};

let trained: string | undefined;

/** A fresh copy of a one-epoch simple-mlp run (trained once per test file). */
export function copyOfRun(): string {
  if (!trained) {
    const dir = join(scratch(), 'run');
    const r = cli(['train', 'simple-mlp', '--limit', '600', '--epochs', '1', '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    trained = dir;
  }
  const copy = join(scratch(), 'run');
  cpSync(trained, copy, { recursive: true });
  return copy;
}

/** A safetensors file split into its header (parsed) and data section. */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  return { header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')), data: bytes.subarray(8 + n) };
}

/** A safetensors file from header text (taken as is) and a data section; `length` overrides the header length. */
export function joinSafetensors(headerText: string, data: Uint8Array, length?: bigint): Uint8Array {
  const head = Buffer.from(headerText);
  const out = Buffer.alloc(8 + head.length + data.length);
  out.writeBigUInt64LE(length ?? BigInt(head.length), 0);
  head.copy(out, 8);
  out.set(data, 8 + head.length);
  return out;
}

/** `bytes` with its header rewritten by `edit` (which changes the parsed header in place). */
export function tamper(bytes: Uint8Array, edit: (header: Record<string, any>) => void): Uint8Array {
  const { header, data } = splitSafetensors(bytes);
  edit(header);
  return joinSafetensors(JSON.stringify(header), data);
}
