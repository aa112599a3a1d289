/**
 * The formula inputs of the PyTorch fixtures (scripts/make_fixtures.py states the formulas and the file
 * format): parameters, batch and dropout masks, bit-for-bit the values the script feeds torch; the
 * fixture reader; and comparisons of our float32 outputs with the fixture's records.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Dim } from '../../src/graph/ir.js';
import { numel, type Tensor } from '../../src/graph/tensor.js';
import type { ModelDef, ModelName, ModelOptions } from '../../src/models/registry.js';
import type { ParamSpec } from '../../src/nn/context.js';

export const FIXTURE_BATCH = 8;
const GOLDEN = 0.6180339887498949;

/** test/fixtures/pytorch, from dist/test/helpers/ or test/helpers/. */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../test/fixtures/pytorch/', import.meta.url));
export const MAKE_FIXTURES = fileURLToPath(new URL('../../../scripts/make_fixtures.py', import.meta.url));

/** Element i of state_dict entry k: offset + scale * sin(1.7 i + 0.31 k + 0.5), rounded to float32. */
function formula(n: number, k: number, offset: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = offset + scale * Math.sin(1.7 * i + 0.31 * k + 0.5);
  return out;
}

/**
 * Fixture parameters for `specs` (the state_dict, in order): uniform-initialised parameters (Linear,
 * Conv2d) get bound * sin(...), constant-initialised ones (BatchNorm2d weight 1, bias 0) value + 0.25 sin(...),
 * buffers keep their constant.
 */
export function fixtureWeights(specs: ParamSpec[]): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  specs.forEach((p, k) => {
    const n = numel(p.shape);
    let t: Tensor;
    if (p.buffer) {
      if (p.init.kind !== 'constant') throw new Error(`buffer '${p.name}' has no constant init`);
      const v = p.init.value;
      t = p.dtype === 'int64'
        ? { dtype: 'int64', dims: [...p.shape], data: new BigInt64Array(n).fill(BigInt(v)) }
        : { dtype: 'float32', dims: [...p.shape], data: new Float32Array(n).fill(v) };
    } else {
      if (p.init.kind === 'tensor') throw new Error(`'${p.name}' has given values, no fixture formula`);
      const data = p.init.kind === 'uniform' ? formula(n, k, 0, p.init.bound) : formula(n, k, p.init.value, 0.25);
      t = { dtype: 'float32', dims: [...p.shape], data };
    }
    out.set(p.name, t);
  });
  return out;
}

/** The fixture batch: x[b, j] = sin(0.37 j + 1.3 b) over the flat C*H*W index j; labels[b] = 3b mod 10. */
export function fixtureBatch(def: ModelDef, batch = FIXTURE_BATCH): { images: Tensor; labels: Tensor } {
  const [C, H, W] = def.dataset.inputShape;
  const f = C * H * W;
  const x = new Float32Array(batch * f);
  for (let b = 0; b < batch; b++) for (let j = 0; j < f; j++) x[b * f + j] = Math.sin(0.37 * j + 1.3 * b);
  const labels = BigInt64Array.from({ length: batch }, (_, b) => BigInt((3 * b) % 10));
  return { images: { dtype: 'float32', dims: [batch, C, H, W], data: x }, labels: { dtype: 'int64', dims: [batch], data: labels } };
}

/**
 * Dropout masks of the l-th noise input: 1/(1-p) where frac(golden * (j + 97 b + 31 l + 1)) >= p, else 0,
 * j the flat index within a sample.
 */
export function fixtureMasks(noise: { name: string; shape: Dim[]; p: number }[], batch = FIXTURE_BATCH): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  noise.forEach((nz, l) => {
    const dims = nz.shape.map((d) => (d === 'N' ? batch : d));
    if (dims.some((d) => typeof d !== 'number')) throw new Error(`noise '${nz.name}' has a symbolic shape [${nz.shape}]`);
    const f = numel(dims.slice(1) as number[]);
    const scale = Math.fround(1 / (1 - nz.p));
    const data = new Float32Array(batch * f);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < f; j++) data[b * f + j] = (GOLDEN * (j + 97 * b + 31 * l + 1)) % 1 >= nz.p ? scale : 0;
    }
    out.set(nz.name, { dtype: 'float32', dims: dims as number[], data });
  });
  return out;
}

