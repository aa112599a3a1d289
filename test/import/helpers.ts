/** Imported models against PyTorch's reference values (scripts/import_models.py states the file format). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { decodeSafetensors } from '../../src/artifacts/safetensors.js';
import * as N from '../../src/graph/names.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { importOnnx, type ImportedModel } from '../../src/import/index.js';
import { initialWeights } from '../../src/models/init.js';
import { encodeModel } from '../../src/onnx/model.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { compileGraphSet } from '../../src/program/compile.js';
import { compile } from '../../src/train/program.js';
import { Rng } from '../../src/data/rng.js';

export const IMPORT_FIXTURES = fileURLToPath(new URL('../../../test/fixtures/import/', import.meta.url));
export const EXPORT_SCRIPT = fileURLToPath(new URL('../../../scripts/import_models.py', import.meta.url));
export const PYTHON = '/usr/bin/python3';

/** Whether python3 with torch (and torchvision, when asked) can export models here. */
export function torchAvailable(torchvision = false): boolean {
  if (!existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ['-c', `import torch${torchvision ? ', torchvision' : ''}`], { encoding: 'utf8' });
  return r.status === 0;
}

export interface Reference {
  model: ImportedModel;
  ref: Map<string, Tensor>;
}

export function loadReference(dir: string, name: string): Reference {
  const model = importOnnx(new Uint8Array(readFileSync(`${dir}/${name}.onnx`)));
  return { model, ref: decodeSafetensors(new Uint8Array(readFileSync(`${dir}/${name}.ref.safetensors`))).tensors };
}

const toOrt = (t: Tensor) => new ort.Tensor(t.dtype === 'int64' ? 'int64' : 'float32', t.data as Float32Array | BigInt64Array, t.dims);
const labelsOf = (ref: Map<string, Tensor>): Tensor => {
  const l = ref.get('labels')!;
  return { dtype: 'int64', dims: [...l.dims], data: BigInt64Array.from(l.data as Float32Array, (v) => BigInt(v)) };
};

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

/** max |a - b| / max |b|: float32 noise is ~1e-6 for these sizes. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let err = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

/** training.onnx on the reference batch with the model's own weights: loss, logits and gradients. */
export async function runImportedTraining({ model, ref }: Reference) {
  const set = compileGraphSet({ def: model.def, optimizer: defaultOptimizerSettings('adam') });
  const sig = set.signature;
  const weights = initialWeights(sig.all, 0);
  const s = await ort.InferenceSession.create(encodeModel(set.graph('training')), { intraOpNumThreads: 2 });
  const feeds: Record<string, ort.Tensor> = { [N.INPUT]: toOrt(ref.get('input')!), [N.LABELS]: toOrt(labelsOf(ref)) };
  for (const p of [...sig.trainable, ...sig.frozen, ...sig.buffers]) feeds[p.name] = toOrt(weights.get(p.name)!);
  const out = await s.run(feeds);
  await s.release();
  return {
    loss: (out[N.LOSS].data as Float32Array)[0],
    logits: out[N.LOGITS].data as Float32Array,
    grads: new Map(sig.trainable.map((p) => [p.name, out[N.grad(p.name)].data as Float32Array])),
    nodes: set.graph('training').nodes.length,
  };
}

/** The loss before each of `steps` Adam steps (lr 1e-3) through the trainer's train_step sessions. */
export async function adamLosses({ model, ref }: Reference, steps: number): Promise<number[]> {
  const program = await compile(model.def, { graphKind: 'step', threads: 2 });
  const images = ref.get('input')!;
  const batch = { images: images.data as Float32Array, labels: labelsOf(ref).data as BigInt64Array, n: images.dims[0] };
  const losses: number[] = [];
  try {
    for (let i = 0; i < steps; i++) {
      const r = await program.sessions.trainStep(batch, images.dims.slice(1), 1e-3, Rng.fromSeed(0, 'noise'));
      losses.push(r.losses[0]);
    }
  } finally {
    await program.release();
  }
  return losses;
}
