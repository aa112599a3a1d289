/**
 * Runs an experiment's variants, each for one or more seeds, into runs/experiments/<name>/<variant>/seed-<s>/
 * (resuming), then writes its report. runOne and writeExperimentReport are shared with the queue (queue.ts).
 */
import { existsSync } from 'node:fs';
import { readdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CIFAR10_ARCHIVE, CIFAR10_BASE_URL, CIFAR10_BATCH_DIR } from '../data/cifar10.js';
import { DATASETS, type DatasetName } from '../data/datasets.js';
import { displayPath } from '../data/paths.js';
import { buildModelDef, datasetOf } from '../models/registry.js';
import { layerRows } from '../models/summary.js';
import { parameterCount, signature } from '../program/signature.js';
import { NonFiniteLoss } from '../train/callbacks/index.js';
import { resolveSettings, resumeSettings } from '../train/resolve_settings.js';
import { runFile } from '../train/run_dir.js';
import { Interrupted, train } from '../train/run.js';
import type { Device } from '../train/session.js';
import type { TrainSettings } from '../train/settings.js';
import { makeDir, readJson, writeJsonAtomic } from '../util/fsx.js';
import { LOCK_FILE, lockFolder } from '../util/lock.js';
import { findExperiment, type Experiment, type Variant } from './catalog.js';
import { gradientNorms } from './gradnorms.js';
import { readRunRow, writeReport, type ReportRow } from './report.js';

export interface ExperimentSettings {
  /** An experiment of the catalog (see --list). */
  name: string;
  /** Epochs for every run. Default: each model's default (20; cifar10-cnn 10). */
  epochs?: number;
  /** Train on the first N training images only (quick runs). Default: all. */
  limit?: number;
  /** Only these variants (folder names). Default: all. */
  only?: string[];
  /** Folder that holds one folder per experiment. Default runs/experiments. */
  root?: string;
  /** Folder holding the dataset folders fashion-mnist/ and cifar10/. Default data. */
  dataRoot?: string;
  /** Download missing datasets. Default true. */
  download?: boolean;
  /** The first seed. Default 0. */
  seed?: number;
  /** Seeds per variant: seed, seed + 1, ..., seed + seeds - 1. Default 1. */
  seeds?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** onnxruntime intra-op threads. Default: onnxruntime's choice. */
  threads?: number;
  /** Default console.log. */
  log?: (line: string) => void;
  /** Progress bar stream; null: none. Default process.stderr. */
  progress?: NodeJS.WriteStream | null;
  /** Stop (as Ctrl-C does) a run after this many optimizer steps in this call, ending the experiment there; tests use it. */
  stopAfterSteps?: number;
  /** Stops the run in progress after its current chunk (Ctrl-C); it resumes when the experiment runs again. */
  signal?: AbortSignal;
}

export interface ExperimentResult {
  dir: string;
  rows: ReportRow[];
  files: string[];
  /** Runs (`<variant>/seed-<s>`) by what happened in this call. */
  trained: string[];
  resumed: string[];
  skipped: string[];
  missing: string[];
}

/** Raised when a stop request interrupted a run: the experiment continues from there when run again. */
export class ExperimentInterrupted extends Error {
  override name = 'ExperimentInterrupted';
}

const DIVERGED = 'diverged.json';

/** One (variant, seed) training run of an experiment. */
export interface PlannedRun {
  variant: Variant;
  seed: number;
  /** `<experiment dir>/<variant>/seed-<s>`. */
  runDir: string;
  /** `<variant>/seed-<s>`. */
  id: string;
}

/** What became of a run: its report status, and what this call did. */
export interface RunOutcome {
  status: ReportRow['status'];
  note?: string;
  action: 'trained' | 'resumed' | 'skipped' | 'missing';
}

/** The experiment folder: `<root>/<name>`. */
export const experimentDir = (es: Pick<ExperimentSettings, 'root' | 'name'>): string => join(es.root ?? join('runs', 'experiments'), es.name);

export function seedList(es: Pick<ExperimentSettings, 'seed' | 'seeds'>): number[] {
  return Array.from({ length: es.seeds ?? 1 }, (_, i) => (es.seed ?? 0) + i);
}

/** Every run, seed by seed (so an interrupted experiment holds whole seeds to compare). */
export function planRuns(exp: Experiment, es: ExperimentSettings, dir: string): PlannedRun[] {
  const variants = selectVariants(exp, es.only);
  return seedList(es).flatMap((seed) => variants.map((variant) => ({ variant, seed, runDir: join(dir, variant.name, `seed-${seed}`), id: `${variant.name}/seed-${seed}` })));
}

