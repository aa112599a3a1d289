/**
 * The placement report on webgpu (SwiftShader): train_device keeps a step on the device. basic-cnn with
 * BatchNorm exercises every rewrite (cross-entropy, one-hot labels, the MaxPool gradient's ArgMax, Size of
 * static shapes, Sum, the hoisted Adam scalars); the Loop as the CPU runs it copies every step.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildModelDef } from '../../src/models/registry.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { compileGraphSet } from '../../src/program/compile.js';
import { copiesPerStep, placementReport } from '../../src/train/device/placement.js';
import { webgpuSkipReason } from './swiftshader.js';

const skip = await webgpuSkipReason();

describe('placement on webgpu (SwiftShader)', { skip }, () => {
  it('basic-cnn + BatchNorm: train_device copies nothing per step; train_loop copies state every step', async () => {
    const set = compileGraphSet({ def: buildModelDef('basic-cnn', { batchNorm: true }), optimizer: defaultOptimizerSettings('adam') });
    const report = await placementReport(set, 'webgpu', mkdtempSync(join(tmpdir(), 'onnxtrain-placement-')), 8);
    const step = report.find((r) => r.graph === 'train_device')!;
    assert.deepEqual(copiesPerStep(step), { toHost: 0, fromHost: 0 });
    assert.deepEqual(step.boundary, { in: [], out: [] });
    // Only num_batches_tracked + 1 (int64, fed from and returned to the host) stays on the CPU.
    assert.deepEqual(step.cpuNodes.map((n) => n.split(' ')[0]), ['Add', 'Add']);
    assert.ok(step.cpuNodes.every((n) => n.includes('Add_4')), step.cpuNodes.join(', '));
    const loop = copiesPerStep(report.find((r) => r.graph === 'train_loop')!);
    assert.ok(loop.toHost + loop.fromHost > 10, `train_loop: ${JSON.stringify(loop)}`);
  });
});