// ------------------------------------------------------------------------------------------- fixture file

/** A tensor record: all values, or for a large tensor float64 sums and values at sampled flat indices. */
export interface TensorRecord {
  shape: number[];
  values: number[];
  index?: number[];
  sum?: number;
  sum_sq?: number;
  sum_abs?: number;
  /** max |torch float32 - torch float64| over the whole tensor: torch's own rounding error. */
  err32?: number;
  /** |sum(torch float32) - sum(torch float64)| (summaries). */
  sum_err32?: number;
}

export interface OptimizerRecord {
  lr: number;
  momentum: number;
  losses: number[];
  /** The same losses from torch in float64. */
  losses64: number[];
  params: Record<string, TensorRecord>;
  buffers: Record<string, TensorRecord>;
}

export interface Fixture {
  format: 1;
  case: string;
  model: ModelName;
  options: Partial<ModelOptions>;
  torch: string;
  batch: { size: number };
  noise: Record<string, { shape: number[]; p: number; kept: number }>;
  initial: Record<string, TensorRecord>;
  forward: { loss: number; loss64: number; logits: TensorRecord; buffers: Record<string, TensorRecord> };
  gradients: Record<string, TensorRecord>;
  steps: number;
  optimizers: Record<'adam' | 'sgd' | 'rmsprop', OptimizerRecord>;
}

export function readFixture(name: string): Fixture {
  const path = `${FIXTURE_DIR}${name}.json`;
  let f: Fixture;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
  } catch (e) {
    throw new Error(`cannot read fixture ${path} (${(e as Error).message}): run \`npm run fixtures\``);
  }
  if (f.format !== 1) throw new Error(`${path}: fixture format ${f.format}, this test reads format 1: run \`npm run fixtures\``);
  return f;
}

// ------------------------------------------------------------------------------------------- comparison

export interface Tolerance {
  /**
   * Allowed |ours - torch| as a fraction of the record's scale (max |torch|, or with a base max |torch - base|),
   * on top of FLOAT32_NOISE times torch's own float32 error on that tensor (the record's `err32`).
   */
  rel: number;
}

/** How many times torch's own float32 error (max |torch float32 - torch float64|) our error may add. */
export const FLOAT32_NOISE = 3;

export interface Comparison {
  /** max |ours - torch| over the recorded values divided by the record's scale. */
  rel: number;
  /** max |ours - torch| divided by torch's float32 error on the tensor (Infinity when that is 0). */
  vsTorch32: number;
  /**
   * Whole-tensor sums (summaries only): |sum(ours) - sum(torch)| / sum |torch| and the relative error of the
   * sum of squares; with a base |sum(ours) - sum(torch)| / sum |ours - base|.
   */
  sumRel: number;
  /** Whether every recorded value is within the tolerance. */
  ok: boolean;
}

/** The spacing of float32 values at |v|. */
function ulp32(v: number): number {
  const m = Math.abs(v);
  return m < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(m)) - 23);
}

const asNumbers = (t: Tensor): ArrayLike<number> =>
  t.dtype === 'int64' ? Array.from(t.data as BigInt64Array, Number) : (t.data as Float32Array);

export interface CompareOptions {
  /** The tensor before the optimizer steps: the scale becomes the size of the change. */
  base?: Tensor;
  /**
   * Torch's float32 error relative to scale across the whole model (see modelNoise), used where it is
   * larger than this tensor's own: after optimizer steps an error in one tensor moves every other.
   */
  modelNoise?: ModelNoise;
}

/** Torch's own float32 error after the steps, as a fraction of each tensor's change, worst over the model. */
export interface ModelNoise {
  /** max over tensors of err32 / max |torch - base|. */
  rel: number;
  /** max over summarised tensors of sum_err32 / sum |torch - base| (estimated from the samples). */
  sumRel: number;
}

