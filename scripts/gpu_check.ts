/**
 * `node dist/scripts/gpu_check.js [--models simple-mlp,basic-cnn,complex-cnn] [--devices cpu,webgpu,cuda]
 *  [--limit N] [--epochs 1] [--parity-steps 5] [--data-dir DIR] [--content-digests FILE] [--out report.md]`
 *
 * The device check, one call on a machine with a GPU (scripts/gpu-check.sh unpacks what it needs and
 * runs it; README "GPU"). Per model and provider that starts:
 *   - placement: the run's placement line (nodes on the provider, op types left to the CPU, copies/step);
 *   - training: `--epochs` epochs of the library's fit on real Fashion-MNIST, from the same weights and
 *     batches as the cpu: s/epoch (and per 50k-image epoch when --limit trims it), epoch-1 train loss
 *     against the cpu's, validation accuracy, peak GPU memory (nvidia-smi, sampled every 100 ms);
 *   - parity: `--parity-steps` optimizer steps of 64 real images from the same weights on the provider and
 *     on the cpu: the largest step-loss difference and parameter difference (each tensor's, relative to
 *     its largest value), Adam's eps raised to 1e-4 as in the parity tests; and complex-cnn --batchnorm
 *     under SGD: the BatchNorm running statistics (and how far they moved from 0 / 1).
 * Prints Markdown and writes it to --out. Only the library is imported (no plots: no sharp).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { prepareData, type PreparedData } from '../src/data/prepare.js';
import { Rng } from '../src/data/rng.js';
import type { Tensor } from '../src/graph/tensor.js';
import { initialWeights } from '../src/models/init.js';
import { buildModelDef, datasetOf, isModelName, MODEL_NAMES, type ModelName, type ModelOptions } from '../src/models/registry.js';
import { defaultOptimizerSettings, type OptimizerKind } from '../src/optim/index.js';
import { compileGraphSet } from '../src/program/compile.js';
import { zeroState } from '../src/program/signature.js';
import { placementLine, runPlacement } from '../src/train/device/placement.js';
import { probeProvider, type Provider } from '../src/train/device/probe.js';
import { trainTensors } from '../src/train/epoch.js';
import { fit } from '../src/train/fit.js';
import { compile } from '../src/train/program.js';
import { TrainSessions } from '../src/train/sessions.js';

const PROVIDERS: Provider[] = ['cpu', 'webgpu', 'cuda'];
const BATCH = 64;

export function parseGpuCheckArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string', default: 'simple-mlp,basic-cnn,complex-cnn' }, devices: { type: 'string' }, limit: { type: 'string' },
      epochs: { type: 'string', default: '1' }, 'parity-steps': { type: 'string', default: '5' }, 'data-dir': { type: 'string' }, 'content-digests': { type: 'string' }, out: { type: 'string' },
    },
  });
  const models = values.models.split(',');
  for (const m of models) if (!isModelName(m)) throw new Error(`--models: unknown model '${m}': use ${MODEL_NAMES.join(', ')}`);
  const devices = values.devices?.split(',') as Provider[] | undefined;
  for (const d of devices ?? []) if (!PROVIDERS.includes(d)) throw new Error(`--devices: unknown provider '${d}': use ${PROVIDERS.join(', ')}`);
  const int = (name: string, v: string | undefined, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  return {
    models: models as ModelName[], devices, limit: int('limit', values.limit, 2 * BATCH), epochs: int('epochs', values.epochs, 1)!,
    paritySteps: int('parity-steps', values['parity-steps'], 1)!, dataDir: values['data-dir'], out: values.out,
    contentDigests: values['content-digests'] ? (JSON.parse(readFileSync(values['content-digests'], 'utf8')) as Record<string, string>) : undefined,
  };
}

/** Peak GPU memory (MiB, all processes) while `fn` runs, from nvidia-smi; null without one. */
async function withPeakMemory<T>(fn: () => Promise<T>): Promise<{ value: T; peak: number | null }> {
  if (spawnSync('nvidia-smi', ['-L']).status !== 0) return { value: await fn(), peak: null };
  let peak = 0;
  const smi = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '100']);
  smi.stdout.on('data', (b: Buffer) => {
    for (const v of b.toString().split('\n')) if (v.trim()) peak = Math.max(peak, Number(v));
  });
  try {
    return { value: await fn(), peak };
  } finally {
    smi.kill();
  }
}

