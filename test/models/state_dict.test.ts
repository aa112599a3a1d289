/**
 * Our checkpoints are PyTorch state_dicts: initial weights saved by saveCheckpoint load into the torch
 * module with load_state_dict(strict=True) once the `optimizer.` keys are dropped, and the torch module in
 * eval mode gives our eval.onnx logits. Torch runs in one /usr/bin/python3 process
 * (scripts/make_fixtures.py eval, which has its own safetensors reader).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { saveCheckpoint } from '../../src/artifacts/checkpoint.js';
import { compileGraphSet } from '../../src/program/compile.js';
import { signature } from '../../src/program/signature.js';
import * as N from '../../src/graph/names.js';
import { buildModelDef, type ModelName, type ModelOptions } from '../../src/models/registry.js';
import { initialWeights } from '../../src/models/init.js';
import { encodeModel } from '../../src/onnx/model.js';
import { defaultOptimizerSettings, stateSlots } from '../../src/optim/index.js';
import { fixtureBatch, MAKE_FIXTURES } from '../helpers/fixture_values.js';
import { toOrt } from './fixture_session.js';

const PYTHON = '/usr/bin/python3';
const CASES: { model: ModelName; options: Partial<ModelOptions> }[] = [
  { model: 'simple-mlp', options: {} },
  { model: 'medium-mlp', options: { dropout: 0.25 } },
  { model: 'deep-mlp', options: { activation: 'tanh' } },
  { model: 'basic-cnn', options: { batchNorm: true, pooling: 'avg' } },
  { model: 'complex-cnn', options: { kernel: 5 } },
  { model: 'cifar10-cnn', options: { activation: 'leaky-relu' } },
  { model: 'cifar10-cnn', options: { residual: true, batchNorm: true } },
];
/** Eval logits: one forward in float32; the measured difference is below 2e-6 of the logits' scale. */
const TOL = 1e-5;

const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const noTorch = probe.status === 0 ? false : `${PYTHON} cannot import torch (${(probe.stderr || String(probe.error)).trim().split('\n').pop()})`;

describe('checkpoints load into torch.nn modules', { skip: noTorch }, () => {
  let dir: string;
  const ours: Float32Array[] = [];
  let torchLogits: number[][] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-state-dict-'));
    const jobs = [];
    for (const [i, { model, options }] of CASES.entries()) {
      const def = buildModelDef(model, options);
      const settings = { def, optimizer: defaultOptimizerSettings('adam') };
      const sig = signature(settings);
      const weights = initialWeights(sig.all, 1234 + i);
      // Optimizer state rides in the same file under `optimizer.`: the loader must drop it.
      const optimizerState = new Map(stateSlots(settings.optimizer).flatMap((slot) =>
        sig.trainable.map((p) => [N.state(p.name, slot), { ...weights.get(p.name)!, data: new Float32Array(weights.get(p.name)!.data.length) }] as const)));
      const checkpoint = path.join(dir, `${i}-${model}.safetensors`);
      await saveCheckpoint(checkpoint, { weights, optimizerState, meta: { case: i } });
      const session = await ort.InferenceSession.create(encodeModel(compileGraphSet(settings).evalWith(weights)));
      const out = await session.run({ [N.INPUT]: toOrt(fixtureBatch(def).images) });
      ours.push(out[N.LOGITS].data as Float32Array);
      await session.release();
      jobs.push({ model, options, checkpoint });
    }
    const jobsPath = path.join(dir, 'jobs.json');
    await writeFile(jobsPath, JSON.stringify(jobs));
    const run = spawnSync(PYTHON, [MAKE_FIXTURES, 'eval', jobsPath], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (run.status !== 0) throw new Error(`${MAKE_FIXTURES} eval failed (status ${run.status}):\n${run.stderr}`);
    torchLogits = (JSON.parse(run.stdout) as { results: { logits: number[] }[] }).results.map((r) => r.logits);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [i, { model, options }] of CASES.entries()) {
    it(`${model} ${JSON.stringify(options)}: load_state_dict(strict=True) and equal eval logits`, () => {
      const a = ours[i];
      const b = torchLogits[i];
      assert.equal(a.length, b.length, 'logits size');
      const scale = Math.max(...b.map(Math.abs));
      const diff = Math.max(...b.map((v, j) => Math.abs(a[j] - v)));
      assert.ok(scale > 0, 'torch logits are all zero');
      assert.ok(diff <= TOL * scale, `max |ours - torch| = ${diff.toExponential(2)}, ${(diff / scale).toExponential(2)} of the logits' scale`);
    });
  }
});
