import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { DType } from '../../src/graph/tensor.js';
import { buildGradients } from '../../src/autodiff/gradients.js';
import { encodeModel } from '../../src/onnx/model.js';
import type { GradTarget } from '../../src/ops/types.js';
import { seeded } from './seeded.js';

/** One graph input of the op under test. */
export interface CheckInput {
  dims: number[];
  /** Default: seeded uniform values in [-1, 1) spaced so that no two are within 1e-3 of each other. */
  values?: number[];
  /** Default the check's dtype; 'int64' inputs (labels, indices) never get gradients. */
  dtype?: DType;
  /** Differentiate with respect to this input. Default true for float inputs. */
  wrt?: boolean;
  /** Pass as an initializer (a constant the rules can read) rather than a graph input. Default false. */
  constant?: boolean;
}

export interface GradcheckSettings {
  /** float64 where onnxruntime's CPU provider has the op's double kernel, else float32. Default float64. */
  dtype?: 'float64' | 'float32';
  inputs: Record<string, CheckInput>;
  /** Emits the op(s) under test from the input names; returns the output fed to the loss. */
  build: (b: GraphBuilder, x: Record<string, string>) => string;
  /** Central-difference step. Default 1e-6 (float64), 1e-2 (float32). */
  eps?: number;
  /** Pass when |analytic - numeric| <= atol + rtol |numeric|. Defaults 1e-6/1e-5 (float64), 1e-2/1e-2 (float32). */
  atol?: number;
  rtol?: number;
  /** Seed of the loss weights R. Default 1. */
  seed?: number;
  /** The gradients' target (ops/types.ts). Default 'portable'. */
  target?: GradTarget;
}

export interface GradcheckRun {
  /** Forward output of the op, flattened. */
  output: number[];
  /** R, the fixed loss weights: loss = sum(output * R), so d loss / d output = R. */
  weights: number[];
  /** Analytic gradient per wrt input, flattened. */
  grads: Record<string, number[]>;
  /** Inputs as fed, flattened. */
  inputs: Record<string, number[]>;
  /** The training graph's bytes and its session (loss, output, then gradients). */
  bytes: Uint8Array;
  session: ort.InferenceSession;
  /** The op types in the gradient part of the graph. */
  gradOps: string[];
}

/** Seeded test values in [0, 1). */
export const rng = seeded;

/** n distinct values in (-1, 1), at least 1.5/n apart: a shuffled grid, so no near-ties at the FD step. */
export function spaced(n: number, seed: number): number[] {
  const r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => -1 + (2 * i + 0.5 + 0.5 * r()) / n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
}

const numel = (dims: number[]) => dims.reduce((p, q) => p * q, 1);

function feed(dtype: DType, dims: number[], values: number[]): ort.Tensor {
  if (dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
  if (dtype === 'int32') return new ort.Tensor('int32', Int32Array.from(values), dims);
  if (dtype === 'bool') return new ort.Tensor('bool', Uint8Array.from(values), dims);
  return new ort.Tensor(dtype, dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), dims);
}

const LOSS = 'loss';
const OUT = 'out';

