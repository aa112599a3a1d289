/**
 * `node dist/scripts/bench_kernels.js [--threads 1,2] [--rounds 15] [--spinning auto|on|off] [--torch auto|off]`
 *
 * Convolution kernels alone, layer by layer (every 3x3 convolution of basic-cnn, complex-cnn and cifar10-cnn,
 * batch 64): onnxruntime's Conv forward, and forward + our gradient rule (dX where training needs it, dW,
 * dB) as `train` builds them, against PyTorch's conv2d forward and forward + autograd on the same shapes and
 * threads. It shows how much of the CNN gap to PyTorch is the convolution kernels themselves (MLAS im2col +
 * GEMM against oneDNN's direct convolution) rather than the rest of the step.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { ruleFor } from '../src/ops/index.js';
import { GraphBuilder } from '../src/graph/builder.js';
import { encodeModel } from '../src/onnx/model.js';
import { createSession } from '../src/train/session.js';
import { resolveSpinning, spinPolicy } from '../src/train/spinning.js';

const PYTHON = '/usr/bin/python3';
const BATCH = 64;

interface Layer { models: string; c: number; m: number; h: number; dx: boolean }

/** Every distinct 3x3 "same" convolution of the seed CNNs; the first layer of each needs no dX. */
export const LAYERS: Layer[] = [
  { models: 'basic-cnn', c: 1, m: 16, h: 28, dx: false },
  { models: 'basic-cnn', c: 16, m: 32, h: 14, dx: true },
  { models: 'complex-cnn', c: 1, m: 32, h: 28, dx: false },
  { models: 'complex-cnn', c: 32, m: 32, h: 28, dx: true },
  { models: 'complex-cnn', c: 32, m: 64, h: 14, dx: true },
  { models: 'complex-cnn', c: 64, m: 64, h: 14, dx: true },
  { models: 'cifar10-cnn', c: 3, m: 32, h: 32, dx: false },
  { models: 'cifar10-cnn', c: 32, m: 32, h: 32, dx: true },
  { models: 'cifar10-cnn', c: 32, m: 64, h: 16, dx: true },
  { models: 'cifar10-cnn', c: 64, m: 64, h: 16, dx: true },
];

/** Multiply-adds x 2 of the forward convolution; the backward is 2x that with dX, 1x without. */
const gflop = (l: Layer) => (2 * BATCH * l.c * l.m * 9 * l.h * l.h) / 1e9;