export function modelNoise(records: Record<string, TensorRecord>, bases: Map<string, Tensor>): ModelNoise {
  let rel = 0;
  let sumRel = 0;
  for (const [name, r] of Object.entries(records)) {
    const b0 = asNumbers(bases.get(name)!);
    const index = r.index ?? r.values.map((_, i) => i);
    const changes = index.map((i, j) => Math.abs(r.values[j] - b0[i]));
    const scale = Math.max(...changes);
    if (scale > 0) rel = Math.max(rel, (r.err32 ?? 0) / scale);
    const l1 = (changes.reduce((x, y) => x + y, 0) / changes.length) * numel(r.shape);
    if (r.sum_err32 !== undefined && l1 > 0) sumRel = Math.max(sumRel, r.sum_err32 / l1);
  }
  return { rel, sumRel };
}

/**
 * Compares our tensor with a record. With a base (the tensor before the optimizer steps) the scale is the
 * size of the change, so a wrong update cannot hide behind the size of the parameter.
 */
export function compareRecord(ours: Tensor, ref: TensorRecord, tol: Tolerance, opts: CompareOptions = {}): Comparison {
  assert.deepEqual(ours.dims, ref.shape, 'shape');
  const a = asNumbers(ours);
  const b0 = opts.base ? asNumbers(opts.base) : undefined;
  const index = ref.index ?? ref.values.map((_, i) => i);
  let maxDiff = 0;
  let scale = 0;
  index.forEach((i, j) => {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref.values[j]));
    scale = Math.max(scale, Math.abs(ref.values[j] - (b0 ? b0[i] : 0)));
  });
  const torchErr = Math.max(ref.err32 ?? 0, (opts.modelNoise?.rel ?? 0) * scale);
  const noise = FLOAT32_NOISE * torchErr;
  // Two float32 ulps of each value on top: a parameter whose change is below its resolution (the exact
  // gradient is 0, as for a convolution bias before BatchNorm) may round either way.
  const within = index.every((i, j) => Math.abs(a[i] - ref.values[j]) <= tol.rel * scale + noise + 2 * ulp32(ref.values[j]));
  let sumRel = 0;
  let sumOk = true;
  if (ref.sum !== undefined && ref.sum_abs !== undefined) {
    let s = 0;
    let q = 0;
    let moved = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i];
      q += a[i] * a[i];
      if (b0) moved += Math.abs(a[i] - b0[i]);
    }
    // Elementwise float32 noise (Adam's sign flips where |g| ~ eps) mostly averages out in the sum; a
    // systematic error does not.
    const l1 = Math.max(b0 ? moved : ref.sum_abs, 1e-30);
    sumRel = Math.abs(s - ref.sum) / l1;
    const sumNoise = FLOAT32_NOISE * Math.max(ref.sum_err32 ?? 0, (opts.modelNoise?.sumRel ?? 0) * l1, ref.err32 ?? 0);
    sumOk = Math.abs(s - ref.sum) <= tol.rel * l1 + sumNoise;
    if (!b0 && ref.sum_sq) {
      sumRel = Math.max(sumRel, Math.abs(q - ref.sum_sq) / ref.sum_sq);
      sumOk &&= Math.abs(q - ref.sum_sq) <= 2 * tol.rel * ref.sum_sq + FLOAT32_NOISE * 2 * (ref.err32 ?? 0) * Math.sqrt(ref.sum_sq * a.length);
    }
  }
  return {
    rel: scale > 0 ? maxDiff / scale : maxDiff,
    vsTorch32: torchErr > 0 ? maxDiff / torchErr : maxDiff > 0 ? Infinity : 0,
    sumRel,
    ok: within && sumOk,
  };
}

/** Asserts the comparison within `tol`, naming the tensor; returns the comparison for reporting. */
export function assertClose(what: string, ours: Tensor, ref: TensorRecord, tol: Tolerance, opts: CompareOptions = {}): Comparison {
  const c = compareRecord(ours, ref, tol, opts);
  assert.ok(c.ok, `${what}: relative error ${c.rel.toExponential(2)} (${c.vsTorch32.toFixed(1)}x torch's float32 error; ` +
    `whole-tensor sums ${c.sumRel.toExponential(2)}) exceeds ${tol.rel}`);
  return c;
}
