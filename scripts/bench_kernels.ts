/**
 * `node dist/scripts/bench_kernels.js [--threads 1,2] [--rounds 15] [--spinning auto|on|off] [--torch auto|off] [--clock wall|cpu]`
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
import { nchwcBlockSize } from '../src/program/lowering/block_size.js';
import { lowerToNchwc } from '../src/program/lowering/nchwc.js';
import { createSession } from '../src/train/session.js';
import { resolveSpinning, spinPolicy } from '../src/train/spinning.js';

const PYTHON = '/usr/bin/python3';
/**
 * 'wall': elapsed ms. 'cpu': CPU ms of the whole process (all threads) per run, which moves far less while
 * other processes load the machine; at 1 thread without spinning it is the kernels' own time.
 */
let CLOCK: 'wall' | 'cpu' = 'wall';
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

type Part = 'fwd' | 'dx' | 'dw' | 'both';

/**
 * One layer's graph: the forward Conv, or the gradient parts our rule emits (dX, dW + dB, or forward and
 * all of them); `nchwc` lowers it as a CPU session runs it. 'dwSwapped' is dW as one Conv with the batch as
 * the channels (the output gradient as a Ho x Wo filter over X), for the NCHWc weight-gradient question.
 */
function graph(l: Layer, part: Part | 'dwSwapped', nchwc: boolean): Uint8Array {
  const b = new GraphBuilder(`conv_${part}`);
  const x = b.input('x', 'float32', [BATCH, l.c, l.h, l.h]);
  const w = b.input('w', 'float32', [l.m, l.c, 3, 3]);
  const bias = b.input('bias', 'float32', [l.m]);
  // Only each result's first element leaves onnxruntime: copying whole tensors out to JavaScript would
  // cost more than the smaller convolutions themselves.
  const first = (t: string) => b.output(b.op1('Slice', [b.op1('Reshape', [t, b.constant([-1], 'int64')]), b.constant([0], 'int64'), b.constant([1], 'int64')]));
  if (part === 'dwSwapped') {
    const dy = b.input('dy', 'float32', [BATCH, l.m, l.h, l.h]);
    const swap = { perm: [1, 0, 2, 3] };
    first(b.op1('Transpose', [b.op1('Conv', [b.op1('Transpose', [x], swap), b.op1('Transpose', [dy], swap)], { pads: [1, 1, 1, 1] })], swap));
  } else {
    const y = b.op1('Conv', [x, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    const node = b.graph.nodes.at(-1)!;
    if (part === 'fwd' || part === 'both') first(y);
    if (part !== 'fwd') {
      const dy = b.input('dy', 'float32', [BATCH, l.m, l.h, l.h]);
      const needs = [l.dx && part !== 'dw', part !== 'dx', part !== 'dx'];
      // The CPU graphs' formulations where the graph is lowered for the CPU (GradTarget), else the portable ones.
      const grads = ruleFor('Conv')!.grad!({ b, needs, target: nchwc ? 'cpu' : 'portable' }, node, [dy]);
      for (const g of grads) if (g) first(g);
      // A gradient part alone: drop the forward Conv nothing reads.
      if (part !== 'both') b.graph.nodes.splice(b.graph.nodes.indexOf(node), 1);
    }
  }
  const block = nchwcBlockSize();
  return encodeModel(nchwc && block ? lowerToNchwc(b.graph, block) : b.graph);
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

/**
 * After a run, each worker of a session's intra-op pool spins for up to 2^20 pauses (onnxruntime's
 * WorkerLoop; tens of ms here) before it sleeps. Sessions taking turns every few ms would then run beside
 * the previous session's spinning workers, which take the cores they need: with 2 threads, every kernel
 * measured 1.5-3x slower than with 1. So with spinning on and more than one thread, wait this long first.
 */
const SPIN_SETTLE_MS = 100;

/** Median ms of each session, their rounds interleaved so that a load spell on the shared machine hits all alike. */
async function medianMsEach(sessions: ort.InferenceSession[], feeds: Record<string, ort.Tensor>[], rounds: number, settleMs: number): Promise<number[]> {
  for (let k = 0; k < sessions.length; k++) for (let i = 0; i < 2; i++) await sessions[k].run(feeds[k]);
  const times = sessions.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sessions.length; k++) {
      if (settleMs) {
        await new Promise((done) => setTimeout(done, settleMs));
        await sessions[k].run(feeds[k]);
      }
      const [t0, c0] = [performance.now(), process.cpuUsage()];
      await sessions[k].run(feeds[k]);
      const c = process.cpuUsage(c0);
      times[k].push(CLOCK === 'cpu' ? (c.user + c.system) / 1000 : performance.now() - t0);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
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
  const r = spawnSync(PYTHON, [script, String(threads), String(rounds), spec, CLOCK], {
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
    options: { threads: { type: 'string', default: '1,2' }, rounds: { type: 'string', default: '15' }, spinning: { type: 'string', default: 'auto' }, torch: { type: 'string', default: 'auto' }, clock: { type: 'string', default: 'wall' } },
  });
  CLOCK = values.clock === 'cpu' ? 'cpu' : 'wall';
  const rounds = Number(values.rounds);
  const policy = spinPolicy(values.spinning);
  const cell = (ms: number, gf: number) => `${ms.toFixed(2)} (${Math.round(gf / (ms / 1000))})`;
  console.log(`NCHWc block: ${nchwcBlockSize() || 'none (no lowering)'}; ${CLOCK === 'cpu' ? 'CPU ' : ''}ms (GFLOP/s), median of ${rounds} interleaved rounds`);
  console.log('| layer (batch 64, 3x3) | threads | std fwd | nchwc fwd | torch fwd | std dX | nchwc dX | dW+dB (Gemm) | dW+dB by rows (cpu) | dW swapped nchwc | std fwd+bwd | nchwc fwd+bwd | torch fwd+bwd |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const totals = new Map<string, { std: number; nchwc: number; torch: number }>();
  for (const threads of values.threads.split(',').map(Number)) {
    const { spinning } = await resolveSpinning(policy, threads);
    const torch = values.torch === 'off' ? null : torchTimes(threads, rounds);
    for (const l of LAYERS) {
      const opts = { device: 'cpu' as const, threads, spinning };
      const feeds: Record<string, ort.Tensor> = {
        x: new ort.Tensor('float32', filled(BATCH * l.c * l.h * l.h, 1), [BATCH, l.c, l.h, l.h]),
        w: new ort.Tensor('float32', filled(l.m * l.c * 9, 2), [l.m, l.c, 3, 3]),
        bias: new ort.Tensor('float32', filled(l.m, 3), [l.m]),
      };
      const withDy = { ...feeds, dy: new ort.Tensor('float32', filled(BATCH * l.m * l.h * l.h, 4), [BATCH, l.m, l.h, l.h]) };
      const time = async (variants: [Part | 'dwSwapped', boolean][]) => {
        const sessions = await Promise.all(variants.map(([part, nchwc]) => createSession(graph(l, part, nchwc), opts)));
        const ms = await medianMsEach(sessions, variants.map(([part]) => (part === 'fwd' ? feeds : withDy)), rounds, spinning && threads > 1 ? SPIN_SETTLE_MS : 0);
        await Promise.all(sessions.map((s) => s.release()));
        return ms;
      };
      const [fwd, fwdN, both, bothN] = await time([['fwd', false], ['fwd', true], ['both', false], ['both', true]]);
      const [dx, dxN] = l.dx ? await time([['dx', false], ['dx', true]]) : [NaN, NaN];
      const [dw, dwRows, dwS] = await time([['dw', false], ['dw', true], ['dwSwapped', true]]);
      const t = torch?.get(`${l.c},${l.m},${l.h},${l.dx ? 1 : 0}`);
      const f = gflop(l);
      const fb = f * (l.dx ? 3 : 2);
      const c = (ms: number, gf: number) => (Number.isNaN(ms) ? '-' : cell(ms, gf));
      console.log(`| ${l.models} ${l.c}->${l.m} @${l.h}x${l.h}${l.dx ? '' : ' (no dX)'} | ${threads} | ${c(fwd, f)} | ${c(fwdN, f)} | ${t ? cell(t.fwd, f) : '-'} | ${c(dx, f)} | ${c(dxN, f)} | ${c(dw, f)} | ${c(dwRows, f)} | ${c(dwS, f)} | ${c(both, fb)} | ${c(bothN, fb)} | ${t ? cell(t.fwdBwd, fb) : '-'} |`);
      const key = `${l.models}, ${threads} thread${threads > 1 ? 's' : ''}`;
      const sum = totals.get(key) ?? { std: 0, nchwc: 0, torch: 0 };
      sum.std += both;
      sum.nchwc += bothN;
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
  for (const [key, s] of totals) console.log(`  ${key}: standard ${s.std.toFixed(2)}, nchwc ${s.nchwc.toFixed(2)}, torch ${Number.isNaN(s.torch) ? '-' : s.torch.toFixed(2)}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
