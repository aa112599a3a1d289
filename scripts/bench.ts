/**
 * `npm run bench [-- models...] [--quick] [--epochs-frac F] [--threads 1,2] [--spinning auto|off|on|both]
 *  [--repeats R] [--torch auto|off] [--graphs cpu|portable|both] [--json FILE]`

 * --graphs: the graphs a CPU session runs (`cpu`, the default: convolutions lowered to onnxruntime's NCHWc
 * kernels where this machine has them), the portable ai.onnx graphs (`portable`), or both, their runs
 * interleaved (one timed run of each in turn).
 *
 * --threads sets onnxruntime's intra-op threads and PyTorch's torch.set_num_threads alike; without it
 * each uses its own default (onnxruntime: one per core; this Debian PyTorch: 1).
 *
 * Seconds per epoch and samples per second of training each seed model through onnxtrain's TrainSessions
 * (train_loop graph in chunks of 100 steps, as `train` runs), and, when /usr/bin/python3 has torch, the
 * same model, initial weights and batches in PyTorch, plain and with glibc's malloc tunables. Each
 * figure is the median of --repeats timed runs from the same initial state, one run of each side in turn
 * (ours, PyTorch plain, PyTorch tuned) so that a spell of load on a shared machine hits them alike; CPU seconds (all threads)
 * are printed beside wall seconds because they move far less when others load the machine.
 * See BENCHMARKS.md.
 */
import { resolveSpinning, type SpinPolicy } from '../src/train/spinning.js';
import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { signature } from '../src/program/signature.js';
import { initialWeights } from '../src/models/init.js';
import { buildModelDef, isModelName, MODEL_NAMES, type ModelName } from '../src/models/registry.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { benchData, epochBatches, writeTorchInputs } from './bench_data.js';
import { timeOurs, type Graphs, type Timing } from './bench_ours.js';

const PYTHON = '/usr/bin/python3';
const TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824';
const BATCH = 64;

/** Command-line settings; each default documented. */
interface BenchSettings {
  models: ModelName[];
  /** Fraction of an epoch (781 steps of 64) timed per run. Default 1; --quick 0.03. */
  epochsFrac: number;
  /** Thread counts to measure; undefined = each library's default. Default [undefined]. */
  threads: (number | undefined)[];
  /** Spinning policies to measure ('auto' as `train` resolves it). Default ['auto']. */
  spinning: SpinPolicy[];
  /** Timed repetitions per figure (the median is reported). Default 3; --quick 1. */
  repeats: number;
  /** Run PyTorch when available. Default true. */
  torch: boolean;
  /** Which of our graphs run: the CPU-lowered ones, the portable ones, or both. Default ['cpu']. */
  graphs: Graphs[];
  json?: string;
}

