/**
 * webgpu against cpu, through the trainer's own TrainSessions: every seed model and the BatchNorm, Dropout
 * and residual variants take the same optimizer steps from the same weights, batches and dropout masks on
 * both providers. The WebGPU provider runs on SwiftShader here (a software GPU: small batches, few steps).
 *
 * Tolerances (float32; the providers sum in different orders):
 *   loss per step: |a - b| <= 1e-4 |b| + 1e-5
 *   parameters and buffers after the steps: max |a - b| <= 1e-4 max |b| over each tensor
 *   optimizer state: max |a - b| <= 1e-4 max |b| over all the state of that slot (exp_avg, exp_avg_sq)
 *   validation loss on the trained weights: as the step losses.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { Rng } from '../../src/data/rng.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { initialWeights } from '../../src/models/init.js';
import { buildModelDef, type ModelName, type ModelOptions } from '../../src/models/registry.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { compileGraphSet } from '../../src/program/compile.js';
import { zeroState } from '../../src/program/signature.js';
import { TrainSessions } from '../../src/train/sessions.js';
import { webgpuSkipReason } from './swiftshader.js';

const skip = await webgpuSkipReason();

const CASES: { model: ModelName; options?: Partial<ModelOptions>; label: string }[] = [
  { model: 'simple-mlp', label: 'simple-mlp' },
  { model: 'medium-mlp', label: 'medium-mlp' },
  { model: 'deep-mlp', label: 'deep-mlp' },
  { model: 'basic-cnn', label: 'basic-cnn' },
  { model: 'complex-cnn', label: 'complex-cnn' },
  { model: 'cifar10-cnn', label: 'cifar10-cnn' },
  { model: 'basic-cnn', options: { batchNorm: true }, label: 'basic-cnn + BatchNorm' },
  { model: 'medium-mlp', options: { dropout: 0.3 }, label: 'medium-mlp + Dropout' },
  { model: 'complex-cnn', options: { residual: true }, label: 'complex-cnn + residual' },
];

/**
 * Adam's eps, raised from 1e-8: a gradient that is zero in exact arithmetic (a convolution's bias before
 * BatchNorm) is rounding noise of ~1e-9 on each provider, and with eps 1e-8 Adam turns either noise into
 * an arbitrary step of up to lr. With 1e-4 such noise moves a parameter by ~1e-5 lr; real gradients
 * (1e-4 and up) still take Adam's normalised steps.
 */
const ADAM_EPS = 1e-4;
const PARAM_TOL = 1e-4;
const STATE_TOL = 1e-4;
const STEPS = 2;
const BATCH = 2;
const M = 6;

const close = (a: number, b: number, rel: number, abs: number) => Math.abs(a - b) <= rel * Math.abs(b) + abs;

const largest = (t: Tensor) => (t.data as Float32Array).reduce((m: number, v) => Math.max(m, Math.abs(Number(v))), 0);

/** max |a - b| / scale over a tensor (scale: max |b| unless given), and where it is largest. */
function difference(a: Tensor, b: Tensor, scale = largest(b)): { err: number; i: number; a: number; b: number } {
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  let worst = { err: 0, i: -1, a: 0, b: 0 };
  for (let i = 0; i < y.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    const err = d === 0 ? 0 : d / (scale || 1);
    if (err > worst.err) worst = { err, i, a: Number(x[i]), b: Number(y[i]) };
  }
  return worst;
}

describe('webgpu trains as cpu does (SwiftShader)', { skip }, () => {
  // The reference is the portable graph on the CPU, the one the webgpu device graph is derived from: the
  // CPU's NCHWc lowering (compared with the portable graphs in test/program/nchwc.test.ts) sums in another
  // order, and Adam on near-zero gradients turns that rounding into steps of either sign.
  process.env.ONNXTRAIN_NCHWC = 'off';
  after(() => void delete process.env.ONNXTRAIN_NCHWC);
  const opened: TrainSessions[] = [];
  after(async () => {
    await Promise.all(opened.map((s) => s.release()));
  });

  for (const c of CASES) {
    it(`${c.label}: ${STEPS} steps of ${BATCH}: same losses, parameters and validation loss`, async () => {
      const def = buildModelDef(c.model, c.options ?? {});
      const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam', { eps: ADAM_EPS }) });
      const sig = set.signature;
      const [C, H, W] = def.dataset.inputShape;
      const rng = Rng.fromSeed(7, 'gpu-parity');
      const images = new Float32Array(M * C * H * W).map(() => rng.nextFloat() * 2 - 1);
      const labels = BigInt64Array.from({ length: M }, (_, i) => BigInt((i * 3) % 10));
      const data = { images: new ort.Tensor('float32', images, [M, C, H, W]), labels: new ort.Tensor('int64', labels, [M]) };
      const indices = BigInt64Array.from({ length: STEPS * BATCH }, (_, i) => BigInt((i * 5 + 1) % M));
      const weights = initialWeights(sig.all, 3);

      const results = [];
      for (const device of ['cpu', 'webgpu'] as const) {
        const s = await TrainSessions.create(set, { device, graphKind: 'loop' });
        opened.push(s);
        s.load(weights, zeroState(sig), 0);
        const r = await s.trainLoop({ data, indices, rows: STEPS, batch: BATCH, lr: 1e-3, rng: Rng.fromSeed(5, 'noise') });
        const split = { images, labels: Uint8Array.from(labels, Number), n: M, channels: C, height: H, width: W };
        const val = await s.evaluate(split, [0, 1, 2, 3], 4);
        await s.syncHost();
        results.push({ losses: Array.from(r.losses), corrects: r.corrects, weights: s.weights(), state: s.optimizerState(), step: s.step, val });
      }
      const [cpu, gpu] = results;
      assert.equal(gpu.step, STEPS);
      cpu.losses.forEach((l, i) => assert.ok(close(gpu.losses[i], l, 1e-4, 1e-5), `step ${i} loss: webgpu ${gpu.losses[i]}, cpu ${l}`));
      assert.deepEqual(gpu.corrects, cpu.corrects);
      // Optimizer state is compared at the scale of its slot across the model: the state of a gradient that
      // is zero in exact arithmetic (see ADAM_EPS) is rounding noise, different on each provider.
      const slotScale = new Map<string, number>();
      for (const [name, t] of cpu.state) {
        const slot = name.slice(name.lastIndexOf('.'));
        slotScale.set(slot, Math.max(slotScale.get(slot) ?? 0, largest(t)));
      }
      for (const [name, t] of [...cpu.weights, ...cpu.state]) {
        const scale = cpu.state.has(name) ? slotScale.get(name.slice(name.lastIndexOf('.')))! : largest(t);
        const d = difference((gpu.weights.get(name) ?? gpu.state.get(name))!, t, scale);
        if (process.env.GPU_PARITY_VERBOSE) console.log(c.label, name, d.err.toExponential(2));
        assert.ok(d.err <= (cpu.state.has(name) ? STATE_TOL : PARAM_TOL), `${name}[${d.i}]: webgpu ${d.a}, cpu ${d.b} (${d.err.toExponential(2)} of the tensor's largest value)`);
      }
      assert.ok(close(gpu.val.loss, cpu.val.loss, 1e-4, 1e-5), `validation loss: webgpu ${gpu.val.loss}, cpu ${cpu.val.loss}`);
    });
  }
});