/** The variant the report compares the others with: the declared one if it runs, else the first that runs. */
export function baselineOf(exp: Experiment, es: Pick<ExperimentSettings, 'only'>): string {
  const variants = selectVariants(exp, es.only);
  return variants.find((v) => v.name === exp.baseline)?.name ?? variants[0].name;
}

export async function runExperiment(es: ExperimentSettings): Promise<ExperimentResult> {
  const exp = findExperiment(es.name);
  const dir = experimentDir({ ...es, name: exp.name });
  await makeDir(dir);
  const unlock = await lockFolder(dir, `experiment ${exp.name}`);
  try {
    return await runLocally(es, exp, dir);
  } finally {
    await unlock();
  }
}

async function runLocally(es: ExperimentSettings, exp: Experiment, dir: string): Promise<ExperimentResult> {
  const log = es.log ?? ((line: string) => console.log(line));
  const runs = planRuns(exp, es, dir);
  await adoptSingleSeedRuns(dir, selectVariants(exp, es.only), log);
  const result: ExperimentResult = { dir, rows: [], files: [], trained: [], resumed: [], skipped: [], missing: [] };
  const outcomes = new Map<string, RunOutcome>();
  const datasets = datasetChecker(log);
  for (const run of runs) {
    const outcome = await runOne(exp, run, es, datasets, log);
    if (outcome.action === 'trained' || outcome.action === 'resumed' || outcome.action === 'skipped' || outcome.action === 'missing') result[outcome.action].push(run.id);
    outcomes.set(run.id, outcome);
  }
  const report = await writeExperimentReport(exp, es, dir, runs, outcomes);
  log(`Report: ${join(dir, 'report.md')} and report.html`);
  return { ...result, ...report };
}

/** Whether each dataset loads, asked once per dataset. */
export function datasetChecker(log: (line: string) => void): (s: TrainSettings) => Promise<string | null> {
  const known = new Map<DatasetName, Promise<string | null>>();
  return (s) => {
    const name = datasetOf(s.model);
    if (!known.has(name)) known.set(name, datasetProblem(name, s, log));
    return known.get(name)!;
  };
}

/**
 * Trains one run into its folder, resumes it, or skips it when it is finished (or diverged earlier).
 * Throws ExperimentInterrupted after a stop request (the run saved), and any error that is not a divergence.
 */
export async function runOne(exp: Experiment, run: PlannedRun, es: ExperimentSettings, datasetProblemOf: (s: TrainSettings) => Promise<string | null>,
  log: (line: string) => void): Promise<RunOutcome> {
  const { runDir, variant: v } = run;
  const s = variantSettings(v, { ...es, seed: run.seed }, runDir);
  const problem = await datasetProblemOf(s);
  if (problem) {
    log(`[${exp.name}] ${run.id}: skipped, ${buildModelDef(s.model, s.options).dataset.name} is missing`);
    return { status: 'missing-data', note: problem, action: 'missing' };
  }
  if (existsSync(join(runDir, DIVERGED))) {
    return { status: 'diverged', note: (await readJson<{ message: string }>(join(runDir, DIVERGED))).message, action: 'skipped' };
  }
  const state = await runState(runDir, s);
  let action: RunOutcome['action'] = 'skipped';
  if (state === 'finished') {
    log(`[${exp.name}] ${run.id}: finished earlier, skipped`);
  } else {
    log(`[${exp.name}] ${run.id}: ${state === 'resume' ? 'resuming' : 'training'} ${v.label}, seed ${run.seed}`);
    action = state === 'resume' ? 'resumed' : 'trained';
    const settings = state === 'resume'
      ? await resumeSettings(runDir, { epochs: s.epochs, device: s.device, threads: s.threads, dataDir: s.dataDir, download: s.download, log: s.log, progress: es.progress })
      : s;
    try {
      await train({ ...settings, stopAfterSteps: es.stopAfterSteps }, state === 'resume' ? { dir: runDir } : undefined, es.signal);
    } catch (e) {
      if (e instanceof Interrupted) throw new ExperimentInterrupted(interruptedMessage(exp, runDir, es));
      if (!(e instanceof NonFiniteLoss)) throw e;
      log(`[${exp.name}] ${run.id}: ${e.message}`);
      await writeJsonAtomic(join(runDir, DIVERGED), { message: e.message });
      return { status: 'diverged', note: e.message, action };
    }
  }
  if (exp.gradientNorms && !existsSync(join(runDir, 'gradnorms.json'))) {
    await writeJsonAtomic(join(runDir, 'gradnorms.json'), await gradientNorms(runDir, s));
  }
  return { status: 'done', action };
}

