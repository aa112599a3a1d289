/**
 * `node dist/scripts/parity.js <model> [--seed 0] [--epochs N] [--compare-steps S] [--threads T]
 *  [--torch-threads 2] [--limit N] [--out DIR] [--reuse-ours] [--reuse-torch]`;  `node dist/scripts/parity.js --summary <parity.json>...`
 *
 * Accuracy parity with PyTorch: the same model, initial weights, train/validation split and every
 * epoch's batch order, trained by onnxtrain's `train` and by the reference PyTorch loop
 * (scripts/parity_torch.py). The split, orders and weights come from the library functions the trainer
 * itself calls (prepareData, epochOrder on the 'shuffle' stream carried across epochs, planBatches,
 * initialWeights), so both sides see identical inputs. Besides per-epoch validation accuracy and final
 * test accuracy side by side, the first `compare-steps` step losses of epoch 1 are compared one by one:
 * onnxtrain's come from its TrainSessions driven over the same batches in the trainer's chunks. See ACCURACY.md.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { compileGraphSet } from '../src/program/compile.js';
import { signature, zeroState, type GraphSettings } from '../src/program/signature.js';
import { encodeSafetensors } from '../src/artifacts/safetensors.js';
import { epochOrder, planBatches } from '../src/data/batches.js';
import { normalizationTable } from '../src/data/normalize.js';
import { Rng } from '../src/data/rng.js';
import { buildModelDef, isModelName, MODEL_NAMES, type ModelName } from '../src/models/registry.js';
import { initialWeights } from '../src/models/init.js';
import type { Tensor } from '../src/graph/tensor.js';
import type { EpochMetrics } from '../src/report/metrics.js';
import { resolveSettings } from '../src/train/resolve_settings.js';
import { loadDataset } from '../src/data/datasets.js';
import { prepareData, type PreparedData } from '../src/data/prepare.js';
import { TrainSessions } from '../src/train/sessions.js';
import type { TrainSettings } from '../src/train/settings.js';
import { train, type TrainResult } from '../src/train/run.js';

export const PYTHON = '/usr/bin/python3';
const TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824';

/** What to compare; each default documented. */
export interface ParitySettings {
  model: ModelName;
  /** Seeds weights, split and shuffles (as `train --seed`). Default 0. */
  seed: number;
  /** Default: the model's reference epochs (20; 10 for cifar10-cnn). */
  epochs?: number;
  /** Epoch-1 step losses compared one by one. Default 20. */
  compareSteps: number;
  /** onnxruntime intra-op threads. Default: onnxruntime's choice, as `train`. */
  threads?: number;
  /** torch.set_num_threads. Default 2. */
  torchThreads: number;
  /** First N training images only (as `train --limit`): quick checks. Default: all. */
  limit?: number;
  /** Folder for the inputs, both runs and parity.json. Default runs/parity/<model>-seed<seed>-<time>. */
  out?: string;
  /**
   * Take onnxtrain's epochs and test result from the finished run already in <out>/onnxtrain (same
   * settings) instead of training again: reruns the PyTorch side only. Default false.
   */
  reuseOurs?: boolean;
  /**
   * Take PyTorch's side from <out>/parity.json of an earlier comparison with the same model, seed and epochs
   * instead of running it again: reruns onnxtrain only (after a change to onnxtrain). Default false.
   */
  reuseTorch?: boolean;
  /** Progress lines. Default console.error. */
  log: (line: string) => void;
}

export const defaultParitySettings = (model: ModelName): ParitySettings => ({ model, seed: 0, compareSteps: 20, torchThreads: 2, log: (l) => console.error(l) });

interface Side {
  history: EpochMetrics[];
  test: { loss: number; acc: number; n: number };
  /** Losses of the first compareSteps steps of epoch 1. */
  stepLosses: number[];
  seconds: number;
}

export interface ParityResult {
  model: ModelName;
  seed: number;
  epochs: number;
  batchSize: number;
  split: { train: number; val: number; test: number };
  ours: Side & { runDir: string };
  torch: Side & { version: string; threads: number };
  /** Largest |ours - torch| over the compared step losses. */
  maxStepLossDiff: number;
  out: string;
}