/** Builds loss = ReduceSum(op(...) * R) and its gradients, loads it in onnxruntime-node, runs it once. */
export async function runGradients(s: GradcheckSettings): Promise<GradcheckRun> {
  const dtype = s.dtype ?? 'float64';
  const b = new GraphBuilder('gradcheck');
  const names: Record<string, string> = {};
  const values: Record<string, number[]> = {};
  const wrt: string[] = [];
  let seed = 11;
  for (const [name, inp] of Object.entries(s.inputs)) {
    const dt = inp.dtype ?? dtype;
    values[name] = inp.values ?? spaced(numel(inp.dims), seed++);
    if (values[name].length !== numel(inp.dims)) throw new Error(`gradcheck: input '${name}' has ${values[name].length} values for [${inp.dims}]`);
    if (inp.constant) {
      const t = feed(dt, inp.dims, values[name]);
      names[name] = b.initializer(name, { dtype: dt, dims: inp.dims, data: t.data as Float64Array | BigInt64Array | Uint8Array | Float32Array });
    } else names[name] = b.input(name, dt, inp.dims);
    if ((inp.wrt ?? (dt === 'float32' || dt === 'float64')) && !inp.constant) wrt.push(name);
  }
  const y = s.build(b, names);
  const r = rng(s.seed ?? 1);
  const shape = b.shape(y) as number[];
  const weights = Array.from({ length: numel(shape) }, () => 2 * r() - 1);
  const R = b.initializer('R', { dtype, dims: shape, data: dtype === 'float64' ? Float64Array.from(weights) : Float32Array.from(weights) });
  const out = b.op1('Identity', [y], {}, { outputs: [OUT] });
  const loss = b.op1('ReduceSum', [b.op1('Mul', [out, R])], { keepdims: 0 }, { outputs: [LOSS] });
  const nForward = b.graph.nodes.length;
  const grads = buildGradients(b, loss, wrt, { target: s.target });
  b.output(loss);
  b.output(out);
  grads.forEach((g) => b.output(g));
  const bytes = encodeModel(b.graph);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const feeds = Object.fromEntries(Object.entries(s.inputs).filter(([, i]) => !i.constant).map(([n, i]) => [n, feed(i.dtype ?? dtype, i.dims, values[n])]));
  const res = await session.run(feeds);
  return {
    output: Array.from(res[OUT].data as Float64Array, Number),
    weights: Array.from(b.graph.initializers.get(R)!.data as Float64Array, Number),
    grads: Object.fromEntries(wrt.map((w, k) => [w, Array.from(res[grads[k]].data as Float64Array, Number)])),
    inputs: values,
    bytes,
    session,
    gradOps: b.graph.nodes.slice(nForward).map((n) => n.opType),
  };
}

export interface Mismatch {
  input: string;
  index: number;
  analytic: number;
  numeric: number;
}

/**
 * Compares the analytic gradient of loss = ReduceSum(op(...) * R) with central differences
 * (loss(x + eps) - loss(x - eps)) / 2 eps for every element of every wrt input. Throws, listing the
 * worst mismatches, when any element is outside tolerance; returns the run for further asserts.
 */
export async function gradcheck(s: GradcheckSettings): Promise<GradcheckRun> {
  const dtype = s.dtype ?? 'float64';
  const eps = s.eps ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const atol = s.atol ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const rtol = s.rtol ?? (dtype === 'float64' ? 1e-5 : 1e-2);
  const run = await runGradients(s);
  const bad: Mismatch[] = [];
  const feedsWith = (name: string, vals: number[]) => Object.fromEntries(Object.entries(s.inputs).filter(([, i]) => !i.constant).map(([n, i]) => [n, feed(i.dtype ?? dtype, i.dims, n === name ? vals : run.inputs[n])]));
  const lossAt = async (name: string, vals: number[]) => Number((await run.session.run(feedsWith(name, vals), [LOSS]))[LOSS].data[0]);
  for (const [name, analytic] of Object.entries(run.grads)) {
    const x = [...run.inputs[name]];
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i];
      x[i] = x0 + eps;
      const up = await lossAt(name, x);
      x[i] = x0 - eps;
      const down = await lossAt(name, x);
      x[i] = x0;
      const numeric = (up - down) / (2 * eps);
      if (!(Math.abs(analytic[i] - numeric) <= atol + rtol * Math.abs(numeric))) bad.push({ input: name, index: i, analytic: analytic[i], numeric });
    }
  }
  if (bad.length) {
    bad.sort((p, q) => Math.abs(q.analytic - q.numeric) - Math.abs(p.analytic - p.numeric));
    const worst = bad.slice(0, 5).map((m) => `${m.input}[${m.index}]: analytic ${m.analytic} vs numeric ${m.numeric}`).join('; ');
    throw new Error(`gradcheck (${dtype}): ${bad.length} element(s) outside atol ${atol} + rtol ${rtol}: ${worst}`);
  }
  return run;
}