function parse(argv: string[]): BenchSettings {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      'epochs-frac': { type: 'string' },
      threads: { type: 'string' },
      spinning: { type: 'string', default: 'auto' },
      repeats: { type: 'string' },
      torch: { type: 'string', default: 'auto' },
      graphs: { type: 'string', default: 'cpu' },
      json: { type: 'string' },
    },
  });
  for (const m of positionals) if (!isModelName(m)) throw new Error(`unknown model '${m}': use any of ${MODEL_NAMES.join(', ')}`);
  const frac = Number(values['epochs-frac'] ?? (values.quick ? 0.03 : 1));
  if (!(frac > 0 && frac <= 1)) throw new Error(`--epochs-frac must be in (0, 1], got ${values['epochs-frac']}`);
  const repeats = Number(values.repeats ?? (values.quick ? 1 : 3));
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new Error(`--repeats must be a positive integer, got ${values.repeats}`);
  const threads = values.threads === undefined ? [undefined] : values.threads.split(',').map((t) => {
    const n = Number(t);
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--threads takes positive integers separated by commas (e.g. 1,2), got '${t}'`);
    return n;
  });
  const spinning = ({ auto: ['auto'], off: ['off'], on: ['on'], both: ['off', 'on'] } as Record<string, SpinPolicy[]>)[values.spinning];
  if (!spinning) throw new Error(`--spinning must be auto, off, on or both, got '${values.spinning}'`);
  if (values.torch !== 'auto' && values.torch !== 'off') throw new Error(`--torch must be auto or off, got '${values.torch}'`);
  const graphs = ({ cpu: ['cpu'], portable: ['portable'], both: ['cpu', 'portable'] } as Record<string, Graphs[]>)[values.graphs];
  if (!graphs) throw new Error(`--graphs must be cpu, portable or both, got '${values.graphs}'`);
  return {
    models: positionals.length ? (positionals as ModelName[]) : [...MODEL_NAMES],
    epochsFrac: frac, threads, spinning, repeats, torch: values.torch === 'auto', graphs, json: values.json,
  };
}

function torchVersion(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** PyTorch's timing, with the thread count it ran on. */
type TorchTiming = Timing & { threads: number };

function timeTorch(dir: string, model: ModelName, threads: number | undefined, repeats: number, tuned: boolean): TorchTiming {
  const env = { ...process.env };
  if (tuned) env.GLIBC_TUNABLES = TUNABLES;
  else delete env.GLIBC_TUNABLES;
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'bench_torch.py');
  const r = spawnSync(PYTHON, [script, dir, model, String(threads ?? 0), String(repeats)], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench_torch.py failed for ${model}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  return { seconds: out.seconds, cpuSeconds: out.cpu_seconds, steps: out.steps, meanLoss: out.mean_loss, threads: out.threads };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row {
  model: ModelName;
  config: string;
  steps: number;
  stepsPerEpoch: number;
  ours: Timing;
  torchPlain?: TorchTiming;
  torchTuned?: TorchTiming;
}

const perEpoch = (t: Timing, stepsPerEpoch: number) => (median(t.seconds) / t.steps) * stepsPerEpoch;
const cpuPerEpoch = (t: Timing, stepsPerEpoch: number) => (median(t.cpuSeconds) / t.steps) * stepsPerEpoch;
const rate = (t: Timing) => (t.steps * BATCH) / median(t.seconds);

function formatTable(rows: Row[]): string {
  const head = ['model', 'config', 'steps', 'ours s/epoch', 'ours samples/s', 'torch s/epoch', 'torch samples/s', 'torch tuned s/epoch', 'torch tuned samples/s', 'CPU s/epoch ours / torch tuned', 'mean loss ours / torch'];
  const cell = (t: Timing | undefined, f: (t: Timing) => number, d: number) => (t ? f(t).toFixed(d) : '-');
  const lines = rows.map((r) => [
    r.model, r.config, String(r.steps),
    perEpoch(r.ours, r.stepsPerEpoch).toFixed(2), rate(r.ours).toFixed(0),
    cell(r.torchPlain, (t) => perEpoch(t, r.stepsPerEpoch), 2), cell(r.torchPlain, rate, 0),
    cell(r.torchTuned, (t) => perEpoch(t, r.stepsPerEpoch), 2), cell(r.torchTuned, rate, 0),
    `${cpuPerEpoch(r.ours, r.stepsPerEpoch).toFixed(2)} / ${cell(r.torchTuned, (t) => cpuPerEpoch(t, r.stepsPerEpoch), 2)}`,
    `${r.ours.meanLoss.toFixed(4)} / ${r.torchTuned ? r.torchTuned.meanLoss.toFixed(4) : '-'}`,
  ]);
  const md = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [md(head), md(head.map(() => '---')), ...lines.map(md)].join('\n');
}

async function main() {
  const s = parse(process.argv.slice(2));
  const tv = s.torch ? torchVersion() : null;
  const cores = availableParallelism();
  console.error(`bench: ${s.models.join(', ')}; ${s.epochsFrac} epoch per run, median of ${s.repeats}; ${cores} cores; PyTorch ${tv ?? 'not used'}`);
  const rows: Row[] = [];
  for (const model of s.models) {
    const def = buildModelDef(model);
    const data = await benchData(def);
    const sig = signature({ def, optimizer: defaultOptimizerSettings('adam') });
    const weights = initialWeights(sig.all, 0);
    const { stepsPerEpoch } = epochBatches(data.train.n, BATCH, 0);
    const steps = Math.max(2, Math.round(stepsPerEpoch * s.epochsFrac));
    const { indices } = epochBatches(data.train.n, BATCH, steps);
    const dir = join(tmpdir(), `onnxtrain-bench-${process.pid}`, model);
    if (tv) await writeTorchInputs(dir, data, indices, BATCH, weights);
    for (const threads of s.threads) {
      for (const policy of s.spinning) {
        const { spinning } = await resolveSpinning(policy, threads);
        const config = `ort threads ${threads ?? `default(${cores})`}, spinning ${policy === 'auto' ? `auto (${spinning ? 'on' : 'off'})` : policy}`;
        console.error(`${model} (${data.source}), ${steps} steps, ${config} ...`);
        // One timed run of each graph kind in turn, and of PyTorch plain and tuned (which has no spinning switch:
        // timed with the first policy only), so that a spell of load hits them all alike.
        const withTorch = tv !== null && policy === s.spinning[0];
        const timings = s.graphs.map((): Timing[] => []);
        const torchRuns: { plain: TorchTiming[]; tuned: TorchTiming[] } = { plain: [], tuned: [] };
        for (let r = 0; r < s.repeats; r++) {
          for (const [k, graphs] of s.graphs.entries()) {
            timings[k].push(await timeOurs({ def, data, weights, indices, batch: BATCH, threads, spinning, repeats: 1, graphs }));
          }
          if (withTorch) {
            torchRuns.plain.push(timeTorch(dir, model, threads, 1, false));
            torchRuns.tuned.push(timeTorch(dir, model, threads, 1, true));
          }
        }
        const merged = <T extends Timing>(runs: T[]): T => ({ ...runs[0], seconds: runs.flatMap((t) => t.seconds), cpuSeconds: runs.flatMap((t) => t.cpuSeconds) });
        const byKind = s.graphs.map((graphs, k): Row => ({ model, config: `${config}, ${graphs} graphs`, steps, stepsPerEpoch, ours: merged(timings[k]) }));
        if (withTorch) {
          const [torchPlain, torchTuned] = [merged(torchRuns.plain), merged(torchRuns.tuned)];
          for (const row of byKind) Object.assign(row, { torchPlain, torchTuned, config: `${row.config}; torch threads ${torchTuned.threads}` });
        }
        rows.push(...byKind);
        for (const row of byKind) console.error(formatTable([row]).split('\n').at(-1));
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
  await rm(join(tmpdir(), `onnxtrain-bench-${process.pid}`), { recursive: true, force: true });
  console.log(formatTable(rows));
  if (s.json) await writeFile(s.json, JSON.stringify({ date: new Date().toISOString(), cores, torch: tv, settings: s, rows }, null, 1));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