/** Split indices, every epoch's order and the raw images, written for parity_torch.py (see its docstring). */
async function writeTorchInputs(dir: string, s: ParitySettings, data: PreparedData, orders: Int32Array[], weights: Map<string, Tensor>, meta: Record<string, unknown>) {
  const def = buildModelDef(s.model);
  const raw = await loadDataset(def.dataset.name);
  // prepareData without --limit uses the loaded sets whole; with it, the first N (and N/6 test) images.
  const size = data.all.channels * data.all.height * data.all.width;
  const train = { images: raw.train.images.subarray(0, data.all.n * size), labels: raw.train.labels.subarray(0, data.all.n) };
  const test = { images: raw.test.images.subarray(0, data.test.n * size), labels: raw.test.labels.subarray(0, data.test.n) };
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const all = new Int32Array(orders.reduce((n, o) => n + o.length, 0));
  orders.forEach((o, e) => all.set(o, e * o.length));
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'train_images.u8'), train.images),
    writeFile(join(dir, 'train_labels.u8'), train.labels),
    writeFile(join(dir, 'test_images.u8'), test.images),
    writeFile(join(dir, 'test_labels.u8'), test.labels),
    writeFile(join(dir, 'train_idx.i32'), bytes(data.train.indices)),
    writeFile(join(dir, 'val_idx.i32'), bytes(data.val.indices)),
    writeFile(join(dir, 'orders.i32'), bytes(all)),
    writeFile(join(dir, 'norm_lut.f32'), bytes(normalizationTable(def.dataset.normalization, data.all.channels))),
    writeFile(join(dir, 'weights.safetensors'), encodeSafetensors(weights)),
    writeFile(join(dir, 'meta.json'), JSON.stringify(meta)),
  ]);
}

function runTorch(dir: string): Side & { version: string; threads: number } {
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'parity_torch.py');
  const t0 = performance.now();
  const r = spawnSync(PYTHON, [script, dir], { env: { ...process.env, GLIBC_TUNABLES: TUNABLES }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`parity_torch.py failed (exit ${r.status ?? r.signal}); its messages are above. Check that ${PYTHON} can import torch`);
  const out = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8'));
  return { history: out.history, test: out.test, stepLosses: out.stepLosses, seconds: (performance.now() - t0) / 1000, version: out.torch, threads: out.threads };
}

/** The first `steps` losses of epoch 1 through onnxtrain's Runner, chunked as the trainer chunks (100 steps). */
async function oursStepLosses(s: ParitySettings, gs: GraphSettings, data: PreparedData, order: Int32Array, weights: Map<string, Tensor>, batch: number, chunk: number): Promise<number[]> {
  const set = compileGraphSet(gs);
  const runner = await TrainSessions.create(set, { device: 'cpu', threads: s.threads, spinning: false, graphKind: 'loop' });
  runner.load(weights, zeroState(set.signature), 0);
  const plan = planBatches(order, batch);
  const steps = Math.min(s.compareSteps, plan.steps);
  const t = data.all;
  const tensors = {
    images: new ort.Tensor('float32', t.images, [t.n, t.channels, t.height, t.width]),
    labels: new ort.Tensor('int64', BigInt64Array.from(t.labels, (v) => BigInt(v)), [t.n]),
  };
  const noise = Rng.fromSeed(s.seed, 'dropout');
  const losses: number[] = [];
  for (let k = 0; k < steps; k += chunk) {
    const rows = Math.min(chunk, steps - k);
    const r = await runner.trainLoop({ data: tensors, indices: plan.full.subarray(k * batch, (k + rows) * batch), rows, batch, lr: gs.optimizer.lr, rng: noise });
    losses.push(...r.losses);
  }
  await runner.release();
  return losses;
}

/** The history and test result of a finished run whose config matches `ts` (see ParitySettings.reuseOurs). */
async function finishedRun(dir: string, ts: TrainSettings): Promise<TrainResult> {
  const file = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));
  let cfg, results;
  try {
    [cfg, results] = [file('config.json'), file('results.json')];
  } catch {
    throw new Error(`--reuse-ours: ${dir} holds no finished run (config.json, results.json); run without --reuse-ours`);
  }
  if (cfg.model !== ts.model || cfg.seed !== ts.seed || cfg.epochs !== ts.epochs || cfg.batchSize !== ts.batchSize || (cfg.limit ?? undefined) !== ts.limit) {
    throw new Error(`--reuse-ours: ${dir} was trained with other settings (model ${cfg.model}, seed ${cfg.seed}, ${cfg.epochs} epochs); pass the same ones or drop --reuse-ours`);
  }
  return { runDir: dir, history: file('metrics.json'), test: results.test, stopped: results.stopped };
}

