import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeModel } from '../../src/onnx/model.js';
import { predict } from '../../src/predict/predict.js';
import { preprocess } from '../../src/predict/preprocess.js';
import { makeRunFixture, writeTestImage } from '../helpers/run_fixture.js';

const fixture = await makeRunFixture();
const colourRun = await makeRunFixture({ inputShape: [3, 32, 32], seed: 2 });
const temporary = [fixture.dir, colourRun.dir];
after(async () => {
  for (const dir of temporary) await rm(dir, { recursive: true, force: true });
});

/** float64 forward pass of the fixture MLP from the model's own initializers: relu(x W1^T + b1) W2^T + b2. */
async function referenceProbabilities(run: string, x: Float32Array): Promise<number[]> {
  const { graph } = decodeModel(await readFile(path.join(run, 'model.onnx')));
  const w = (name: string) => graph.initializers.get(name)!;
  const dense = (input: ArrayLike<number>, name: string, relu: boolean) => {
    const W = w(`${name}.weight`);
    const b = w(`${name}.bias`).data as Float32Array;
    const [rows, cols] = W.dims;
    return Array.from({ length: rows }, (_, r) => {
      let s = b[r];
      for (let c = 0; c < cols; c++) s += (W.data as Float32Array)[r * cols + c] * input[c];
      return relu ? Math.max(0, s) : s;
    });
  };
  const logits = dense(dense(x, 'fc1', true), 'fc2', false);
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

test('predict gives the softmax of the model for each image, in order, with the top classes', async () => {
  for (const run of [fixture, colourRun]) {
    const results = await predict({ run: run.dir, images: run.samples });
    assert.equal(results.length, run.samples.length);
    for (const [i, r] of results.entries()) {
      assert.equal(r.image, run.samples[i]);
      const x = (await preprocess(r.image, run.config)).data;
      const want = await referenceProbabilities(run.dir, x);
      assert.equal(r.probabilities.length, 10);
      r.probabilities.forEach((p, k) => assert.ok(Math.abs(p - want[k]) < 1e-5, `${r.image} class ${k}: ${p} vs ${want[k]}`));
      assert.equal(r.top.length, 3);
      const best = want.indexOf(Math.max(...want));
      assert.equal(r.top[0].index, best);
      assert.equal(r.top[0].label, run.config.classNames[best]);
      assert.ok(r.top[0].probability >= r.top[1].probability && r.top[1].probability >= r.top[2].probability);
    }
    // The fixture must be informative: samples should not all look alike to the model.
    assert.ok(Math.max(...results[0].probabilities) > 0.2);
  }
});

test('a batch gives the same numbers as one image at a time; top and invert are honoured', async () => {
  const together = await predict({ run: fixture.dir, images: fixture.samples, top: 5 });
  for (const [i, image] of fixture.samples.entries()) {
    const [alone] = await predict({ run: fixture.dir, images: [image], top: 5 });
    assert.equal(alone.top.length, 5);
    alone.probabilities.forEach((p, k) => assert.ok(Math.abs(p - together[i].probabilities[k]) < 1e-6));
  }
  const [inverted] = await predict({ run: fixture.dir, images: [fixture.samples[0]], invert: true });
  const x = (await preprocess(fixture.samples[0], { ...fixture.config, invert: true })).data;
  const want = await referenceProbabilities(fixture.dir, x);
  inverted.probabilities.forEach((p, k) => assert.ok(Math.abs(p - want[k]) < 1e-5));
});

test('a model.onnx path with config.json beside it works as the run', async () => {
  const [a] = await predict({ run: path.join(fixture.dir, 'model.onnx'), images: [fixture.samples[1]] });
  const [b] = await predict({ run: fixture.dir, images: [fixture.samples[1]] });
  assert.deepEqual(a.probabilities, b.probabilities);
});

test('bad runs and bad images fail with a message that names the problem', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-bad-'));
  temporary.push(tmp);
  await assert.rejects(predict({ run: path.join(tmp, 'missing'), images: fixture.samples }), /does not exist; give a training run folder/);
  await assert.rejects(predict({ run: tmp, images: fixture.samples }), /has no model\.onnx/);
  const noConfig = await makeRunFixture({ dir: path.join(tmp, 'nc'), samples: false });
  await rm(path.join(noConfig.dir, 'config.json'));
  await assert.rejects(predict({ run: noConfig.dir, images: fixture.samples }), /has no config\.json/);
  const badConfig = await makeRunFixture({ dir: path.join(tmp, 'bc'), samples: false });
  await writeFile(path.join(badConfig.dir, 'config.json'), JSON.stringify({ inputShape: [1, 28], classNames: ['a'], normalization: { mean: [0], std: [1] } }));
  await assert.rejects(predict({ run: badConfig.dir, images: fixture.samples }), /"inputShape" must be \[C, H, W\]/);
  const mismatch = await makeRunFixture({ dir: path.join(tmp, 'mm'), samples: false });
  await writeFile(path.join(mismatch.dir, 'config.json'), JSON.stringify({ ...mismatch.config, inputShape: [1, 32, 32] }));
  await assert.rejects(predict({ run: mismatch.dir, images: fixture.samples }), /rejected input \[N, 1,32,32\] from config\.json/);
  const text = path.join(tmp, 'readme.txt');
  await writeFile(text, 'hello');
  await assert.rejects(predict({ run: fixture.dir, images: [text] }), /readme\.txt.*is not an image/);
  await assert.rejects(predict({ run: fixture.dir, images: [] }), /no images given/);
  const grey = await writeTestImage(path.join(tmp, 'ok.png'), { width: 5, height: 5, channels: 1, seed: 1 });
  await assert.rejects(predict({ run: fixture.dir, images: [grey], top: 0 }), /top must be a positive integer/);
});
