/**
 * scripts/gpu_check.ts, the device check: its bad arguments, and a small run through SwiftShader on data
 * packed as scripts/gpu-check.sh packs it (the first images of Fashion-MNIST, with their own digests).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parseGpuCheckArgs } from '../../scripts/gpu_check.js';
import { FASHION_MNIST_SYSTEM_DIR } from '../../src/data/fashion_mnist.js';
import { webgpuSkipReason } from './swiftshader.js';

const skip = await webgpuSkipReason();

describe('gpu_check', () => {
  it('bad arguments: one line naming the problem', () => {
    assert.throws(() => parseGpuCheckArgs(['--models', 'resnet']), /^Error: --models: unknown model 'resnet': use simple-mlp, /);
    assert.throws(() => parseGpuCheckArgs(['--devices', 'cpu,metal']), /^Error: --devices: unknown provider 'metal': use cpu, webgpu, cuda$/);
    assert.throws(() => parseGpuCheckArgs(['--limit', '100']), /^Error: --limit must be an integer >= 128, got '100'$/);
    assert.deepEqual(parseGpuCheckArgs([]).models, ['simple-mlp', 'basic-cnn', 'complex-cnn']);
  });

  it('simple-mlp on packed data: cpu and webgpu rows, the placement line and parity (SwiftShader)', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-gpu-check-'));
    // The first 300 training and 50 test images, as `gpu-check.sh pack` writes them (raw IDX, count patched).
    const digests: Record<string, string> = {};
    for (const [name, n, per] of [['train-images-idx3-ubyte', 300, 784], ['train-labels-idx1-ubyte', 300, 1], ['t10k-images-idx3-ubyte', 50, 784], ['t10k-labels-idx1-ubyte', 50, 1]] as const) {
      const raw = gunzipSync(readFileSync(join(FASHION_MNIST_SYSTEM_DIR, `${name}.gz`)));
      const head = 4 + 4 * raw[3];
      const out = Buffer.concat([raw.subarray(0, head), raw.subarray(head, head + n * per)]);
      out.writeUInt32BE(n, 4);
      writeFileSync(join(dir, name), out);
      digests[name] = createHash('sha256').update(out).digest('hex');
    }
    writeFileSync(join(dir, 'digests.json'), JSON.stringify(digests));
    const report = join(dir, 'report.md');
    const args = ['dist/scripts/gpu_check.js', '--models', 'simple-mlp', '--devices', 'webgpu', '--parity-steps', '2', '--data-dir', dir, '--content-digests', join(dir, 'digests.json'), '--out', report];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(report, 'utf8');
    assert.equal(text.trim(), r.stdout.trim());
    assert.match(text, /^- webgpu: starts/m);
    assert.match(text, /^\| simple-mlp \| cpu \| [\d.]+ \| [\d.]+ \| [\d.]+ \| - \|/m);
    const row = /^\| simple-mlp \| webgpu \| [\d.]+ \| [\d.]+ \| [\d.]+ \| ([\d.e+-]+) \|/m.exec(text);
    assert.ok(row && Number(row[1]) < 1e-5, `webgpu epoch-1 loss against the cpu's: ${row?.[1]}`);
    assert.match(text, /^- simple-mlp on webgpu: train_device (\d+)\/\1 nodes on webgpu, 0 copies\/step; validation /m);
    const parity = /^\| simple-mlp \(Adam, eps 1e-4\) \| webgpu \| ([\d.e+-]+) \| ([\d.e+-]+) \(/m.exec(text);
    assert.ok(parity && Number(parity[1]) < 1e-5 && Number(parity[2]) < 1e-4, `parity: ${parity?.[0]}`);
  });
});
