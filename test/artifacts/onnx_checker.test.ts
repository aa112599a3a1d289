import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildArtifacts } from '../../src/artifacts/build.js';
import { MODEL_NAMES } from '../../src/models/registry.js';

const PY = '/usr/bin/python3';
const hasOnnx = spawnSync(PY, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

test('every artifact passes the ONNX checker (full_check)', { skip: hasOnnx ? false : 'python3-onnx missing: apt-get install python3-onnx' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'onnxtrain-check-'));
  for (const model of MODEL_NAMES) await buildArtifacts({ model, outDir: join(root, model) });
  await buildArtifacts({ model: 'cifar10-cnn', options: { batchNorm: true, dropout: 0.3, residual: true, activation: 'leaky-relu' }, outDir: join(root, 'variant') });
  const r = spawnSync(PY, ['scripts/check_onnx.py', root], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/^ok /gm) ?? []).length, 7 * 6);
});