const largest = (t: Tensor) => (t.data as Float32Array).reduce((m: number, v) => Math.max(m, Math.abs(Number(v))), 0);
function relDiff(a: Tensor, b: Tensor): number {
  const scale = largest(b) || 1;
  let worst = 0;
  for (let i = 0; i < b.data.length; i++) worst = Math.max(worst, Math.abs(Number(a.data[i]) - Number(b.data[i])) / scale);
  return worst;
}

interface Parity { lossRel: number; paramRel: number; worst: string; running?: { rel: number; moved: number } }

/** `steps` steps of BATCH real images from the same weights on `device` and on the cpu. */
async function parity(model: ModelName, options: Partial<ModelOptions>, optimizer: OptimizerKind, device: Provider, data: PreparedData, steps: number): Promise<Parity> {
  // Adam's eps as in test/gpu/parity.test.ts (1e-4): with 1e-8, Adam turns the rounding noise of a near-zero
  // gradient into a step of up to lr of either sign, and the comparison would measure that noise.
  const set = compileGraphSet({ def: buildModelDef(model, options), optimizer: defaultOptimizerSettings(optimizer, optimizer === 'adam' ? { eps: 1e-4 } : {}) });
  const t = trainTensors(data.train.split);
  steps = Math.min(steps, Math.floor(data.train.indices.length / BATCH));
  const indices = BigInt64Array.from(data.train.indices.slice(0, steps * BATCH), (v) => BigInt(v));
  const weights = initialWeights(set.signature.all, 0);
  const out = [];
  for (const d of ['cpu', device] as const) {
    const s = await TrainSessions.create(set, { device: d, graphKind: 'loop' });
    try {
      s.load(weights, zeroState(set.signature), 0);
      const r = await s.trainLoop({ data: { images: t.images, labels: t.labels }, indices, rows: steps, batch: BATCH, lr: optimizer === 'sgd' ? 0.05 : 1e-3, rng: Rng.fromSeed(0, 'noise') });
      await s.syncHost();
      out.push({ losses: Array.from(r.losses), weights: s.weights() });
    } finally {
      await s.release();
    }
  }
  const [cpu, gpu] = out;
  const lossRel = Math.max(...cpu.losses.map((l, i) => Math.abs(gpu.losses[i] - l) / Math.abs(l)));
  let paramRel = 0;
  let worst = '';
  const running = { rel: 0, moved: 0 };
  for (const [name, c] of cpu.weights) {
    if (c.dtype === 'int64') continue;
    const r = relDiff(gpu.weights.get(name)!, c);
    if (r > paramRel) [paramRel, worst] = [r, name];
    if (/running_(mean|var)$/.test(name)) {
      running.rel = Math.max(running.rel, r);
      const init = name.endsWith('mean') ? 0 : 1;
      running.moved = Math.max(running.moved, ...Array.from(gpu.weights.get(name)!.data as Float32Array, (v) => Math.abs(v - init)));
    }
  }
  return { lossRel, paramRel, worst, running: options.batchNorm ? running : undefined };
}

const exp = (v: number) => v.toExponential(1);