/** The report from the run folders, with each run's outcome (a run without one: read as done). */
export async function writeExperimentReport(exp: Experiment, es: ExperimentSettings, dir: string, runs: PlannedRun[],
  outcomes: Map<string, Pick<RunOutcome, 'status' | 'note'>>): Promise<{ rows: ReportRow[]; files: string[] }> {
  const byVariant = [...new Set(runs.map((r) => r.variant))];
  const rows: ReportRow[] = [];
  // Rows by variant, then seed: the runs table reads as one block per variant.
  for (const v of byVariant) {
    for (const run of runs.filter((r) => r.variant === v)) {
      const s = variantSettings(v, { ...es, seed: run.seed }, run.runDir);
      const outcome = outcomes.get(run.id) ?? { status: 'done' };
      rows.push(await readRunRow(run.runDir, { variant: v.name, label: v.label, model: s.model, seed: run.seed, parameters: parameters(s), status: outcome.status, note: outcome.note }));
    }
  }
  const seeds = seedList(es);
  const limit = es.limit ? `, first ${es.limit} training images (--limit)` : '';
  const epochs = es.epochs ? `${es.epochs} epoch${es.epochs === 1 ? '' : 's'}` : 'default epochs (20; cifar10-cnn 10)';
  const seedText = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds[0]}–${seeds.at(-1)} (${seeds.length} per variant)`;
  const files = await writeReport(dir, rows, {
    experiment: exp, seeds, baseline: baselineOf(exp, es),
    settingsLine: `Runs: ${epochs}${limit}, ${seedText}; run folders in ${displayPath(dir)}/<variant>/seed-<seed>/.`,
  });
  return { rows, files };
}

/**
 * Before --seeds, a variant's run lived in `<variant>/` itself. Such a run becomes `<variant>/seed-<its seed>/`
 * (its files moved, under the folder's lock), so it counts as that seed's run and is not trained again.
 */
export async function adoptSingleSeedRuns(dir: string, variants: Variant[], log: (line: string) => void): Promise<void> {
  for (const v of variants) {
    const old = join(dir, v.name);
    if (!existsSync(runFile(old, 'config'))) continue;
    const { seed } = await readJson<{ seed: number }>(runFile(old, 'config'));
    const target = join(old, `seed-${seed}`);
    if (existsSync(target) && (await readdir(target)).length) throw new Error(`${old} holds both a single-seed run (seed ${seed}) and ${target}: move one of them away, then run the experiment again`);
    const unlock = await lockFolder(old, 'moving a single-seed run into its seed folder');
    try {
      const entries = (await readdir(old)).filter((e) => e !== LOCK_FILE && !/^seed-\d+$/.test(e));
      await makeDir(target);
      for (const e of entries) await rename(join(old, e), join(target, e));
    } finally {
      await unlock();
    }
    log(`[${basename(dir)}] ${v.name}: moved its single-seed run into seed-${seed}/ (runs now live in <variant>/seed-<seed>/)`);
  }
}

export function selectVariants(exp: Experiment, only?: string[]): Variant[] {
  if (!only?.length) return exp.variants;
  for (const o of only) {
    if (!exp.variants.some((v) => v.name === o)) throw new Error(`experiment '${exp.name}' has no variant '${o}': use ${exp.variants.map((v) => v.name).join(', ')}`);
  }
  return exp.variants.filter((v) => only.includes(v.name));
}

/** The full settings of a variant's run (es.seed: this run's seed). */
export function variantSettings(v: Variant, es: ExperimentSettings, out: string): TrainSettings {
  const s: TrainSettings = { ...resolveSettings(v.settings), out };
  if (es.epochs !== undefined) s.epochs = es.epochs;
  if (es.limit !== undefined) s.limit = es.limit;
  if (es.seed !== undefined) s.seed = es.seed;
  if (es.device) s.device = es.device;
  s.threads = es.threads;
  s.dataDir = es.dataRoot === undefined ? undefined : join(es.dataRoot, datasetOf(s.model));
  s.download = es.download;
  s.log = es.log ?? s.log;
  s.progress = es.progress;
  return s;
}

/**
 * A run's work, for ordering runs longest first: multiply-adds per image (forward; the backward is about
 * twice that, alike for every model) times the images it trains on. Only the order matters.
 */
export function runCost(s: TrainSettings): number {
  const macs = layerRows(buildModelDef(s.model, s.options)).reduce((a, r) => a + r.macs, 0);
  const images = Math.min(s.limit ?? Infinity, DATASETS[datasetOf(s.model)].trainImages);
  return macs * images * s.epochs;
}

function parameters(s: TrainSettings): number {
  return parameterCount(signature({ def: buildModelDef(s.model, s.options), optimizer: s.optimizer }));
}

/**
 * finished: results.json is there and the run has the epochs asked for (or stopped early); resume: a
 * checkpoint is there; new: nothing yet. A run made with another --limit is an error, not a silent mix.
 */
export async function runState(runDir: string, s: TrainSettings): Promise<'finished' | 'resume' | 'new'> {
  if (!existsSync(runFile(runDir, 'config'))) return 'new';
  const cfg = await readJson<{ limit: number | null; seed: number; epochs: number }>(runFile(runDir, 'config'));
  const other = (flag: string, was: unknown) => new Error(`${runDir} was trained with ${flag} ${was ?? '(none)'}: pass the same ${flag}, or another --out to run the experiment anew there`);
  if ((cfg.limit ?? undefined) !== s.limit) throw other('--limit', cfg.limit);
  if (cfg.seed !== s.seed) throw other('--seed', cfg.seed);
  if (existsSync(runFile(runDir, 'results'))) {
    const r = await readJson<{ epochs: number; stopped: string }>(runFile(runDir, 'results'));
    if (r.stopped !== 'early-stopping' && r.epochs > s.epochs) throw other('--epochs', r.epochs);
    if (r.stopped === 'early-stopping' || r.epochs >= s.epochs) return 'finished';
  }
  return existsSync(runFile(runDir, 'last')) ? 'resume' : 'new';
}

/** The command that continues `es`, e.g. `npm run experiment -- depth --epochs 2 --seeds 3`. */
export function experimentCommandLine(es: ExperimentSettings): string {
  const flags = [
    es.root !== undefined ? `--out ${es.root}` : '', es.epochs !== undefined ? `--epochs ${es.epochs}` : '', es.limit !== undefined ? `--limit ${es.limit}` : '',
    es.seed ? `--seed ${es.seed}` : '', es.seeds && es.seeds > 1 ? `--seeds ${es.seeds}` : '', es.only?.length ? `--only ${es.only.join(' ')}` : '',
    es.dataRoot !== undefined ? `--data-dir ${es.dataRoot}` : '',
  ].filter(Boolean).join(' ');
  return `npm run experiment -- ${es.name}${flags ? ' ' + flags : ''}`;
}

function interruptedMessage(exp: Experiment, runDir: string, es: ExperimentSettings): string {
  return `interrupted in ${runDir}: run \`${experimentCommandLine({ ...es, name: exp.name })}\` again to continue (finished runs are skipped)`;
}