function graphs(l: Layer): { fwd: Uint8Array; both: Uint8Array } {
  const build = (withGrad: boolean) => {
    const b = new GraphBuilder(withGrad ? 'conv_fwd_bwd' : 'conv_fwd');
    const x = b.input('x', 'float32', [BATCH, l.c, l.h, l.h]);
    const w = b.input('w', 'float32', [l.m, l.c, 3, 3]);
    const bias = b.input('bias', 'float32', [l.m]);
    const y = b.op1('Conv', [x, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const node = b.graph.nodes.at(-1)!;
    // Only each result's first element leaves onnxruntime: copying whole tensors out to JavaScript would
    // cost more than the smaller convolutions themselves.
    const first = (t: string) => b.output(b.op1('Slice', [b.op1('Reshape', [t, b.constant([-1], 'int64')]), b.constant([0], 'int64'), b.constant([1], 'int64')]));
    first(y);
    if (withGrad) {
      const dy = b.input('dy', 'float32', [BATCH, l.m, l.h, l.h]);
      const grads = ruleFor('Conv')!.grad!({ b, needs: [l.dx, true, true] }, node, [dy]);
      for (const g of grads) if (g) first(g);
    }
    return encodeModel(b.graph);
  };
  return { fwd: build(false), both: build(true) };
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

async function medianMs(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, rounds: number): Promise<number> {
  await session.run(feeds);
  await session.run(feeds);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function torchTimes(threads: number, rounds: number): Map<string, { fwd: number; fwdBwd: number }> | null {
  if (!existsSync(PYTHON)) return null;
  const spec = LAYERS.map((l) => `${l.c},${l.m},${l.h},${l.dx ? 1 : 0}`).join(';');
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'bench_kernels_torch.py');
  const r = spawnSync(PYTHON, [script, String(threads), String(rounds), spec], {
    encoding: 'utf8',
    env: { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824' },
  });
  if (r.status !== 0) {
    if (/No module named 'torch'/.test(r.stderr)) return null;
    throw new Error(`bench_kernels_torch.py failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  }
  const out = new Map<string, { fwd: number; fwdBwd: number }>();
  for (const line of r.stdout.trim().split('\n')) {
    const j = JSON.parse(line) as { layer: string; fwd: number; fwdBwd: number };
    out.set(j.layer, j);
  }
  return out;
}

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { threads: { type: 'string', default: '1,2' }, rounds: { type: 'string', default: '15' }, spinning: { type: 'string', default: 'auto' }, torch: { type: 'string', default: 'auto' } },
  });
  const rounds = Number(values.rounds);
  const policy = spinPolicy(values.spinning);
  const cell = (ms: number, gf: number) => `${ms.toFixed(2)} (${Math.round(gf / (ms / 1000))})`;
  console.log('| layer (batch 64, 3x3) | threads | GFLOP fwd | ours fwd ms (GFLOP/s) | torch fwd | ours fwd+bwd | torch fwd+bwd |');
  console.log('|---|---|---|---|---|---|---|');
  const totals = new Map<string, { ours: number; torch: number }>();
  for (const threads of values.threads.split(',').map(Number)) {
    const { spinning } = await resolveSpinning(policy, threads);
    const torch = values.torch === 'off' ? null : torchTimes(threads, rounds);
    for (const l of LAYERS) {
      const g = graphs(l);
      const opts = { device: 'cpu' as const, threads, spinning };
      const feeds: Record<string, ort.Tensor> = {
        x: new ort.Tensor('float32', filled(BATCH * l.c * l.h * l.h, 1), [BATCH, l.c, l.h, l.h]),
        w: new ort.Tensor('float32', filled(l.m * l.c * 9, 2), [l.m, l.c, 3, 3]),
        bias: new ort.Tensor('float32', filled(l.m, 3), [l.m]),
      };
      const fwdSession = await createSession(g.fwd, opts);
      const fwd = await medianMs(fwdSession, feeds, rounds);
      await fwdSession.release();
      const bothSession = await createSession(g.both, opts);
      const both = await medianMs(bothSession, { ...feeds, dy: new ort.Tensor('float32', filled(BATCH * l.m * l.h * l.h, 4), [BATCH, l.m, l.h, l.h]) }, rounds);
      await bothSession.release();
      const t = torch?.get(`${l.c},${l.m},${l.h},${l.dx ? 1 : 0}`);
      const f = gflop(l);
      const fb = f * (l.dx ? 3 : 2);
      console.log(`| ${l.models} ${l.c}->${l.m} @${l.h}x${l.h}${l.dx ? '' : ' (no dX)'} | ${threads} | ${f.toFixed(3)} | ${cell(fwd, f)} | ${t ? cell(t.fwd, f) : '-'} | ${cell(both, fb)} | ${t ? cell(t.fwdBwd, fb) : '-'} |`);
      const key = `${l.models}, ${threads} thread${threads > 1 ? 's' : ''}`;
      const sum = totals.get(key) ?? { ours: 0, torch: 0 };
      sum.ours += both;
      sum.torch += t?.fwdBwd ?? NaN;
      totals.set(key, sum);
    }
  }
  console.log('\nonnxruntime MatMul alone (MLAS SGEMM), M x K x N:');
  for (const threads of values.threads.split(',').map(Number)) {
    const { spinning } = await resolveSpinning(policy, threads);
    for (const [m, k, n] of [[1024, 1024, 1024], [576, 12544, 64], [12544, 576, 64], [64, 576, 12544]]) {
      const b = new GraphBuilder('matmul');
      b.output(b.op1('Slice', [b.op1('Reshape', [b.op1('MatMul', [b.input('a', 'float32', [m, k]), b.input('b', 'float32', [k, n])]), b.constant([-1], 'int64')]), b.constant([0], 'int64'), b.constant([1], 'int64')]));
      const session = await createSession(encodeModel(b.graph), { device: 'cpu', threads, spinning });
      const ms = await medianMs(session, { a: new ort.Tensor('float32', filled(m * k, 5), [m, k]), b: new ort.Tensor('float32', filled(k * n, 6), [k, n]) }, rounds);
      await session.release();
      console.log(`  ${m} x ${k} x ${n}, ${threads} thread${threads > 1 ? 's' : ''}: ${cell(ms, (2 * m * k * n) / 1e9)}`);
    }
  }
  console.log('\nconvolutions forward + backward, summed over a model\'s layers (ms per step):');
  for (const [key, s] of totals) console.log(`  ${key}: ours ${s.ours.toFixed(2)}, torch ${Number.isNaN(s.torch) ? '-' : s.torch.toFixed(2)}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
