import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { buildArtifacts, GRAPH_FILES } from '../../src/artifacts/build.js';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { MODEL_NAMES, type ModelName } from '../../src/models/registry.js';

type Io = { name: string; dtype: string; shape: (number | string)[] | null };
type Manifest = { parameters: { name: string }[]; graphs: Record<string, { inputs: Io[]; outputs: Io[] }> };

ortWeb.env.wasm.numThreads = 1;

/** Small feeds for a graph's inputs: batch 2, loop of 2 steps over 4 images; indices and labels in range. */
function feedsFor<T extends typeof ort.Tensor | typeof ortWeb.Tensor>(T: T, inputs: Io[], weights: Map<string, { data: ArrayLike<number | bigint> }>) {
  const sizes: Record<string, number> = { N: 2, B: 2, S: 2, M: 4 };
  const feeds: Record<string, InstanceType<T>> = {};
  for (const io of inputs) {
    const dims = (io.shape ?? []).map((d) => (typeof d === 'number' ? d : sizes[d]));
    const n = dims.reduce((a, b) => a * b, 1);
    const w = weights.get(io.name);
    let t;
    if (io.dtype === 'int64') {
      const v = io.name === 'step' ? 0n : io.name === 'batch_indices' ? 3n : 1n;
      t = new T('int64', w ? BigInt64Array.from(w.data as BigInt64Array) : new BigInt64Array(n).fill(v), dims);
    } else if (io.name.endsWith('.noise')) t = new T('float32', new Float32Array(n).fill(1), dims);
    else if (io.name === 'learning_rate') t = new T('float32', Float32Array.of(1e-3), dims);
    else t = new T('float32', w ? Float32Array.from(w.data as Float32Array) : Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5), dims);
    feeds[io.name] = t as InstanceType<T>;
  }
  return feeds;
}

const VARIANTS: [ModelName, Record<string, unknown>][] = [
  ...MODEL_NAMES.map((m) => [m, {}] as [ModelName, Record<string, unknown>]),
  ['basic-cnn', { batchNorm: true, dropout: 0.5, pooling: 'avg', kernel: 5 }],
  ['cifar10-cnn', { residual: true, batchNorm: true }],
];

for (const [model, options] of VARIANTS) {
  test(`${model} ${JSON.stringify(options)}: every artifact follows its manifest and runs in onnxruntime-node and onnxruntime-web (wasm)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-art-'));
    const { manifest } = await buildArtifacts({ model, options, outDir: dir });
    const m = manifest as unknown as Manifest;
    const ck = await loadCheckpoint(join(dir, 'checkpoint.safetensors'));
    assert.deepEqual([...ck.weights.keys()], m.parameters.map((p) => p.name));
    const weights = new Map<string, { data: ArrayLike<number | bigint> }>([...ck.weights, ...ck.optimizerState]);
    for (const file of GRAPH_FILES) {
      const bytes = readFileSync(join(dir, file));
      const contract = m.graphs[file];
      const s = await ort.InferenceSession.create(bytes);
      assert.deepEqual(s.inputNames, contract.inputs.map((i) => i.name), `${file} inputs`);
      assert.deepEqual(s.outputNames, contract.outputs.map((o) => o.name), `${file} outputs`);
      const out = await s.run(feedsFor(ort.Tensor, contract.inputs, weights));
      for (const o of contract.outputs) {
        assert.equal(out[o.name].type, o.dtype, `${file} ${o.name} dtype`);
        if (o.dtype === 'float32') assert.ok((out[o.name].data as Float32Array).every(Number.isFinite), `${file} ${o.name} finite`);
      }
      await s.release();
      // The web runtime: the graphs that a browser runs (eval) and trains with (train_step, train_loop).
      if (['eval.onnx', 'train_step.onnx', 'train_loop.onnx'].includes(file)) {
        const w = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
        const wout = await w.run(feedsFor(ortWeb.Tensor, contract.inputs, weights));
        const first = contract.outputs[0].name;
        const a = out[first].data as Float32Array;
        const b = wout[first].data as Float32Array;
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(Number(a[i]) - Number(b[i])) <= 1e-4 * (1 + Math.abs(Number(a[i]))), `${file} ${first}[${i}] node ${a[i]} vs web ${b[i]}`);
        await w.release();
      }
    }
  });
}

test('the same build gives byte-identical artifacts', async () => {
  const [a, b] = [mkdtempSync(join(tmpdir(), 'onnxtrain-a-')), mkdtempSync(join(tmpdir(), 'onnxtrain-b-'))];
  await buildArtifacts({ model: 'basic-cnn', options: { batchNorm: true, dropout: 0.2 }, outDir: a });
  await buildArtifacts({ model: 'basic-cnn', options: { batchNorm: true, dropout: 0.2 }, outDir: b });
  for (const f of [...GRAPH_FILES, 'checkpoint.safetensors', 'manifest.json']) {
    assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between builds`);
  }
});

test('build-graphs writes all six models through the CLI', async () => {
  const { spawnSync } = await import('node:child_process');
  const out = mkdtempSync(join(tmpdir(), 'onnxtrain-cli-'));
  const r = spawnSync(process.execPath, ['dist/src/cli/bin.js', 'build-graphs', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const model of MODEL_NAMES) {
    assert.match(r.stdout, new RegExp(`${model}: .*parameters`));
    for (const f of [...GRAPH_FILES, 'checkpoint.safetensors', 'manifest.json']) readFileSync(join(out, model, f));
  }
});