/** null when the dataset loads (downloading it if allowed); else what is wrong and how to get it. */
async function datasetProblem(name: DatasetName, s: TrainSettings, log: (line: string) => void): Promise<string | null> {
  try {
    // --data-dir names the folder that holds one folder per dataset: each dataset's folder is made there.
    if (s.dataDir && existsSync(dirname(s.dataDir))) await makeDir(s.dataDir);
    await DATASETS[name].load({ dataDir: s.dataDir, download: s.download, log });
    return null;
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    if (name === 'cifar10') {
      const where = displayPath(s.dataDir ?? join('data', 'cifar10'));
      const why = message.startsWith('CIFAR-10 is missing') ? `no ${CIFAR10_BATCH_DIR}/ or ${CIFAR10_ARCHIVE} there, downloads off` : message;
      return `CIFAR-10 could not be loaded from ${where}/ (${why}). To get it, download ${CIFAR10_BASE_URL}${CIFAR10_ARCHIVE} (170 MB) into ${where}/, `
        + `or let onnxtrain download it (drop --no-download; needs internet access); then run this experiment again: finished runs are skipped.`;
    }
    const why = message;
    return `Fashion-MNIST is not available (${why}). To get it, \`apt-get install dataset-fashion-mnist\` or allow downloads into data/fashion-mnist/, then run this experiment again.`;
  }
}
