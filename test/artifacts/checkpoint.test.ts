import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadCheckpoint, saveCheckpoint } from '../../src/artifacts/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/artifacts/safetensors.js';
import { tensor } from '../../src/graph/tensor.js';

test('safetensors round trip keeps names, dtypes, shapes, values and metadata; header is 8-byte aligned', () => {
  const tensors = new Map([
    ['layers.0.weight', tensor('float32', [2, 3], [1, -2, 3.5, 0, 1e-8, -0])],
    ['bn.num_batches_tracked', tensor('int64', [], [7])],
    ['x.f64', tensor('float64', [2], [Math.PI, -1])],
  ]);
  const bytes = encodeSafetensors(tensors, { onnxtrain: '{"epoch":3}' });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0);
  const back = decodeSafetensors(bytes);
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [k, t] of tensors) {
    assert.equal(back.tensors.get(k)!.dtype, t.dtype);
    assert.deepEqual(back.tensors.get(k)!.dims, t.dims);
    assert.deepEqual(Array.from(back.tensors.get(k)!.data as Float32Array), Array.from(t.data as Float32Array));
  }
  assert.equal(back.metadata.onnxtrain, '{"epoch":3}');
  assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), 'x.safetensors'), /x\.safetensors is not a valid safetensors file \(tensor 'x\.f64' at bytes 32\.\.48 runs past the 44-byte data section \(truncated\?\)\)/);
  assert.throws(() => decodeSafetensors(new Uint8Array(3), 'y.safetensors'), /y\.safetensors is not a valid safetensors file/);
});

test('a checkpoint survives a kill during save: the file is always a complete old or new version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-ck-'));
  const path = join(dir, 'last.safetensors');
  const big = (v: number) => new Map([['w', tensor('float32', [1 << 20], new Float32Array(1 << 20).fill(v))]]);
  await saveCheckpoint(path, { weights: big(0), optimizerState: new Map(), meta: { model: 'w-only', epoch: 0, step: 0 } });
  const script = join(dir, 'saver.mjs');
  const mod = pathToFileURL(join(process.cwd(), 'dist/src/artifacts/checkpoint.js')).href;
  const tmod = pathToFileURL(join(process.cwd(), 'dist/src/graph/tensor.js')).href;
  writeFileSync(script, `
    import { saveCheckpoint } from '${mod}';
    import { tensor } from '${tmod}';
    for (let e = 1; ; e++) {
      await saveCheckpoint(${JSON.stringify(path)}, { weights: new Map([['w', tensor('float32', [${1 << 20}], new Float32Array(${1 << 20}).fill(e))]]), optimizerState: new Map(), meta: { model: 'w-only', epoch: e, step: e } });
      if (e === 1) process.stdout.write('saving\\n');
    }`);
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 5 + round * 7));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const ck = await loadCheckpoint<{ epoch: number }>(path);
    const w = ck.weights.get('w')!.data as Float32Array;
    assert.ok(w.every((x) => x === w[0]), 'a checkpoint mixes two versions');
    assert.equal(w[0], ck.meta.epoch, 'weights and metadata come from different saves');
  }
  assert.ok(readdirSync(dir).every((f) => !f.endsWith('.safetensors') || f === 'last.safetensors'));
});