/** PyTorch's side of an earlier parity.json in `out` with the same model, seed and epochs (ParitySettings.reuseTorch). */
function earlierTorch(out: string, ts: TrainSettings): ParityResult['torch'] {
  let earlier: ParityResult;
  try {
    earlier = JSON.parse(readFileSync(join(out, 'parity.json'), 'utf8'));
  } catch {
    throw new Error(`--reuse-torch: ${out} holds no parity.json; run without --reuse-torch`);
  }
  if (earlier.model !== ts.model || earlier.seed !== ts.seed || earlier.epochs !== ts.epochs || earlier.batchSize !== ts.batchSize) {
    throw new Error(`--reuse-torch: ${out}/parity.json compared other settings (model ${earlier.model}, seed ${earlier.seed}, ${earlier.epochs} epochs); pass the same ones or drop --reuse-torch`);
  }
  return earlier.torch;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

export async function parity(s: ParitySettings): Promise<ParityResult> {
  const out = s.out ?? join('runs', 'parity', `${s.model}-seed${s.seed}-${stamp()}`);
  const ts = await resolveSettings({ model: s.model, seed: s.seed, epochs: s.epochs, threads: s.threads, limit: s.limit, out: join(out, 'onnxtrain'), progress: null, log: (l) => s.log(`onnxtrain ${l}`) });
  if (ts.optimizer.kind !== 'adam') throw new Error(`parity compares Adam runs; the default optimizer is ${ts.optimizer.kind}`);
  const def = buildModelDef(s.model, ts.options);
  const gs: GraphSettings = { def, optimizer: ts.optimizer, frozen: [] };
  const weights = initialWeights(signature(gs).all, ts.seed);
  const data = await prepareData(def.dataset.name, { seed: ts.seed, valSize: ts.valSize, limit: ts.limit });
  // The trainer draws epoch e's order from the 'shuffle' stream left where epoch e-1 finished.
  const shuffle = Rng.fromSeed(ts.seed, 'shuffle');
  const orders = Array.from({ length: ts.epochs }, () => epochOrder(data.train.indices, shuffle));

  const torchDir = join(out, 'torch');
  const [c, h, w] = def.dataset.inputShape;
  await writeTorchInputs(torchDir, s, data, orders, weights, {
    model: s.model, epochs: ts.epochs, batch: ts.batchSize, threads: s.torchThreads, log_steps: s.compareSteps,
    shape: [c, h, w], n_train: data.all.n, n_test: data.test.n, lr: ts.optimizer.lr,
  });
  s.log(`parity ${s.model} seed ${ts.seed}: ${data.train.indices.length}/${data.val.indices.length}/${data.test.n} images, ${ts.epochs} epochs, batch ${ts.batchSize} -> ${out}`);

  const stepLosses = await oursStepLosses(s, gs, data, orders[0], weights, ts.batchSize, ts.chunkSteps);
  const t0 = performance.now();
  const run = s.reuseOurs ? await finishedRun(ts.out!, ts) : await train(ts);
  const oursSeconds = s.reuseOurs ? run.history.reduce((t, m) => t + m.seconds, 0) : (performance.now() - t0) / 1000;
  if (!run.test) throw new Error('the onnxtrain run has no test set');
  const torch = s.reuseTorch ? earlierTorch(out, ts) : runTorch(torchDir);

  const n = Math.min(stepLosses.length, torch.stepLosses.length);
  const maxStepLossDiff = Math.max(...Array.from({ length: n }, (_, i) => Math.abs(stepLosses[i] - torch.stepLosses[i])));
  const result: ParityResult = {
    model: s.model, seed: ts.seed, epochs: ts.epochs, batchSize: ts.batchSize,
    split: { train: data.train.indices.length, val: data.val.indices.length, test: data.test.n },
    ours: { history: run.history, test: run.test, stepLosses, seconds: oursSeconds, runDir: run.runDir },
    torch, maxStepLossDiff, out,
  };
  await writeFile(join(out, 'parity.json'), JSON.stringify(result, null, 1));
  return result;
}

const pct = (x: number) => (100 * x).toFixed(2);

/** Largest |ours - torch| step loss in steps 1-20, 21-100, 101-...: how fast float rounding differences grow. */
export function stepDiffWindows(r: ParityResult): { from: number; to: number; max: number }[] {
  const n = Math.min(r.ours.stepLosses.length, r.torch.stepLosses.length);
  const d = Array.from({ length: n }, (_, i) => Math.abs(r.ours.stepLosses[i] - r.torch.stepLosses[i]));
  return [[0, 20], [20, 100], [100, n]].filter(([a, b]) => a < Math.min(b, n)).map(([a, b]) => ({ from: a + 1, to: Math.min(b, n), max: Math.max(...d.slice(a, b)) }));
}

/** One row per run: test accuracy of both, the difference, the best validation accuracy, the step-loss agreement. */
export function formatSummary(rs: ParityResult[]): string {
  const md = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const bestVal = (h: EpochMetrics[]) => pct(Math.max(...h.map((m) => m.valAcc)));
  return [
    md(['model', 'seed', 'epochs', 'test acc onnxtrain', 'test acc PyTorch', 'diff (pts)', 'final val acc ours / torch', 'best val acc ours / torch', 'max step-loss diff, steps 1-20']),
    md(['---', '---', '---', '---', '---', '---', '---', '---', '---']),
    ...rs.map((r) => md([r.model, r.seed, r.epochs, pct(r.ours.test.acc), pct(r.torch.test.acc), (100 * (r.ours.test.acc - r.torch.test.acc)).toFixed(2),
      `${pct(r.ours.history.at(-1)!.valAcc)} / ${pct(r.torch.history.at(-1)!.valAcc)}`, `${bestVal(r.ours.history)} / ${bestVal(r.torch.history)}`,
      stepDiffWindows(r)[0].max.toExponential(1)])),
  ].join('\n');
}

/** Markdown: per-epoch validation accuracy, the final test accuracy, and the compared step losses. */
export function formatParity(r: ParityResult): string {
  const md = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    `### ${r.model}, seed ${r.seed}: ${r.epochs} epochs, batch ${r.batchSize}, ${r.split.train}/${r.split.val}/${r.split.test} train/val/test`,
    '',
    md(['epoch', 'train loss ours / torch', 'val loss ours / torch', 'val acc ours', 'val acc torch', 'diff (pts)']),
    md(['---', '---', '---', '---', '---', '---']),
    ...r.ours.history.map((m, i) => {
      const t = r.torch.history[i];
      return md([m.epoch, `${m.trainLoss.toFixed(4)} / ${t.trainLoss.toFixed(4)}`, `${m.valLoss.toFixed(4)} / ${t.valLoss.toFixed(4)}`,
        pct(m.valAcc), pct(t.valAcc), (100 * (m.valAcc - t.valAcc)).toFixed(2)]);
    }),
    '',
    `Test accuracy: onnxtrain ${pct(r.ours.test.acc)}% (loss ${r.ours.test.loss.toFixed(4)}), PyTorch ${r.torch.version} ${pct(r.torch.test.acc)}% ` +
      `(loss ${r.torch.test.loss.toFixed(4)}); difference ${(100 * (r.ours.test.acc - r.torch.test.acc)).toFixed(2)} points. ` +
      `Wall time: onnxtrain ${r.ours.seconds.toFixed(0)} s, PyTorch ${r.torch.seconds.toFixed(0)} s (${r.torch.threads} threads).`,
    '',
    `Epoch-1 step losses: max |diff| ${stepDiffWindows(r).map((w) => `steps ${w.from}-${w.to}: ${w.max.toExponential(1)}`).join(', ')}.`,
    '',
    md(['step', 'onnxtrain', 'PyTorch', '|diff|']),
    md(['---', '---', '---', '---']),
    ...r.ours.stepLosses.slice(0, 20).map((l, i) => md([i + 1, l.toFixed(6), r.torch.stepLosses[i].toFixed(6), Math.abs(l - r.torch.stepLosses[i]).toExponential(1)])),
  ];
  return lines.join('\n');
}