async function main(): Promise<void> {
  const a = parseGpuCheckArgs(process.argv.slice(2));
  const lines: string[] = [];
  const say = (l: string) => {
    console.log(l);
    lines.push(l);
  };
  const devices: Provider[] = ['cpu'];
  for (const d of a.devices ?? PROVIDERS.filter((p) => p !== 'cpu')) {
    if (d === 'cpu') continue;
    const p = await probeProvider(d);
    say(`- ${d}: ${p.ok ? `starts${p.software ? ' (software Vulkan: SwiftShader/lavapipe)' : ''}` : `does not start: ${p.error}`}`);
    if (p.ok) devices.push(d);
  }
  const gpu = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  if (gpu.status === 0) say(`- GPU: ${gpu.stdout.trim()}`);
  say(`- data: Fashion-MNIST${a.contentDigests ? ` as packed (${a.dataDir})` : ''}${a.limit ? `, first ${a.limit} training images` : ''}; batch ${BATCH}, Adam lr 1e-3, ${a.epochs} epoch(s); node ${process.version}`);

  const placements: string[] = [];
  const parities: string[] = [];
  say('');
  say('| model | device | s/epoch | s per 50k-image epoch | train loss | vs cpu (rel) | val acc | peak GPU MiB |');
  say('|---|---|---|---|---|---|---|---|');
  for (const model of a.models) {
    // contentDigests reaches the Fashion-MNIST loader (FashionMnistSettings): the files scripts/gpu-check.sh packs are the first images only.
    const settings = { seed: 0, limit: a.limit, dataDir: a.dataDir, download: false, contentDigests: a.contentDigests, log: () => {} };
    const data = await prepareData(datasetOf(model), settings);
    let cpuLoss = NaN;
    for (const device of devices) {
      try {
        const program = await compile(buildModelDef(model), { device, seed: 0 });
        try {
          if (device !== 'cpu') placements.push(`- ${model} on ${device}: ${placementLine(await runPlacement(program.graphs, device, { batch: BATCH, graphKind: 'loop' }), device)}`);
          const { value: h, peak } = await withPeakMemory(() => fit(program, data.train, { epochs: a.epochs, batchSize: BATCH, validation: data.val, seed: 0, log: () => {} }));
          const m = h.epochs[0];
          const secs = h.epochs.reduce((s, e) => s + e.seconds, 0) / h.epochs.length;
          if (device === 'cpu') cpuLoss = m.trainLoss;
          const rel = device === 'cpu' ? '-' : exp(Math.abs(m.trainLoss - cpuLoss) / cpuLoss);
          const full = a.limit ? (secs * 50000) / data.train.indices.length : secs;
          say(`| ${model} | ${device} | ${secs.toFixed(2)} | ${full.toFixed(1)} | ${m.trainLoss.toFixed(6)} | ${rel} | ${(m.valAcc * 100).toFixed(2)}% | ${peak ?? '-'} |`);
        } finally {
          await program.release();
        }
        if (device !== 'cpu') {
          const p = await parity(model, {}, 'adam', device, data, a.paritySteps);
          parities.push(`| ${model} (Adam, eps 1e-4) | ${device} | ${exp(p.lossRel)} | ${exp(p.paramRel)} (${p.worst}) | - |`);
        }
      } catch (e) {
        say(`| ${model} | ${device} | failed: ${(e as Error).message.split('\n')[0]} | | | | | |`);
      }
    }
    if (model === 'complex-cnn') {
      for (const device of devices.filter((d) => d !== 'cpu')) {
        try {
          const p = await parity(model, { batchNorm: true }, 'sgd', device, data, a.paritySteps);
          parities.push(`| complex-cnn --batchnorm (SGD) | ${device} | ${exp(p.lossRel)} | ${exp(p.paramRel)} (${p.worst}) | ${exp(p.running!.rel)}, moved ${p.running!.moved.toFixed(3)} |`);
        } catch (e) {
          parities.push(`| complex-cnn --batchnorm (SGD) | ${device} | failed: ${(e as Error).message.split('\n')[0]} | | |`);
        }
      }
    }
  }
  say('');
  say('Placement (per training graph: nodes on the provider, copies per optimizer step, op types left to the CPU):');
  placements.forEach(say);
  say('');
  say(`Parity, ${a.paritySteps} steps of ${BATCH} real images from the same weights, against the cpu (largest relative difference):`);
  say('');
  say('| model | device | step loss | parameters (worst tensor) | BatchNorm running mean/var |');
  say('|---|---|---|---|---|');
  parities.forEach(say);
  if (a.out) writeFileSync(a.out, lines.join('\n') + '\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'))) {
  main().catch((e: Error) => {
    console.error(`gpu-check: ${e.message}`);
    process.exit(1);
  });
}
