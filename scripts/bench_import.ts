/**
 * `node dist/scripts/bench_import.js [--model mobilenet_v2] [--size 224] [--batch 32] [--steps 3] [--rounds 3] [--threads 1] [--torch-tuned]`
 *
 * An imported torchvision model's training step in onnxtrain against the same step in PyTorch. The model
 * (scripts/import_models.py's MODELS, torch.manual_seed(0)) is exported in training mode at 3 x size x size
 * by scripts/bench_import_torch.py, imported with importOnnx and compiled as `train` does (train_step graph,
 * the CPU lowering, `threads` intra-op threads); PyTorch runs zero_grad/forward/backward/Adam.step on the
 * same module and batch with torch.set_num_threads(threads). Each round times `steps` steps of each, ours
 * first, after one untimed step (PyTorch in a fresh process per round). Prints the load time (import +
 * compile + sessions) and per step the median wall and CPU ms over all rounds. --torch-tuned runs PyTorch with
 * BENCHMARKS.md's GLIBC_TUNABLES (malloc keeps its freed blocks).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/data/rng.js';
import { importOnnx } from '../src/import/index.js';
import { encodeModel } from '../src/onnx/model.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { compileGraphSet } from '../src/program/compile.js';
import { compile } from '../src/train/program.js';
import { createSession } from '../src/train/session.js';
import { nodeCount } from '../src/graph/ir.js';

const TORCH_SCRIPT = fileURLToPath(new URL('../../scripts/bench_import_torch.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = () => os.loadavg().map((v) => v.toFixed(1)).join(' ');

/** BENCHMARKS.md's "torch tuned": glibc keeps freed blocks instead of returning them to the kernel each step. */
const TUNED = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824';

function python(tuned: boolean, ...args: string[]): string {
  const env = tuned ? { ...process.env, GLIBC_TUNABLES: TUNED } : process.env;
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`bench_import_torch.py ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** scripts/import_models.py's batch: x[b, j] = sin(0.37 j + 1.3 b) for b < 4, repeated to n; labels 3 b mod 10. */
function fixedBatch(size: number, n: number) {
  const f = 3 * size * size;
  const images = new Float32Array(n * f);
  const labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const b = i % 4;
    for (let j = 0; j < f; j++) images[i * f + j] = Math.sin(0.37 * j + 1.3 * b);
    labels[i] = BigInt((3 * b) % 10);
  }
  return { images, labels, n };
}

async function main() {
  const { values: a } = parseArgs({
    options: {
      model: { type: 'string', default: 'mobilenet_v2' },
      size: { type: 'string', default: '224' },
      batch: { type: 'string', default: '32' },
      steps: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '1' },
      'torch-tuned': { type: 'boolean', default: false },
    },
  });
  const [size, n, steps, rounds, threads] = [a.size, a.batch, a.steps, a.rounds, a.threads].map(Number);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onnxtrain-bench-import-'));
  try {
    const tuned = a['torch-tuned']!;
    python(false, 'export', dir, a.model!, String(size));
    console.log(`${a.model} 3x${size}x${size}, batch ${n}, ${threads} thread(s), ${steps} steps x ${rounds} rounds, ours and PyTorch interleaved; load average ${load()}`);
    const t0 = performance.now();
    const model = importOnnx(new Uint8Array(readFileSync(path.join(dir, `${a.model}.onnx`))));
    const t1 = performance.now();
    const set = compileGraphSet({ def: model.def, optimizer: defaultOptimizerSettings('adam') });
    const stepGraph = set.graphFor('train_step', 'cpu');
    const stepBytes = encodeModel(stepGraph);
    encodeModel(set.graphFor('validation', 'cpu'));
    const t2 = performance.now();
    const session = await createSession(stepBytes, { device: 'cpu', threads, nodes: nodeCount(stepGraph) });
    const tSession = performance.now() - t2;
    await session.release();
    const t2b = performance.now();
    const program = await compile(model.def, { graphKind: 'step', threads });
    const t3 = performance.now();
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(`ours: import ${s(t1 - t0)}; train_step + validation graphs built and encoded ${s(t2 - t1)}; train_step.onnx (${(stepBytes.length / 1e6).toFixed(1)} MB, ${stepGraph.nodes.length} nodes) loads in onnxruntime in ${s(tSession)}; compile() as train runs it (graphs + sessions) ${s(t3 - t2b)}`);
    const batch = fixedBatch(size, n);
    const rng = Rng.fromSeed(0, 'noise');
    const shape = [3, size, size];
    await program.sessions.trainStep(batch, shape, 1e-3, rng);
    const ours = { ms: [] as number[], cpu: [] as number[] };
    const torch = { ms: [] as number[], cpu: [] as number[] };
    let torchVersion = '';
    for (let r = 0; r < rounds; r++) {
      for (let s = 0; s < steps; s++) {
        const [w0, c0] = [performance.now(), process.cpuUsage()];
        await program.sessions.trainStep(batch, shape, 1e-3, rng);
        const c = process.cpuUsage(c0);
        ours.ms.push(performance.now() - w0);
        ours.cpu.push((c.user + c.system) / 1000);
      }
      const t = JSON.parse(python(tuned, 'time', a.model!, String(size), String(n), String(threads), String(steps)));
      torch.ms.push(...t.ms);
      torch.cpu.push(...t.cpu_ms);
      torchVersion = t.torch;
      console.log(`round ${r + 1}: ours ${median(ours.ms.slice(-steps)).toFixed(0)} ms, torch ${median(t.ms).toFixed(0)} ms (load ${load()})`);
    }
    await program.release();
    const row = (name: string, x: { ms: number[]; cpu: number[] }) => `${name.padEnd(16)} ${median(x.ms).toFixed(0).padStart(7)} ms  ${median(x.cpu).toFixed(0).padStart(7)} CPU ms   (wall ${Math.min(...x.ms).toFixed(0)}-${Math.max(...x.ms).toFixed(0)})`;
    console.log(row('onnxtrain', ours));
    console.log(row(`torch ${torchVersion}${tuned ? ' tuned' : ''}`, torch));
    console.log(`ours / torch: ${(median(ours.ms) / median(torch.ms)).toFixed(2)} wall, ${(median(ours.cpu) / median(torch.cpu)).toFixed(2)} CPU; load average ${load()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
