/**
 * BatchNorm's running statistics on webgpu, through the CLI as a user trains: complex-cnn --batchnorm a
 * few steps on real Fashion-MNIST on cpu and on webgpu (SwiftShader), then the running mean and variance
 * in last.safetensors compared layer by layer. SGD, since Adam turns the rounding noise of the
 * convolution biases' zero gradients (a bias before BatchNorm) into steps of either sign (see
 * parity.test.ts); with SGD the two providers differ by float32 rounding alone.
 *
 * Tolerance: max |webgpu - cpu| <= 1e-4 max |cpu| over each statistic; and the statistics have moved
 * from their initial 0 / 1 by far more than that, so the comparison means something.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { webgpuSkipReason } from './swiftshader.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const skip = await webgpuSkipReason();
const TOL = 1e-4;
const LIMIT = 40;
const VAL = 8;
const BATCH = 8;
const STEPS = (LIMIT - VAL) / BATCH;

const values = (t: Tensor) => Array.from(t.data as Float32Array, Number);

describe('BatchNorm running statistics on webgpu (SwiftShader)', { skip }, () => {
  it(`complex-cnn --batchnorm, ${STEPS} SGD steps of ${BATCH}: running mean and variance as on the cpu`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-gpu-bn-'));
    const stats = [];
    for (const device of ['cpu', 'webgpu']) {
      const out = join(dir, device);
      const args = ['train', 'complex-cnn', '--batchnorm', '--optimizer', 'sgd', '--lr', '0.05', '--epochs', '1', '--limit', String(LIMIT), '--val-size', String(VAL),
        '--batch-size', String(BATCH), '--device', device, '--out', out];
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${device}: ${r.stderr}`);
      stats.push((await loadCheckpoint(join(out, 'last.safetensors'))).weights);
    }
    const [cpu, gpu] = stats;
    const running = [...cpu.keys()].filter((n) => /running_(mean|var)$/.test(n));
    assert.equal(running.length, 8, `4 BatchNorm layers: ${running.join(', ')}`);
    for (const n of running) {
      const [c, g] = [values(cpu.get(n)!), values(gpu.get(n)!)];
      const scale = Math.max(...c.map(Math.abs));
      const moved = Math.max(...c.map((v) => Math.abs(v - (n.endsWith('mean') ? 0 : 1))));
      assert.ok(moved > 100 * TOL * scale, `${n} has barely moved from its initial value (${moved})`);
      const diff = Math.max(...c.map((v, i) => Math.abs(g[i] - v)));
      assert.ok(diff <= TOL * scale, `${n}: webgpu differs from cpu by ${diff.toExponential(2)} (largest value ${scale.toExponential(2)})`);
    }
    for (const n of [...cpu.keys()].filter((k) => k.endsWith('num_batches_tracked'))) {
      assert.deepEqual(Array.from(gpu.get(n)!.data as BigInt64Array, Number), [STEPS], n);
      assert.deepEqual(Array.from(cpu.get(n)!.data as BigInt64Array, Number), [STEPS], n);
    }
  });
});