/** Command-line arguments to settings; throws a one-line error naming the bad argument. */
export function parseParityArgs(argv: string[]): ParitySettings {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: 'string' }, epochs: { type: 'string' }, 'compare-steps': { type: 'string' }, threads: { type: 'string' },
      'torch-threads': { type: 'string' }, limit: { type: 'string' }, out: { type: 'string' }, 'reuse-ours': { type: 'boolean', default: false }, 'reuse-torch': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1 || !isModelName(positionals[0])) {
    throw new Error(`give one model: parity.js <model> [--seed 0] [--epochs N]; models: ${MODEL_NAMES.join(', ')}`);
  }
  const int = (name: string, v: string | undefined, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= min)) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  const d = defaultParitySettings(positionals[0]);
  return {
    ...d,
    seed: int('seed', values.seed, 0) ?? d.seed,
    epochs: int('epochs', values.epochs, 1),
    compareSteps: int('compare-steps', values['compare-steps'], 1) ?? d.compareSteps,
    threads: int('threads', values.threads, 1),
    torchThreads: int('torch-threads', values['torch-threads'], 1) ?? d.torchThreads,
    limit: int('limit', values.limit, 2),
    out: values.out,
    reuseOurs: values['reuse-ours'],
    reuseTorch: values['reuse-torch'],
  };
}

/** `parity.js --summary <parity.json>...`: the summary table of finished runs. */
async function summary(files: string[]): Promise<string> {
  if (!files.length) throw new Error('--summary needs parity.json files, e.g. --summary runs/parity/*/parity.json');
  return formatSummary(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as ParityResult));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const argv = process.argv.slice(2);
  Promise.resolve()
    .then(async () => (argv[0] === '--summary' ? summary(argv.slice(1)) : formatParity(await parity(parseParityArgs(argv)))))
    .then((text) => console.log(text))
    .catch((e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
