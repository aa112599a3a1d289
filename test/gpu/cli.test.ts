/**
 * `train --device webgpu|cuda|auto` as a user runs it: a tiny webgpu run ends as the cpu run does; a provider
 * that does not start gives one line naming it and how to get it, with none of the driver's messages.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { probeProvider } from '../../src/train/device/probe.js';
import { webgpuSkipReason } from './swiftshader.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-gpu-cli-'));
const skip = await webgpuSkipReason();

function train(device: string, out: string, env: NodeJS.ProcessEnv = process.env, extra: string[] = []) {
  const args = ['train', 'simple-mlp', '--epochs', '1', '--limit', '120', '--val-size', '24', '--batch-size', '32', '--device', device, '--out', out, ...extra];
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
}

const trainingLine = (stdout: string) => stdout.split('\n').find((l) => l.startsWith('Training '))!;

const epoch1 = (dir: string) => JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))[0] as { trainLoss: number; valLoss: number; trainAcc: number };

describe('train --device', () => {
  it('webgpu, either runner: a tiny run ends with the cpu run\'s losses, and its first line says where each graph runs (SwiftShader)', { skip }, () => {
    const cpuDir = join(tmp(), 'cpu');
    const cpu = train('cpu', cpuDir);
    assert.equal(cpu.status, 0, cpu.stderr);
    assert.match(trainingLine(cpu.stdout), /; cpu, \d+ threads/);
    for (const runner of ['loop', 'step']) {
      const gpuDir = join(tmp(), `webgpu-${runner}`);
      const gpu = train('webgpu', gpuDir, process.env, ['--runner', runner]);
      assert.equal(gpu.status, 0, gpu.stderr);
      // simple-mlp: every node of train_device on the provider, no copy per step; validation's int64 correct count on the CPU.
      assert.match(trainingLine(gpu.stdout), /; webgpu: train_device (\d+)\/\1 nodes on webgpu, 0 copies\/step; validation (\d+)\/\d+ nodes on webgpu \(CPU: [A-Za-z, ]+\); \d+ threads/, runner);
      assert.equal(gpu.stderr.trim(), '', 'nothing but the progress bar (off without a TTY) on stderr');
      const [c, g] = [epoch1(cpuDir), epoch1(gpuDir)];
      assert.ok(Math.abs(g.trainLoss - c.trainLoss) <= 1e-5 * c.trainLoss, `${runner}: train loss: webgpu ${g.trainLoss}, cpu ${c.trainLoss}`);
      assert.ok(Math.abs(g.valLoss - c.valLoss) <= 1e-5 * c.valLoss, `${runner}: validation loss: webgpu ${g.valLoss}, cpu ${c.valLoss}`);
      assert.equal(g.trainAcc, c.trainAcc);
      assert.ok(existsSync(join(gpuDir, 'model.onnx')));
    }
  });

  it('a provider that does not start: one line naming it and how to get it, exit 1, no run folder', async () => {
    const noVulkan = { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' };
    const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
      ['cuda', process.env, /^onnxtrain: the cuda execution provider could not start \(.+\): install the CUDA binaries of onnxruntime-node: .*ONNXRUNTIME_NODE_INSTALL=cuda12/],
      ['webgpu', noVulkan, /^onnxtrain: the webgpu execution provider could not start \(no Vulkan driver found\): .*VK_ICD_FILENAMES/],
    ];
    for (const [device, env, re] of cases) {
      if (device === 'cuda' && (await probeProvider('cuda')).ok) continue;
      const out = join(tmp(), 'never');
      const r = train(device, out, env);
      assert.equal(r.status, 1, `${device}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, re, device);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${device}:\n${r.stderr}`);
      assert.equal(existsSync(out), false);
    }
  });

  it('auto: says which provider it picked and why', () => {
    const out = join(tmp(), 'auto');
    const r = train('auto', out, { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--device auto: (cpu|cuda), since .+/);
    assert.match(r.stdout, /; (cpu, |cuda: )/);
  });
});
