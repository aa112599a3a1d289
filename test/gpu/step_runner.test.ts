/**
 * `--runner step` on webgpu: one optimizer step per call, with the training state left on the device
 * between calls. Counted as the runs that move the state (ResidentTraining.transfers): uploaded once,
 * read back only by syncHost(), never per step; and the steps give the CPU's losses, parameters, BatchNorm
 * statistics and optimizer state, to the tolerances of parity.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import type { Batch } from '../../src/data/batches.js';
import { Rng } from '../../src/data/rng.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { initialWeights } from '../../src/models/init.js';
import { buildModelDef } from '../../src/models/registry.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { compileGraphSet } from '../../src/program/compile.js';
import { zeroState } from '../../src/program/signature.js';
import { TrainSessions } from '../../src/train/sessions.js';
import { webgpuSkipReason } from './swiftshader.js';

const skip = await webgpuSkipReason();
const STEPS = 3;
const BATCH = 3;
/** As parity.test.ts: Adam's eps raised so that rounding noise in a zero gradient stays noise. */
const ADAM_EPS = 1e-4;
const TOL = 1e-4;

const largest = (t: Tensor) => (t.data as Float32Array).reduce((m: number, v) => Math.max(m, Math.abs(Number(v))), 0);
function maxDiff(a: Tensor, b: Tensor, scale: number): number {
  let worst = 0;
  for (let i = 0; i < b.data.length; i++) worst = Math.max(worst, Math.abs(Number(a.data[i]) - Number(b.data[i])) / (scale || 1));
  return worst;
}

describe('--runner step on webgpu (SwiftShader)', { skip }, () => {
  process.env.ONNXTRAIN_NCHWC = 'off';
  after(() => void delete process.env.ONNXTRAIN_NCHWC);
  const opened: TrainSessions[] = [];
  after(async () => {
    await Promise.all(opened.map((s) => s.release()));
  });

  it('the Loop runner: the data set stays up through the epoch\'s last partial batch, the state through every chunk', async () => {
    const def = buildModelDef('simple-mlp');
    const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam') });
    const [C, H, W] = def.dataset.inputShape;
    const M = 8;
    const rng = Rng.fromSeed(3, 'loop-runner');
    const images = new Float32Array(M * C * H * W).map(() => rng.nextFloat());
    const labels = BigInt64Array.from({ length: M }, (_, i) => BigInt(i % 10));
    const data = { images: new ort.Tensor('float32', images, [M, C, H, W]), labels: new ort.Tensor('int64', labels, [M]) };
    const s = await TrainSessions.create(set, { device: 'webgpu', graphKind: 'loop' });
    opened.push(s);
    s.load(initialWeights(set.signature.all, 1), zeroState(set.signature), 0);
    const noise = Rng.fromSeed(5, 'noise');
    const chunk = () => s.trainLoop({ data, indices: BigInt64Array.of(0n, 1n, 2n, 3n, 4n, 5n), rows: 2, batch: 3, lr: 1e-3, rng: noise });
    await chunk();
    await s.trainStep({ images: images.slice(0, 2 * C * H * W), labels: labels.slice(0, 2), n: 2 }, [C, H, W], 1e-3, noise);
    await chunk();
    assert.deepEqual(s.transfers, { stateUploads: 1, stateReadBacks: 0, dataUploads: 2, chunkUploads: 3, scalarReads: 3 });
    assert.equal(s.step, 5);
  });

  it('basic-cnn + BatchNorm: state uploaded once and read back only on demand; same results as cpu', async () => {
    const def = buildModelDef('basic-cnn', { batchNorm: true });
    const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam', { eps: ADAM_EPS }) });
    const sig = set.signature;
    const [C, H, W] = def.dataset.inputShape;
    const rng = Rng.fromSeed(11, 'step-runner');
    const batches: Batch[] = Array.from({ length: STEPS }, (_, k) => ({
      images: new Float32Array(BATCH * C * H * W).map(() => rng.nextFloat() * 2 - 1),
      labels: BigInt64Array.from({ length: BATCH }, (_, i) => BigInt((i * 7 + k) % 10)),
      n: BATCH,
    }));
    const weights = initialWeights(sig.all, 4);

    const results = [];
    for (const device of ['cpu', 'webgpu'] as const) {
      const s = await TrainSessions.create(set, { device, graphKind: 'step' });
      opened.push(s);
      s.load(weights, zeroState(sig), 0);
      const noise = Rng.fromSeed(5, 'noise');
      const losses: number[] = [];
      for (const b of batches) losses.push((await s.trainStep(b, [C, H, W], 1e-3, noise)).losses[0]);
      if (device === 'webgpu') {
        assert.deepEqual(s.transfers, { stateUploads: 1, stateReadBacks: 0, dataUploads: STEPS, chunkUploads: STEPS, scalarReads: STEPS },
          'per step: the batch and its indices go up and the loss and correct count come back; the state stays');
        assert.throws(() => s.weights(), /the training state is on the webgpu device .*await syncHost\(\) first/);
      }
      await s.syncHost();
      if (device === 'webgpu') assert.equal(s.transfers!.stateReadBacks, 1);
      results.push({ losses, weights: s.weights(), state: s.optimizerState(), step: s.step });
    }
    const [cpu, gpu] = results;
    assert.equal(gpu.step, STEPS);
    cpu.losses.forEach((l, i) => assert.ok(Math.abs(gpu.losses[i] - l) <= TOL * Math.abs(l) + 1e-5, `step ${i} loss: webgpu ${gpu.losses[i]}, cpu ${l}`));
    for (const [name, t] of cpu.weights) {
      if (t.dtype === 'int64') {
        assert.deepEqual(gpu.weights.get(name)!.data, t.data, name);
        continue;
      }
      const d = maxDiff(gpu.weights.get(name)!, t, largest(t));
      assert.ok(d <= TOL, `${name}: ${d.toExponential(2)} of its largest value`);
    }
    const slot = (n: string) => n.slice(n.lastIndexOf('.'));
    const scale = new Map<string, number>();
    for (const [n, t] of cpu.state) scale.set(slot(n), Math.max(scale.get(slot(n)) ?? 0, largest(t)));
    for (const [n, t] of cpu.state) {
      const d = maxDiff(gpu.state.get(n)!, t, scale.get(slot(n))!);
      assert.ok(d <= TOL, `${n}: ${d.toExponential(2)} of its slot's largest value`);
    }
  });
});
