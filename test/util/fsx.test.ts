import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../../src/util/fsx.js';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'onnxtrain-fsx-'));
}

test('writeFileAtomic writes strings, bytes and chunk streams, creating parent folders', async () => {
  const dir = await scratch();
  try {
    const a = join(dir, 'nested', 'deeper', 'a.txt');
    await writeFileAtomic(a, 'hello');
    assert.equal(await readFile(a, 'utf8'), 'hello');

    await writeFileAtomic(a, new Uint8Array([0x62, 0x79, 0x65]));
    assert.equal(await readFile(a, 'utf8'), 'bye');

    async function* chunks(): AsyncGenerator<Uint8Array | string> {
      yield 'head|';
      yield new Uint8Array(70_000).fill(0x41);
      yield '|tail';
    }
    await writeFileAtomic(a, chunks());
    const text = await readFile(a, 'utf8');
    assert.equal(text.length, 5 + 70_000 + 5);
    assert.ok(text.startsWith('head|AAA') && text.endsWith('AAA|tail'));

    await writeFileAtomic(a, ['x', 'y', new Uint8Array([0x7a])]);
    assert.equal(await readFile(a, 'utf8'), 'xyz');

    assert.deepEqual(await readdir(join(dir, 'nested', 'deeper')), ['a.txt'], 'no temporary files left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a write that fails midway leaves the old file intact and removes its temporary file', async () => {
  const dir = await scratch();
  try {
    const target = join(dir, 'checkpoint.bin');
    await writeFile(target, 'old complete content');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1000).fill(1);
      throw new Error('disk on fire');
    }
    await assert.rejects(writeFileAtomic(target, failing()), (err: Error) => {
      assert.match(err.message, /^cannot write .*checkpoint\.bin: disk on fire$/);
      return true;
    });
    assert.equal(await readFile(target, 'utf8'), 'old complete content');
    assert.deepEqual(await readdir(dir), ['checkpoint.bin']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a rename that fails leaves the destination untouched and removes the temporary file', async () => {
  const dir = await scratch();
  try {
    // A non-empty folder at the destination cannot be replaced by a file.
    const target = join(dir, 'metrics.json');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'still here');
    await assert.rejects(writeFileAtomic(target, '{}'), /^Error: cannot write .*metrics\.json: /);
    assert.equal(await readFile(join(target, 'keep.txt'), 'utf8'), 'still here');
    assert.deepEqual(await readdir(dir), ['metrics.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a process killed between write and rename leaves the old file intact', async () => {
  const dir = await scratch();
  try {
    const target = join(dir, 'last.safetensors');
    await writeFile(target, 'previous checkpoint');
    const fsxUrl = pathToFileURL(join(import.meta.dirname, '../../src/util/fsx.js')).href;
    // The child writes one chunk, reports it, then hangs before the rename until it is killed.
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(fsxUrl)};
      async function* chunks() {
        yield 'partial new checkpoint';
        process.stdout.write('written\\n');
        await new Promise(() => setInterval(() => {}, 1000));
      }
      await writeFileAtomic(${JSON.stringify(target)}, chunks());
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`child exited early with code ${code}`)));
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('written')) resolve(); });
    });
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    assert.equal(await readFile(target, 'utf8'), 'previous checkpoint');
    const leftovers = (await readdir(dir)).filter((n) => n !== 'last.safetensors');
    assert.equal(leftovers.length, 1, 'the killed write leaves only its hidden temporary file');
    assert.match(leftovers[0], /^\.last\.safetensors\.\d+\.[0-9a-f]{8}\.tmp$/);
    // Writing again over the stale temporary works and is complete.
    await writeFileAtomic(target, 'new checkpoint');
    assert.equal(await readFile(target, 'utf8'), 'new checkpoint');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeJsonAtomic and readJson round-trip; readJson errors are one line naming the file', async () => {
  const dir = await scratch();
  try {
    const p = join(dir, 'config.json');
    const value = { model: 'basic-cnn', lr: 1e-3, betas: [0.9, 0.999], nested: { ok: true } };
    await writeJsonAtomic(p, value);
    const text = await readFile(p, 'utf8');
    assert.ok(text.endsWith('}\n'));
    assert.ok(text.includes('\n  "lr": 0.001'));
    assert.deepEqual(await readJson(p), value);

    await writeJsonAtomic(p, [1, 2], { indent: 0 });
    assert.equal(await readFile(p, 'utf8'), '[1,2]\n');

    await assert.rejects(writeJsonAtomic(p, undefined), /not JSON-serializable/);
    assert.deepEqual(await readJson(p), [1, 2], 'failed write kept the old file');

    const missing = join(dir, 'nope.json');
    await assert.rejects(readJson(missing), (err: Error) => {
      assert.equal(err.message, `${missing} not found: check the path, or create it first`);
      return true;
    });

    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"a": 1,,}');
    await assert.rejects(readJson(broken), (err: Error) => {
      assert.ok(err.message.startsWith(`${broken} is not valid JSON (`));
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
